#!/bin/sh
# rvirtio_blk on a legacy-only (transitional) device: I/O BAR 0, legacy
# ring layout; ext4 and fio verification work as on a modern device.
# rvirtio-test: timeout=300 disks=128M
# rvirtio-qemu: -drive if=none,id=d0,file=@DISK0@,format=raw,cache=unsafe
# rvirtio-qemu: -device virtio-blk-pci,drive=d0,disable-modern=on,addr=0x5
. "$RVIRTIO_LIB"

expect_eq "the device is transitional" "$(cat /sys/bus/pci/devices/0000:00:05.0/device)" 0x1001
check "modprobe rvirtio_blk" modprobe rvirtio_blk
wait_for /sys/block/rvda 10
check "the legacy interface" dmesg_has "0000:00:05.0: legacy interface"
check "mkfs.ext4" mkfs.ext4 -q -F /dev/rvda
check "e2fsck is clean" e2fsck -f -n /dev/rvda
check "fio verify" fio --name=v --filename=/dev/rvda --rw=randrw --bs=4k --size=16M \
	--offset_increment=16M --numjobs=2 --iodepth=8 --ioengine=libaio --direct=1 \
	--verify=crc32c --verify_fatal=1 --eta=never --output=/tmp/fio.out
check "rmmod" rmmod rvirtio_blk
no_kernel_errors
