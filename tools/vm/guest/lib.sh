# shellcheck shell=sh
# Helpers for rvirtio guest test scripts. A script loads them with
#   . "$RVIRTIO_LIB"
# Every helper prints what it checks; a failed check exits the script with
# status 1, which tools/vm/run returns to the host.

# fail MESSAGE...: report a failure and end the script.
fail() {
	echo "FAIL: $*"
	exit 1
}

# step MESSAGE...: say what the script does next.
step() {
	echo "== $*"
}

# check DESCRIPTION COMMAND [ARGS...]: run COMMAND; fail if it fails.
check() {
	_desc=$1
	shift
	if "$@"; then
		echo "ok: $_desc"
	else
		fail "$_desc (command: $*, status $?)"
	fi
}

# expect_eq DESCRIPTION ACTUAL EXPECTED
expect_eq() {
	if [ "$2" = "$3" ]; then
		echo "ok: $1 ($2)"
	else
		fail "$1: got '$2', expected '$3'"
	fi
}

# wait_for PATH [SECONDS]: wait until PATH exists (default 10 s).
wait_for() {
	_n=$((${2:-10} * 10))
	while [ ! -e "$1" ]; do
		_n=$((_n - 1))
		[ $_n -gt 0 ] || fail "timed out waiting for $1"
		sleep 0.1
	done
}

# driver_of PCI-ADDRESS-OR-SYSFS-DEVICE: print the bound driver's name.
driver_of() {
	_d=$1
	[ -e "$_d" ] || _d=/sys/bus/pci/devices/$1
	[ -e "$_d/driver" ] && basename "$(readlink "$_d/driver")"
}

# pci_devices VENDOR DEVICE: print the sysfs paths of matching PCI devices.
pci_devices() {
	for _p in /sys/bus/pci/devices/*; do
		[ "$(cat "$_p/vendor")" = "$1" ] && [ "$(cat "$_p/device")" = "$2" ] && echo "$_p"
	done
}

# kunit_results SUITE: print the KTAP results of a KUnit suite from debugfs.
kunit_results() {
	cat "/sys/kernel/debug/kunit/$1/results"
}
