#!/bin/sh
# A device that stops answering does not hang I/O forever: with PCI Bus
# Master switched off, QEMU's device drops DRIVER_OK and ignores its queues
# (the kernel's C driver then waits forever). rvirtio_blk's timeout handler
# (timeout_ms=2000) sees the device is no longer live, resets it, fails the
# outstanding request with an I/O error and fails new ones; the module then
# unloads.
# rvirtio-test: timeout=300 disks=64M
# rvirtio-qemu: -drive if=none,id=d0,file=@DISK0@,format=raw
# rvirtio-qemu: -device virtio-blk-pci,drive=d0,disable-legacy=on,addr=0x5
. "$RVIRTIO_LIB"

dev=/sys/bus/pci/devices/0000:00:05.0
check "modprobe rvirtio_blk timeout_ms=2000" modprobe rvirtio_blk timeout_ms=2000
wait_for /sys/block/vda 10
check "I/O works" dd if=/dev/zero of=/dev/vda bs=4096 count=16 oflag=direct status=none

step "switch PCI Bus Master off behind the driver's back"
cmd=$(od -An -tu2 -j4 -N2 "$dev/config" | tr -d ' ')
new=$((cmd & ~4))
printf "\\$(printf %o $((new & 255)))\\$(printf %o $((new >> 8)))" |
	dd of="$dev/config" bs=1 seek=4 count=2 conv=notrunc status=none
echo "command register: $cmd -> $(od -An -tu2 -j4 -N2 "$dev/config" | tr -d ' ')"

step "I/O fails with an error instead of hanging"
start=$(cut -d. -f1 /proc/uptime)
if timeout 120 dd if=/dev/vda of=/dev/null bs=4096 count=1 iflag=direct skip=100 2>/tmp/dd.err; then
	fail "a read from the dead device succeeded"
fi
rc=$?
[ $rc != 124 ] || fail "the read hung for 120 s"
echo "ok: the read failed after $(($(cut -d. -f1 /proc/uptime) - start)) s: $(head -n1 /tmp/dd.err)"
check "the driver reported the dead device" dmesg_has "request timed out and the device is not live"
if timeout 60 dd if=/dev/zero of=/dev/vda bs=4096 count=1 oflag=direct 2>/dev/null; then
	fail "a write to the failed device succeeded"
fi
echo "ok: new I/O fails at once"
check "rmmod" timeout 60 rmmod rvirtio_blk
no_kernel_errors
