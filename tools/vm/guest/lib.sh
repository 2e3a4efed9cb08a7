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

# bound_devices DRIVER: print /sys/bus/BUS/devices/NAME of every device
# bound to DRIVER, on any bus (PCI, and platform for virtio-mmio).
bound_devices() {
	for _l in /sys/bus/*/drivers/"$1"/*; do
		[ -e "$_l/driver" ] || continue
		echo "${_l%/drivers/*}/devices/${_l##*/}"
	done
}

# unbind_device DEVICE: unbind the sysfs DEVICE from its driver.
unbind_device() {
	basename "$1" >"$1/driver/unbind"
}

# bind_device DEVICE DRIVER: bind the sysfs DEVICE to DRIVER of its bus.
bind_device() {
	basename "$1" >"${1%/devices/*}/drivers/$2/bind"
}

# mmio_devices: print the sysfs paths of the virtio-mmio transports that
# ACPI describes (LNRO0005 platform devices, QEMU microvm).
mmio_devices() {
	for _p in /sys/bus/platform/devices/LNRO0005:*; do
		[ -e "$_p" ] && echo "$_p"
	done
}

# no_c_virtio_mmio: fails if the kernel's C virtio-mmio transport is loaded
# (tests use the rvirtio one only).
no_c_virtio_mmio() {
	grep -q '^virtio_mmio ' /proc/modules && fail "the C virtio_mmio module is loaded"
	[ -e /sys/module/virtio_mmio ] && fail "the C virtio_mmio module is loaded (/sys/module/virtio_mmio)"
	echo "ok: the C virtio_mmio module is not loaded"
}

# mmio_version: the virtio-mmio version the machine's transports have:
# 2 on the *-v2 machines of tools/vm/run, 1 (QEMU's default) otherwise.
mmio_version() {
	case $RVIRTIO_MACHINE in
	*-v2) echo 2 ;;
	*) echo 1 ;;
	esac
}

# expect_mmio_bound DEVICE DRIVER: the virtio-mmio platform DEVICE is bound
# to DRIVER, whose bind message names the machine's virtio-mmio version.
expect_mmio_bound() {
	expect_eq "$(basename "$1")'s driver" "$(driver_of "$1")" "$2"
	check "$(basename "$1") bound as mmio v$(mmio_version)" dmesg_has "$(basename "$1"): .*mmio v$(mmio_version)"
}

# disk_of PCI-ADDRESS: print the disk of a PCI device.
disk_of() {
	for _d in /sys/block/*; do
		case "$(readlink -f "$_d")" in
		*/"$1"/*) basename "$_d" ;;
		esac
	done
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

# dmesg_has PATTERN: whether the kernel log matches the extended regex.
dmesg_has() {
	dmesg | grep -Eq "$1"
}

# rng_read_1mib: reads 1 MiB from /dev/hwrng and checks the size.
rng_read_1mib() {
	head -c 1048576 /dev/hwrng >/tmp/rng.bin || fail "reading /dev/hwrng failed"
	expect_eq "read 1 MiB from /dev/hwrng" "$(wc -c </tmp/rng.bin)" 1048576
}

# rng_fips [BYTES]: runs rngtest (FIPS 140-2) on BYTES (default 1 MB,
# 400 blocks) from /dev/hwrng; at most one block plus 1% may fail.
rng_fips() {
	head -c "${1:-1000000}" /dev/hwrng | rngtest >/tmp/rngtest.out 2>&1
	_s=$(sed -n 's/.*FIPS 140-2 successes: //p' /tmp/rngtest.out)
	_f=$(sed -n 's/.*FIPS 140-2 failures: //p' /tmp/rngtest.out)
	[ -n "$_s" ] && [ -n "$_f" ] || fail "rngtest printed no result: $(cat /tmp/rngtest.out)"
	[ $((_s + _f)) -gt 0 ] || fail "rngtest tested no block"
	# A true random source fails about 0.08% of FIPS 140-2 blocks, so a
	# short run (rng-partial tests 9 blocks) may fail one: allow one
	# failure plus 1% of the blocks. Broken data fails nearly every block.
	if [ "$_f" -le $((1 + (_s + _f) / 100)) ]; then
		echo "ok: rngtest: $_s of $((_s + _f)) FIPS 140-2 blocks passed"
	else
		fail "rngtest: only $_s of $((_s + _f)) FIPS 140-2 blocks passed"
	fi
}

# no_kernel_errors: fails if the kernel log has a BUG, oops, warning or
# kmemleak report.
no_kernel_errors() {
	if dmesg | grep -E 'BUG:|Oops|WARNING:|general protection|unreferenced object|refcount_t:'; then
		fail "the kernel reported errors (above)"
	fi
	echo "ok: no kernel errors"
}

# nonblock_read_prompt: an O_NONBLOCK read of /dev/hwrng returns within 10 s
# (data, or EAGAIN when nothing is ready): it must never sleep.
nonblock_read_prompt() {
	timeout 10 dd if=/dev/hwrng of=/tmp/nb.bin bs=64 count=1 iflag=nonblock status=none 2>/tmp/nb.err
	_rc=$?
	[ $_rc != 124 ] || fail "an O_NONBLOCK read of /dev/hwrng slept"
	if [ $_rc = 0 ]; then
		echo "ok: O_NONBLOCK read returned $(wc -c </tmp/nb.bin) bytes at once"
	elif grep -q "Resource temporarily unavailable" /tmp/nb.err; then
		echo "ok: O_NONBLOCK read returned EAGAIN at once"
	else
		fail "O_NONBLOCK read failed: $(cat /tmp/nb.err)"
	fi
}

# kmemleak_none_from WHAT: scans twice (an object is reported once it
# stayed unreferenced across scans) and fails when kmemleak lists an
# unreferenced object of rvirtio (printing them), naming WHAT.
kmemleak_none_from() {
	echo scan >/sys/kernel/debug/kmemleak
	sleep 6
	echo scan >/sys/kernel/debug/kmemleak
	if grep -q rvirtio /sys/kernel/debug/kmemleak; then
		cat /sys/kernel/debug/kmemleak
		fail "kmemleak found unreferenced objects of $1 (above)"
	fi
	echo "ok: kmemleak reports nothing from $1 ($(grep -c unreferenced /sys/kernel/debug/kmemleak) unrelated objects)"
}

# qmp JSON: asks the host to send a QMP command to QEMU (tools/vm/qmp-relay
# forwards it); returns at once: wait for its effect.
qmp() {
	echo "RVIRTIO-QMP: $1"
}

# net_ifaces DRIVER: print the network interfaces whose device is bound to
# DRIVER, in PCI address order.
net_ifaces() {
	for _n in /sys/class/net/*; do
		[ -e "$_n/device/driver" ] || continue
		_dev=$(readlink -f "$_n/device")
		# A virtio-net interface hangs off the virtio device; the C
		# driver's parent is the virtio bus device, rvirtio's the PCI one.
		_drv=$(basename "$(readlink "$_n/device/driver")")
		[ "$_drv" = "$1" ] || [ "$(driver_of "${_dev%/*}")" = "$1" ] || continue
		echo "${_dev##*/} ${_n##*/}"
	done | sort | cut -d' ' -f2
}

# net_pair IFACE_A IFACE_B [MTU]: put each interface in a network namespace
# of its own, nsa with 10.0.0.1/24 and nsb with 10.0.0.2/24, both up, so
# traffic between them crosses the devices. Run commands there with
# `ip netns exec nsa ...`.
net_pair() {
	for _ns in nsa nsb; do
		ip netns del $_ns 2>/dev/null
		ip netns add $_ns || fail "ip netns add $_ns"
		ip -n $_ns link set lo up
	done
	ip link set "$1" netns nsa || fail "moving $1 to nsa"
	ip link set "$2" netns nsb || fail "moving $2 to nsb"
	[ -z "${3:-}" ] || { ip -n nsa link set "$1" mtu "$3" && ip -n nsb link set "$2" mtu "$3"; } ||
		fail "setting MTU $3"
	ip -n nsa addr add 10.0.0.1/24 dev "$1"
	ip -n nsb addr add 10.0.0.2/24 dev "$2"
	ip -n nsa link set "$1" up
	ip -n nsb link set "$2" up
	echo "ok: $1 in nsa (10.0.0.1), $2 in nsb (10.0.0.2)"
}

# net_ping_sizes NS ADDR MAX: ping ADDR from namespace NS with payloads of
# many sizes up to MAX bytes (the MTU minus 28); fails on any loss.
net_ping_sizes() {
	for _s in 0 1 56 100 500 1000 1400 "$3"; do
		[ "$_s" -le "$3" ] || continue
		ip netns exec "$1" ping -q -c 2 -W 5 -s "$_s" "$2" >/tmp/ping.out 2>&1 ||
			fail "ping -s $_s $2 from $1: $(cat /tmp/ping.out)"
	done
	echo "ok: ping from $1 to $2, payloads 0 to $3 bytes"
}

# net_wait_ifaces DRIVER N: wait (10 s at most) until DRIVER has N
# interfaces (net_ifaces).
net_wait_ifaces() {
	_n=0
	while [ "$(net_ifaces "$1" | wc -l)" -lt "$2" ]; do
		_n=$((_n + 1))
		[ $_n -lt 100 ] || fail "$1 made $(net_ifaces "$1" | wc -l) interfaces, not $2"
		sleep 0.1
	done
}

# net_listening NS PORT: wait (10 s at most) until a TCP server listens on
# PORT in namespace NS.
net_listening() {
	_n=0
	until ip netns exec "$1" busybox netstat -ltn | grep -q ":$2 "; do
		_n=$((_n + 1))
		[ $_n -lt 100 ] || fail "nothing listens on port $2 in $1"
		sleep 0.1
	done
}

# net_iperf OPTS: iperf3 TCP for 3 s from nsa (10.0.0.1) to nsb
# (10.0.0.2), or back with OPTS -R; prints the rate.
net_iperf() {
	ip netns exec nsb iperf3 -s -1 -D -B 10.0.0.2 >/dev/null || fail "iperf3 server"
	net_listening nsb 5201
	ip netns exec nsa iperf3 -c 10.0.0.2 -t 3 $1 -J >/tmp/iperf.json ||
		fail "iperf3 $1: $(cat /tmp/iperf.json)"
	_bps=$(sed -n 's/.*"bits_per_second":[[:space:]]*\([0-9.e+]*\).*/\1/p' /tmp/iperf.json | tail -n1)
	echo "ok: iperf3 TCP ${1:-(nsa to nsb)}: $_bps bit/s"
}

# net_iperf_udp RATE MAXLOSS [-R]: iperf3 UDP for 3 s at RATE (iperf3's
# -b) from nsa to nsb (back with -R); prints the loss the receiver saw
# and fails when it is above MAXLOSS percent, or when nothing arrived.
net_iperf_udp() {
	ip netns exec nsb iperf3 -s -1 -D -B 10.0.0.2 >/dev/null || fail "iperf3 server"
	net_listening nsb 5201
	ip netns exec nsa iperf3 -c 10.0.0.2 -u -b "$1" -t 3 ${3:-} -J >/tmp/iperf.json ||
		fail "iperf3 -u -b $1 ${3:-}: $(cat /tmp/iperf.json)"
	# The end summary's "sum" (the receiver's view): its last
	# lost_percent and packets.
	_loss=$(sed -n 's/.*"lost_percent":[[:space:]]*\([0-9.e+-]*\).*/\1/p' /tmp/iperf.json | tail -n1)
	_pkts=$(sed -n 's/.*"packets":[[:space:]]*\([0-9]*\).*/\1/p' /tmp/iperf.json | tail -n1)
	[ -n "$_loss" ] && [ "${_pkts:-0}" -gt 0 ] || fail "iperf3 -u -b $1 ${3:-}: no result: $(cat /tmp/iperf.json)"
	echo "ok: iperf3 UDP -b $1 ${3:-(nsa to nsb)}: $_pkts datagrams, $_loss% lost"
	awk -v l="$_loss" -v m="$2" 'BEGIN { exit !(l <= m) }' ||
		fail "iperf3 UDP -b $1 ${3:-}: $_loss% lost, more than $2%"
}

# net_make_file MIB: /tmp/www/send.bin of MIB MiB of random bytes, for
# net_transfer; its sha256 in $net_sum.
net_make_file() {
	mkdir -p /tmp/www
	dd if=/dev/urandom of=/tmp/www/send.bin bs=1M count="$1" 2>/dev/null ||
		fail "making the $1 MiB file"
	net_sum=$(sha256sum </tmp/www/send.bin | cut -d' ' -f1)
}

# net_transfer FROM_NS FROM_ADDR TO_NS: sends /tmp/www/send.bin
# (net_make_file) from namespace FROM_NS to TO_NS over TCP (busybox httpd
# and wget) and fails unless its sha256 at the far end matches.
net_transfer() {
	rm -f /tmp/recv.bin
	ip netns exec "$1" busybox httpd -f -p 8080 -h /tmp/www &
	_httpd=$!
	net_listening "$1" 8080
	ip netns exec "$3" busybox wget -q -O /tmp/recv.bin "http://$2:8080/send.bin" ||
		{ kill $_httpd; fail "wget of the file from $1"; }
	kill $_httpd
	wait $_httpd 2>/dev/null
	expect_eq "sha256 of the file sent over TCP from $1 to $3" \
		"$(sha256sum </tmp/recv.bin | cut -d' ' -f1)" "$net_sum"
	rm -f /tmp/recv.bin
}


# bench_arg NAME DEFAULT: the value of rvbench.NAME= on the kernel command
# line (the benchmarks' parameters, tools/bench/*/run), or DEFAULT.
bench_arg() {
	_v=$(sed -n "s/.*rvbench\.$1=\([A-Za-z0-9_.-]*\).*/\1/p" /proc/cmdline)
	echo "${_v:-$2}"
}

# bind_override DEVICE DRIVER: bind the sysfs DEVICE (unbound) to DRIVER
# through driver_override, whatever DRIVER's ID table says (the benchmarks
# alternate the C and the Rust driver on one device this way).
bind_override() {
	echo "$2" >"$1/driver_override"
	basename "$1" >"${1%/devices/*}/drivers_probe"
	expect_eq "$(basename "$1") bound" "$(driver_of "$1")" "$2"
}

# port_named NAME: the /dev node of the virtio port named NAME (its
# /sys/class/virtio-ports/*/name, with the C virtio_console and with
# rvirtio_console alike); waits up to 20 s.
port_named() {
	_n=0
	while [ $_n -lt 200 ]; do
		for _p in /sys/class/virtio-ports/*; do
			if [ "$(cat "$_p/name" 2>/dev/null)" = "$1" ] && [ -e "/dev/${_p##*/}" ]; then
				echo "/dev/${_p##*/}"
				return 0
			fi
		done
		_n=$((_n + 1))
		sleep 0.1
	done
	return 1
}
