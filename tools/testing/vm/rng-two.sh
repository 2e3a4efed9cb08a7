#!/bin/sh
# Two virtio-rng devices at once: both are bound and registered, and both
# deliver. The second offers VIRTIO_F_ACCESS_PLATFORM (bit 33), which the
# driver accepts, and then maps through the DMA API; the first gets
# physical addresses (dma-iommu.sh checks both behind an IOMMU).
# rvirtio-test: timeout=300
# rvirtio-qemu: -device virtio-rng-pci,disable-legacy=on,addr=0x5
# rvirtio-qemu: -device virtio-rng-pci,disable-legacy=on,iommu_platform=on,addr=0x6
. "$RVIRTIO_LIB"

check "modprobe rvirtio_rng" modprobe rvirtio_rng
check "ACCESS_PLATFORM negotiated on the device offering it" \
	dmesg_has "0000:00:06.0: modern .*features Features\(0x00000000_00000000_00000003_"
check "and not on the other" dmesg_has "0000:00:05.0: modern .*features Features\(0x00000000_00000000_00000001_"
check "the DMA API with it" dmesg_has "0000:00:06.0: modern .*, DMA API$"
check "physical addresses without it" dmesg_has "0000:00:05.0: modern .*, physical addresses$"
check "both hwrngs registered" sh -c 'grep -q "rvirtio_rng.0 rvirtio_rng.1" /sys/class/misc/hw_random/rng_available'
for r in rvirtio_rng.0 rvirtio_rng.1; do
	check "select $r" sh -c "echo $r > /sys/class/misc/hw_random/rng_current"
	expect_eq "rng_current" "$(cat /sys/class/misc/hw_random/rng_current)" "$r"
	rng_read_1mib
done
check "rmmod" rmmod rvirtio_rng
no_kernel_errors
