#!/bin/sh
# rvirtio_blk on a modern device with two queues on two vCPUs, over PCI
# (pc) and over virtio-mmio version 1 and 2 (microvm): ext4 made,
# written, read back after dropping caches with matching checksums, and
# clean under e2fsck; fio random read/write with crc32c verification on
# the raw disk (several jobs and queue depths, and io_uring submitting 8
# requests at once, which reach the driver's queue_rqs); a mounted disk pins the
# module; the disk's parent is the PCI device, or the LNRO0005 platform
# device bound as mmio v1 or v2; on PCI both queues carry I/O on MSI-X
# vectors spread over the CPUs; blkdiscard with and without -z reads back
# zeroes; HDIO_GETGEO returns the device's geometry; the serial shows in
# sysfs; cache_type switches the write cache (and is read-only without
# CONFIG_WCE); a read-only disk refuses writes. (The KUnit suite
# rvirtio_blk is in the test module rvirtio_blk_kunit: kunit.sh.)
# rvirtio-test: timeout=600 smp=2 disks=256M,64M
# rvirtio-test: machines=pc,microvm,microvm-v2
# rvirtio-qemu: -drive if=none,id=d0,file=@DISK0@,format=raw,cache=unsafe,discard=unmap
# rvirtio-qemu: -drive if=none,id=d1,file=@DISK1@,format=raw,readonly=on
# rvirtio-qemu[pc]: -device virtio-blk-pci,drive=d0,disable-legacy=on,num-queues=2,addr=0x5,serial=RVTEST-0001,cyls=520,heads=16,secs=63
# rvirtio-qemu[pc]: -device virtio-blk-pci,drive=d1,disable-legacy=on,addr=0x6,config-wce=off
# rvirtio-qemu[microvm*]: -device virtio-blk-device,drive=d0,num-queues=2,serial=RVTEST-0001,cyls=520,heads=16,secs=63
# rvirtio-qemu[microvm*]: -device virtio-blk-device,drive=d1,config-wce=off
. "$RVIRTIO_LIB"

check "modprobe rvirtio_blk" modprobe rvirtio_blk
wait_for /sys/block/vda 10
wait_for /sys/block/vdb 10
dev=$(readlink -f /sys/block/vda/device)
check "two hardware queues" dmesg_has "$(basename "$dev"): vd.: [0-9]+ sectors, 2 hardware queue"
case $RVIRTIO_MACHINE in
pc) expect_eq "the disk's parent is the PCI device" "$(basename "$dev")" 0000:00:05.0 ;;
*) expect_mmio_bound "$dev" rvirtio_blk ;;
esac
expect_eq "the read-only disk is read-only" "$(cat /sys/block/vdb/ro)" 1
expect_eq "the read-write disk is writable" "$(cat /sys/block/vda/ro)" 0

step "ext4"
check "mkfs.ext4" mkfs.ext4 -q -F /dev/vda
mkdir -p /mnt/d
check "mount" mount -t ext4 /dev/vda /mnt/d
if rmmod rvirtio_blk 2>/tmp/rmmod.err; then
	fail "rmmod succeeded with a mounted disk"
fi
echo "ok: a mounted disk pins the module: $(head -n1 /tmp/rmmod.err)"
for i in 1 2 3 4 5 6; do head -c 2000000 /dev/urandom >/mnt/d/f$i; done
(cd /mnt/d && sha256sum f1 f2 f3 f4 f5 f6 >/tmp/sums)
check "sync" sync
echo 3 >/proc/sys/vm/drop_caches
check "files read back match after dropping caches" sh -c 'cd /mnt/d && sha256sum -c /tmp/sums'
check "umount" umount /mnt/d
check "e2fsck is clean" e2fsck -f -n /dev/vda

step "fio with crc32c verification on the raw disk"
for cfg in "1 1 psync" "2 16 libaio" "4 32 io_uring"; do
	set -- $cfg
	check "fio: $1 jobs, queue depth $2 ($3)" fio --name=v --filename=/dev/vda --rw=randrw --bs=4k \
		--size=16M --offset_increment=16M --numjobs="$1" --iodepth="$2" --ioengine="$3" \
		--direct=1 --verify=crc32c --verify_fatal=1 --group_reporting --eta=never --output=/tmp/fio.out
done
# Eight requests per io_uring_enter: blk-mq hands them to the driver as
# one list (queue_rqs), added under one hold of the queue's lock.
check "fio: io_uring, 8 requests per submission (queue_rqs)" fio --name=b --filename=/dev/vda \
	--rw=randrw --bs=4k --size=16M --offset_increment=16M --numjobs=2 --iodepth=32 \
	--iodepth_batch_submit=8 --iodepth_batch_complete_min=8 --ioengine=io_uring \
	--direct=1 --verify=crc32c --verify_fatal=1 --group_reporting --eta=never --output=/tmp/fio.out
check "large sequential I/O with verification" fio --name=s --filename=/dev/vda --rw=write --bs=1M \
	--size=64M --iodepth=8 --ioengine=libaio --direct=1 --verify=crc32c --verify_fatal=1 --eta=never --output=/tmp/fio.out

# MSI-X: a vector per queue (virtio-mmio has one interrupt line).
if [ "$RVIRTIO_MACHINE" = pc ]; then
	step "both queues carried I/O"
	for q in 1 2; do
		n=$(awk -v q="rvirtio_blk" '$0 ~ q {s=0; for (i=2;i<=3;i++) s+=$i; print s}' /proc/interrupts | sed -n "$((q + 1))p")
		echo "queue vector $q: ${n:-0} interrupts"
		[ "${n:-0}" -gt 0 ] || fail "queue $q had no interrupts"
	done

	step "the two queue vectors are spread over the two CPUs"
	irq1=$(grep -E "0000:00:05.0 +1-edge" /proc/interrupts | cut -d: -f1 | tr -d ' ')
	irq2=$(grep -E "0000:00:05.0 +2-edge" /proc/interrupts | cut -d: -f1 | tr -d ' ')
	[ -n "$irq1" ] && [ -n "$irq2" ] || fail "no MSI-X queue vectors found: $(grep rvirtio /proc/interrupts)"
	a1=$(cat /proc/irq/$irq1/effective_affinity_list)
	a2=$(cat /proc/irq/$irq2/effective_affinity_list)
	echo "queue vector 1: IRQ $irq1 on CPU $a1; queue vector 2: IRQ $irq2 on CPU $a2"
	[ "$a1" != "$a2" ] || fail "both queue vectors are on CPU $a1"
	echo "ok: spread"
fi

step "discard and write zeroes"
zero_sum=$(head -c 1048576 /dev/zero | sha256sum | cut -d' ' -f1)
mib_sum() { dd if=/dev/vda bs=1M skip="$1" count=1 iflag=direct status=none | sha256sum | cut -d' ' -f1; }
d=$(cat /sys/block/vda/queue/discard_max_hw_bytes)
z=$(cat /sys/block/vda/queue/write_zeroes_max_bytes)
echo "discard_max_hw_bytes=$d write_zeroes_max_bytes=$z"
[ "$d" -gt 0 ] || fail "discard is not enabled"
[ "$z" -gt 0 ] || fail "write zeroes is not enabled"
discards=$(awk '{print $12}' /sys/block/vda/stat)
for mode in "" "-z"; do
	check "random data written at 8 MiB" dd if=/dev/urandom of=/dev/vda bs=1M seek=8 count=2 oflag=direct status=none
	[ "$(mib_sum 8)" != "$zero_sum" ] || fail "the data did not reach the disk"
	check "blkdiscard $mode" blkdiscard $mode -o $((8 << 20)) -l $((1 << 20)) /dev/vda
	expect_eq "blkdiscard $mode: the range reads back as zeroes" "$(mib_sum 8)" "$zero_sum"
	[ "$(mib_sum 9)" != "$zero_sum" ] || fail "blkdiscard $mode cleared the next MiB too"
	echo "ok: the next MiB is untouched"
done
# Field 12 of the disk's stat counts completed discards; a write-zeroes
# request the device refused would have made the block layer fall back to
# writing zero pages and switch write zeroes off.
expect_eq "the discard went to the device" "$(awk '{print $12}' /sys/block/vda/stat)" $((discards + 1))
expect_eq "write zeroes is still on (the device did it)" "$(cat /sys/block/vda/queue/write_zeroes_max_bytes)" "$z"

step "geometry (HDIO_GETGEO)"
fdisk -l /dev/vda >/tmp/fdisk.out 2>&1 || true
cat /tmp/fdisk.out
check "the device's heads and sectors (busybox fdisk computes the cylinders)" grep -q "cylinders, 16 heads, 63 sectors/track" /tmp/fdisk.out

step "serial (GET_ID)"
expect_eq "the serial in sysfs is the device's" "$(cat /sys/block/vda/serial)" "RVTEST-0001"
expect_eq "a device without a serial shows an empty one" "$(cat /sys/block/vdb/serial)" ""

step "cache_type (CONFIG_WCE)"
expect_eq "write back at first" "$(cat /sys/block/vda/cache_type)" "write back"
expect_eq "the queue has a write cache" "$(cat /sys/block/vda/queue/write_cache)" "write back"
check "switch to write through" sh -c 'echo "write through" >/sys/block/vda/cache_type'
expect_eq "cache_type reads write through" "$(cat /sys/block/vda/cache_type)" "write through"
expect_eq "the queue has no write cache" "$(cat /sys/block/vda/queue/write_cache)" "write through"
check "writes work in write-through mode" dd if=/dev/urandom of=/dev/vda bs=64k count=16 oflag=direct,sync status=none
check "switch back to write back" sh -c 'echo "write back" >/sys/block/vda/cache_type'
expect_eq "the queue has a write cache again" "$(cat /sys/block/vda/queue/write_cache)" "write back"
if sh -c 'echo "write around" >/sys/block/vda/cache_type' 2>/dev/null; then
	fail "an unknown cache type was accepted"
fi
echo "ok: an unknown cache type is refused"
expect_eq "without CONFIG_WCE, cache_type is read-only" "$(stat -c %a /sys/block/vdb/cache_type)" 444
if sh -c 'echo "write through" >/sys/block/vdb/cache_type' 2>/dev/null; then
	fail "cache_type could be written without CONFIG_WCE"
fi
echo "ok: and root cannot switch it"

step "read-only disk"
if dd if=/dev/zero of=/dev/vdb bs=4096 count=1 oflag=direct 2>/tmp/ro.err; then
	fail "a write to the read-only disk succeeded"
fi
echo "ok: write refused: $(cat /tmp/ro.err | head -n1)"
check "reads work" dd if=/dev/vdb of=/dev/null bs=1M count=4 iflag=direct status=none

check "rmmod" rmmod rvirtio_blk
no_kernel_errors
