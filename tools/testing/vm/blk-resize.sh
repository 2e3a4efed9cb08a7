#!/bin/sh
# A resize through QEMU's block_resize reaches the driver as a configuration
# change interrupt, and the new capacity is visible to the kernel (and to
# user space: /sys/block/*/size). On PCI (pc) the device has two queues but
# only two MSI-X vectors, so the driver falls back to one vector for
# configuration changes and one shared by both queues; over virtio-mmio
# (microvm, version 1 and 2) the configuration change comes on the one
# interrupt line the queues use too.
# rvirtio-test: timeout=300 disks=64M machines=pc,microvm,microvm-v2
# rvirtio-qemu: -drive if=none,id=d0,file=@DISK0@,format=raw
# rvirtio-qemu[pc]: -device virtio-blk-pci,drive=d0,disable-legacy=on,addr=0x5,num-queues=2,vectors=2
# rvirtio-qemu[microvm*]: -device virtio-blk-device,drive=d0,num-queues=2
. "$RVIRTIO_LIB"

check "modprobe rvirtio_blk" modprobe rvirtio_blk
wait_for /sys/block/vda 10
case $RVIRTIO_MACHINE in
pc) check "the queues share one MSI-X vector" dmesg_has "0000:00:05.0: modern interface, 2 queue\(s\), Shared interrupts" ;;
*) expect_mmio_bound "$(readlink -f /sys/block/vda/device)" rvirtio_blk ;;
esac
check "I/O works on both queues" fio --name=s --filename=/dev/vda --rw=randrw --bs=4k --size=8M \
	--offset_increment=8M --numjobs=2 --iodepth=8 --ioengine=libaio --direct=1 \
	--verify=crc32c --verify_fatal=1 --eta=never --output=/tmp/fio.out
expect_eq "64 MiB at first" "$(cat /sys/block/vda/size)" 131072
qmp '{"execute": "block_resize", "arguments": {"device": "d0", "size": 134217728}}'
n=0
while [ "$(cat /sys/block/vda/size)" != 262144 ]; do
	n=$((n + 1))
	[ $n -lt 100 ] || fail "the size is still $(cat /sys/block/vda/size) sectors 10 s after block_resize"
	sleep 0.1
done
echo "ok: 128 MiB after block_resize"
check "the driver saw the change" dmesg_has "rvirtio_blk: capacity changed: 262144 sectors"
check "the new end of the disk is usable" dd if=/dev/zero of=/dev/vda bs=1M seek=127 count=1 oflag=direct status=none
check "rmmod" rmmod rvirtio_blk
no_kernel_errors
