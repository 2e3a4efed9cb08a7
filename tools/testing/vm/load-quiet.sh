#!/bin/sh
# Loading a driver runs no test and logs nothing but the driver's own
# messages: with a virtio-blk, a virtio-rng and a virtio-net device
# present, modprobe of rvirtio_blk, rvirtio_rng and rvirtio_net adds no KTAP
# or KUnit line to the kernel log,
# and every line it adds comes from the driver (prefixed with the module's
# name) or names its disk (" vda: ..."). The one other line allowed is the
# PCI core's, when the driver enables its device and ACPI routes its INTx
# line ("ACPI: \_SB_.LNKA: Enabled at IRQ 10"); and the kernel's
# timekeeping complaints, which TCG on a loaded host provokes at any time
# ("clocksource: Watchdog remote CPU 1 read timed out", "tsc: ..."). The
# KUnit suites live in the *_kunit test modules (kunit.sh).
# rvirtio-test: timeout=180 disks=64M
# rvirtio-qemu: -drive if=none,id=d0,file=@DISK0@,format=raw
# rvirtio-qemu: -device virtio-blk-pci,drive=d0,disable-legacy=on,addr=0x5
# rvirtio-qemu: -device virtio-rng-pci,disable-legacy=on,addr=0x6
# rvirtio-qemu: -netdev hubport,id=h0,hubid=0
# rvirtio-qemu: -device virtio-net-pci,netdev=h0,disable-legacy=on,addr=0x7
. "$RVIRTIO_LIB"

check "no rvirtio module is loaded yet" sh -c '! grep -q "^rvirtio" /proc/modules'
# Start from an empty kernel log: what follows is what the loads added.
dmesg -c >/dev/null

check "modprobe rvirtio_blk" modprobe rvirtio_blk
wait_for /sys/block/vda 10
check "modprobe rvirtio_rng" modprobe rvirtio_rng
wait_for /sys/class/misc/hw_random/rng_current 10
expect_eq "rng_current" "$(cat /sys/class/misc/hw_random/rng_current)" rvirtio_rng.0
check "modprobe rvirtio_net" modprobe rvirtio_net
net_wait_ifaces rvirtio_net 1
# Messages printed after probe returns (partition scan) have time to land.
sleep 2

# The log since the loads, without printk timestamps.
dmesg | sed 's/^\[ *[0-9]*\.[0-9]*\] \{0,1\}//' >/tmp/load.log
echo "the kernel log of the loads:"
sed 's/^/  | /' /tmp/load.log
[ -s /tmp/load.log ] || fail "the loads logged nothing (the drivers' own messages are missing)"

step "no test ran"
if grep -E 'KTAP version|# Subtest:|^ *(not )?ok [0-9]+ |# Totals:' /tmp/load.log; then
	fail "loading the drivers printed KTAP/KUnit lines (above)"
fi
echo "ok: no KTAP or KUnit line"
check "no KUnit results in debugfs" sh -c '! ls /sys/kernel/debug/kunit/ 2>/dev/null | grep -q rvirtio'
if grep -E 'invalid configuration|invalid disk name prefix' /tmp/load.log; then
	fail "a test's refusal message was printed at load (above)"
fi
echo "ok: no test refusal message"

step "every line is the drivers' own"
if grep -Ev '^(rvirtio_blk|rvirtio_rng|rvirtio_net)[: ]|^ vd[a-z]+: |^ACPI: \\_SB_\.LNK[A-Z]: Enabled at IRQ [0-9]+$|^(clocksource|tsc): ' /tmp/load.log; then
	fail "lines not from rvirtio_blk, rvirtio_rng, rvirtio_net or the disk (above)"
fi
echo "ok: every line is from rvirtio_blk, rvirtio_rng, rvirtio_net, vda, the PCI IRQ link or timekeeping"

check "rmmod rvirtio_blk" rmmod rvirtio_blk
check "rmmod rvirtio_rng" rmmod rvirtio_rng
check "rmmod rvirtio_net" rmmod rvirtio_net
