#!/bin/sh
# DMA addressing by the negotiated features (spec §6.1
# VIRTIO_F_ACCESS_PLATFORM), on q35 with an emulated Intel IOMMU that
# translates for every PCI device of the guest (DMA domains):
# - a virtio-blk and a virtio-rng device WITHOUT iommu_platform (QEMU's
#   device then uses guest physical addresses, bypassing the IOMMU): the
#   driver must give it physical addresses, not IOVAs, for its rings and
#   buffers;
# - the same devices WITH iommu_platform=on (QEMU translates their DMA
#   through the IOMMU): the driver must use the DMA API, so the device
#   gets IOVAs the IOMMU maps.
# Each device binds with the addressing the bind message names, both
# hwrngs deliver data that passes FIPS 140-2, and on both disks ext4 (mkfs,
# files written and read back after dropping caches, e2fsck) and fio with
# crc32c verification work. No DMAR fault is logged. (Before the fix
# rvirtio mapped everything through the DMA API: the devices without
# iommu_platform got IOVAs and never answered.)
# rvirtio-test: timeout=900 machines=q35 disks=128M,128M append=intel_iommu=on
# rvirtio-qemu: -device intel-iommu,intremap=off
# rvirtio-qemu: -drive if=none,id=d0,file=@DISK0@,format=raw,cache=unsafe
# rvirtio-qemu: -drive if=none,id=d1,file=@DISK1@,format=raw,cache=unsafe
# rvirtio-qemu: -device virtio-blk-pci,drive=d0,disable-legacy=on,addr=0x5
# rvirtio-qemu: -device virtio-rng-pci,disable-legacy=on,addr=0x6
# rvirtio-qemu: -device virtio-blk-pci,drive=d1,disable-legacy=on,iommu_platform=on,addr=0x7
# rvirtio-qemu: -device virtio-rng-pci,disable-legacy=on,iommu_platform=on,addr=0x8
. "$RVIRTIO_LIB"

step "the IOMMU translates for the virtio devices"
check "the Intel IOMMU is on" dmesg_has "DMAR: IOMMU enabled|DMAR: Intel\(R\) Virtualization Technology for Directed I/O"
for a in 05 06 07 08; do
	d=/sys/bus/pci/devices/0000:00:$a.0
	[ -e "$d/iommu_group" ] || fail "0000:00:$a.0 is in no IOMMU group"
	t=$(cat "$d/iommu_group/type")
	case $t in
	DMA | DMA-FQ) echo "ok: 0000:00:$a.0 is in IOMMU group $(basename "$(readlink "$d/iommu_group")") of type $t" ;;
	*) fail "0000:00:$a.0's IOMMU domain is '$t', not a translated (DMA) one" ;;
	esac
done

step "bind: physical addresses without ACCESS_PLATFORM, the DMA API with it"
check "modprobe rvirtio_blk" modprobe rvirtio_blk
check "modprobe rvirtio_rng" modprobe rvirtio_rng
wait_for /sys/block/vda 30
wait_for /sys/block/vdb 30
for a in 05 06; do
	check "0000:00:$a.0 uses guest physical addresses" dmesg_has "0000:00:$a.0: modern interface.*, physical addresses$"
done
for a in 07 08; do
	check "0000:00:$a.0 uses the DMA API" dmesg_has "0000:00:$a.0: modern interface.*, DMA API$"
done
expect_eq "vda is the device without iommu_platform" "$(disk_of 0000:00:05.0)" vda
expect_eq "debugfs: 0000:00:05.0's addressing" \
	"$(sed -n 's/^addressing: //p' /sys/kernel/debug/rvirtio_blk/0000:00:05.0/device)" "physical addresses"
expect_eq "debugfs: 0000:00:07.0's addressing" \
	"$(sed -n 's/^addressing: //p' /sys/kernel/debug/rvirtio_blk/0000:00:07.0/device)" "DMA API"
expect_eq "vdb is the device with iommu_platform=on" "$(disk_of 0000:00:07.0)" vdb

step "both hwrngs deliver"
for a in 06 08; do
	r=$(dmesg | sed -n "s/.*0000:00:$a.0: registered hwrng \(rvirtio_rng\.[0-9]*\).*/\1/p" | tail -n1)
	[ -n "$r" ] || fail "no hwrng registered for 0000:00:$a.0"
	check "select $r (0000:00:$a.0)" sh -c "echo $r > /sys/class/misc/hw_random/rng_current"
	timeout 60 head -c 262144 /dev/hwrng >/tmp/rng.bin
	expect_eq "$r delivered 256 KiB" "$(wc -c </tmp/rng.bin)" 262144
	rng_fips 100000
done

exercise() { # DISK LABEL
	check "$2: mkfs.ext4" timeout 120 mkfs.ext4 -q -F "/dev/$1"
	mkdir -p /mnt/d
	check "$2: mount" mount -t ext4 "/dev/$1" /mnt/d
	for i in 1 2 3; do head -c 3000000 /dev/urandom >/mnt/d/f$i; done
	(cd /mnt/d && sha256sum f1 f2 f3 >/tmp/sums)
	check "$2: sync" sync
	echo 3 >/proc/sys/vm/drop_caches
	check "$2: files read back match after dropping caches" sh -c 'cd /mnt/d && sha256sum -c /tmp/sums'
	check "$2: umount" umount /mnt/d
	check "$2: e2fsck is clean" e2fsck -f -n "/dev/$1"
	check "$2: fio verify" timeout 300 fio --name=v --filename="/dev/$1" --rw=randrw --bs=4k \
		--size=16M --offset_increment=16M --numjobs=2 --iodepth=16 --ioengine=libaio --direct=1 \
		--verify=crc32c --verify_fatal=1 --group_reporting --eta=never --output=/tmp/fio.out
	check "$2: fio verify, 256 KiB blocks" timeout 300 fio --name=s --filename="/dev/$1" --rw=write \
		--bs=256k --size=32M --iodepth=4 --ioengine=libaio --direct=1 --verify=crc32c \
		--verify_fatal=1 --eta=never --output=/tmp/fio.out
}

step "ext4 and fio without iommu_platform (physical addresses)"
exercise vda "vda (no iommu_platform)"
step "ext4 and fio with iommu_platform=on (through the IOMMU)"
exercise vdb "vdb (iommu_platform=on)"

step "clean up"
check "rmmod rvirtio_blk" rmmod rvirtio_blk
check "rmmod rvirtio_rng" rmmod rvirtio_rng
if dmesg | grep -E "DMAR: \[DMA (Read|Write)|DMAR: DRHD: handling fault"; then
	fail "the IOMMU reported DMA faults (above)"
fi
echo "ok: no DMAR fault"
no_kernel_errors
