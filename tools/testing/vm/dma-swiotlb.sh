#!/bin/sh
# Large blocks through swiotlb bounce buffers: swiotlb=force on the guest
# command line and a virtio-blk device with iommu_platform=on, so the
# driver maps through the DMA API and every mapping bounces. swiotlb maps
# at most 256 KiB at once (dma_max_mapping_size()), so the driver must
# bound the block layer's segments by it: max_segment_size is 256 KiB, and
# so is the device's DMA segment size (dma_set_max_seg_size; debugfs).
# ext4 with files written in 4 MiB blocks (its page cache uses folios of up
# to 1 MiB, so writeback builds segments larger than 256 KiB), read back
# after dropping caches and checked by e2fsck, and fio with crc32c
# verification in 1 MiB and 4 MiB blocks, direct and buffered, must work.
# (Before the fix such a segment failed to map and its request was
# retried for ever: BLK_STS_RESOURCE, with "swiotlb buffer is full".)
# rvirtio-test: timeout=900 machines=q35 disks=256M append=swiotlb=force
# rvirtio-qemu: -drive if=none,id=d0,file=@DISK0@,format=raw,cache=unsafe
# rvirtio-qemu: -device virtio-blk-pci,drive=d0,disable-legacy=on,iommu_platform=on,addr=0x5
. "$RVIRTIO_LIB"

check "swiotlb is set up" dmesg_has "software IO TLB"
[ -r /sys/kernel/debug/swiotlb/io_tlb_used_hiwater ] || fail "no swiotlb statistics in debugfs"
check "modprobe rvirtio_blk" modprobe rvirtio_blk
wait_for /sys/block/vda 30
check "the device uses the DMA API" dmesg_has "0000:00:05.0: modern interface.*, DMA API$"
expect_eq "segments are bounded by swiotlb's largest mapping" "$(cat /sys/block/vda/queue/max_segment_size)" 262144
expect_eq "the DMA API merges no segment beyond it either (debugfs)" \
	"$(sed -n 's/^dma max segment: //p' /sys/kernel/debug/rvirtio_blk/0000:00:05.0/device)" 262144

step "ext4, files written in 4 MiB blocks"
check "mkfs.ext4" timeout 120 mkfs.ext4 -q -F /dev/vda
mkdir -p /mnt/d
check "mount" mount -t ext4 /dev/vda /mnt/d
for i in 1 2 3 4; do
	check "write f$i" timeout 120 dd if=/dev/urandom of=/mnt/d/f$i bs=4M count=4 status=none
done
(cd /mnt/d && sha256sum f1 f2 f3 f4 >/tmp/sums)
check "sync" timeout 120 sync
echo 3 >/proc/sys/vm/drop_caches
check "files read back match after dropping caches" timeout 120 sh -c 'cd /mnt/d && sha256sum -c /tmp/sums'
check "fio verify on a file, buffered 1 MiB blocks" timeout 300 fio --name=b --directory=/mnt/d \
	--rw=write --bs=1M --size=48M --ioengine=psync --end_fsync=1 --verify=crc32c \
	--verify_fatal=1 --eta=never --output=/tmp/fio.out
check "umount" umount /mnt/d
check "e2fsck is clean" e2fsck -f -n /dev/vda

step "fio with crc32c verification in large blocks on the raw disk"
for bs in 1M 4M; do
	check "fio verify, $bs blocks" timeout 300 fio --name=l --filename=/dev/vda --rw=randwrite \
		--bs=$bs --size=64M --iodepth=4 --ioengine=libaio --direct=1 --verify=crc32c \
		--verify_fatal=1 --eta=never --output=/tmp/fio.out
done
hw=$(cat /sys/kernel/debug/swiotlb/io_tlb_used_hiwater)
[ "$hw" -gt 0 ] || fail "no I/O went through swiotlb (io_tlb_used_hiwater $hw)"
echo "ok: the I/O went through swiotlb (at most $hw slots of 2 KiB in use)"
check "rmmod rvirtio_blk" rmmod rvirtio_blk
no_kernel_errors
