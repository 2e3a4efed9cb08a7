#!/bin/sh
# An open disk outlives its device: with /dev/vda and its sysfs attributes
# held open, QEMU device_del removes the device and the disk is deleted.
# HDIO_GETGEO on the open descriptor then fails with ENXIO and reads of the
# serial and cache_type attributes opened before fail with ENODEV, instead of
# touching the driver's freed data (a use after free: the shim freed its
# structure at removal while the open disk still pointed at it). Runs on the
# KASAN kernel variant: any KASAN report fails the test (the guest panics on
# it, panic_on_warn=1, and check.py looks for reports on the console).
# no5lvl: QEMU's -cpu max offers 5-level paging, and on it this KASAN kernel
# reported a wild access in an interrupt during early boot (identify_cpu)
# in 1 of 3 boots, before any test code ran; with 4-level paging it boots.
# rvirtio-test: timeout=600 disks=64M kernel=kasan append=no5lvl
# rvirtio-qemu: -drive if=none,id=d0,file=@DISK0@,format=raw
# rvirtio-qemu: -device virtio-blk-pci,drive=d0,disable-legacy=on,addr=0x5,id=blk0,serial=rvlife0
. "$RVIRTIO_LIB"

check "the kernel has KASAN" grep -qw kasan_report /proc/kallsyms
check "modprobe rvirtio_blk" modprobe rvirtio_blk
wait_for /sys/block/vda 10
expect_eq "serial" "$(cat /sys/block/vda/serial)" rvlife0

step "open the disk and its attributes"
exec 3</dev/vda
exec 4</sys/block/vda/serial
exec 5</sys/block/vda/cache_type
geo=$(blkgeo 3) || fail "HDIO_GETGEO on the open disk failed"
echo "ok: before removal: $geo"

step "device_del while the disk is open"
qmp '{"execute": "device_del", "arguments": {"id": "blk0"}}'
n=0
while [ -e /sys/bus/pci/devices/0000:00:05.0 ] || [ -e /sys/block/vda ]; do
	n=$((n + 1))
	[ $n -lt 600 ] || fail "the device and disk were not removed within 60 s"
	sleep 0.1
done
echo "ok: the device and the disk are gone, /dev/vda still open"

step "HDIO_GETGEO on the open descriptor"
if blkgeo 3 2>/tmp/geo.err; then
	fail "HDIO_GETGEO succeeded on a removed device"
fi
cat /tmp/geo.err
grep -q "errno 6)" /tmp/geo.err || fail "HDIO_GETGEO did not fail with ENXIO"
echo "ok: HDIO_GETGEO fails with ENXIO"

step "sysfs attributes opened before the removal"
for fd in 4 5; do
	if eval "cat <&$fd" >/tmp/attr.out 2>/tmp/attr.err; then
		fail "a read of fd $fd succeeded after removal: $(cat /tmp/attr.out)"
	fi
	grep -q "No such device" /tmp/attr.err || fail "fd $fd: $(cat /tmp/attr.err)"
done
echo "ok: serial and cache_type fail with ENODEV"

step "the open disk pins the module; closing it lets it go"
if rmmod rvirtio_blk 2>/dev/null; then
	fail "rmmod succeeded while the removed disk was open"
fi
exec 3<&- 4<&- 5<&-
check "rmmod" rmmod rvirtio_blk
no_kernel_errors
