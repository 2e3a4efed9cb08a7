#!/bin/sh
# virtio-mmio and virtio-pci in the same guest: QEMU microvm with a PCIe
# host bridge (pcie=on) has a virtio-rng and a virtio-blk device on each
# transport. rvirtio_rng and rvirtio_blk bind all four, each only the
# devices of its own type (the LNRO0005 platform devices, as mmio v1 or
# v2, and the PCI ones); both hwrngs deliver; both disks pass fio with
# verification; the C virtio_mmio module is never loaded.
# rvirtio-test: timeout=300 disks=64M,64M machines=microvm,microvm-v2
# rvirtio-qemu: -machine pcie=on
# rvirtio-qemu: -drive if=none,id=d0,file=@DISK0@,format=raw
# rvirtio-qemu: -drive if=none,id=d1,file=@DISK1@,format=raw
# rvirtio-qemu: -device virtio-rng-device -device virtio-blk-device,drive=d0,serial=RVMMIO
# rvirtio-qemu: -device virtio-rng-pci,disable-legacy=on -device virtio-blk-pci,drive=d1,disable-legacy=on,serial=RVPCI
. "$RVIRTIO_LIB"

step "the guest sees both transports"
expect_eq "ACPI describes two virtio-mmio transports" "$(mmio_devices | wc -l)" 2
pci_rng=$(pci_devices 0x1af4 0x1044)
pci_blk=$(pci_devices 0x1af4 0x1042)
[ -n "$pci_rng" ] || fail "no virtio-rng PCI device"
[ -n "$pci_blk" ] || fail "no virtio-blk PCI device"
echo "ok: PCI devices $(basename "$pci_rng") (rng) and $(basename "$pci_blk") (blk)"

step "rvirtio binds all four, each driver its own type"
check "modprobe rvirtio_rng" modprobe rvirtio_rng
check "modprobe rvirtio_blk" modprobe rvirtio_blk
wait_for /sys/block/vda 10
wait_for /sys/block/vdb 10
expect_eq "the PCI rng's driver" "$(driver_of "$pci_rng")" rvirtio_rng
expect_eq "the PCI disk's driver" "$(driver_of "$pci_blk")" rvirtio_blk
for drv in rvirtio_rng rvirtio_blk; do
	mmio=$(bound_devices $drv | grep /platform/)
	expect_eq "$drv bound one virtio-mmio transport" "$(echo "$mmio" | grep -c LNRO0005)" 1
	expect_mmio_bound "$mmio" $drv
done

step "both hwrngs deliver"
check "both hwrngs registered" sh -c 'grep -q "rvirtio_rng.0 rvirtio_rng.1" /sys/class/misc/hw_random/rng_available'
for r in rvirtio_rng.0 rvirtio_rng.1; do
	check "select $r" sh -c "echo $r > /sys/class/misc/hw_random/rng_current"
	rng_read_1mib
done

step "both disks work"
for d in vda vdb; do
	echo "$d: serial $(cat /sys/block/$d/serial), on $(readlink -f /sys/block/$d/device)"
	check "$d: fio verify" fio --name=v --filename=/dev/$d --rw=randrw --bs=4k --size=16M \
		--iodepth=16 --ioengine=libaio --direct=1 --verify=crc32c --verify_fatal=1 \
		--eta=never --output=/tmp/fio.out
done
expect_eq "the disks' serials" "$(cat /sys/block/vda/serial /sys/block/vdb/serial | sort | tr '\n' ' ')" "RVMMIO RVPCI "

no_c_virtio_mmio
check "rmmod rvirtio_blk" rmmod rvirtio_blk
check "rmmod rvirtio_rng" rmmod rvirtio_rng
no_kernel_errors
