#!/bin/sh
# Hot-unplug of the PCI device during I/O (QEMU device_del): every
# outstanding request completes with an error, nothing hangs, the disk goes
# away and the module unloads.
# rvirtio-test: timeout=300 disks=128M
# rvirtio-qemu: -drive if=none,id=d0,file=@DISK0@,format=raw
# rvirtio-qemu: -device virtio-blk-pci,drive=d0,disable-legacy=on,addr=0x5,id=blk0
. "$RVIRTIO_LIB"

check "modprobe rvirtio_blk" modprobe rvirtio_blk
wait_for /sys/block/vda 10
fio --name=u --filename=/dev/vda --rw=randrw --bs=4k --iodepth=16 --ioengine=libaio \
	--direct=1 --numjobs=2 --time_based --runtime=60 --eta=never --output=/tmp/fio.out &
fio_pid=$!
sleep 3
step "device_del while fio runs"
qmp '{"execute": "device_del", "arguments": {"id": "blk0"}}'
n=0
while [ -e /sys/bus/pci/devices/0000:00:05.0 ]; do
	n=$((n + 1))
	[ $n -lt 600 ] || fail "the device was not removed within 60 s"
	sleep 0.1
done
echo "ok: the PCI device is gone"
n=0
while kill -0 $fio_pid 2>/dev/null; do
	n=$((n + 1))
	[ $n -lt 300 ] || fail "fio still runs 30 s after the removal: I/O hangs"
	sleep 0.1
done
wait $fio_pid
echo "ok: fio ended (status $?) after the removal"
check "the disk is gone" test ! -e /sys/block/vda
check "rmmod" rmmod rvirtio_blk
no_kernel_errors
