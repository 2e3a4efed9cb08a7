#!/bin/sh
# The rvirtio core's KUnit suites: the split ring on the kernel platform
# (DMA-coherent memory, virt_*() barriers) against an in-kernel fake device,
# and the virtio-mmio transport against a fake register window.
# rvirtio-test: timeout=180 kunit=rvirtio_split_ring,rvirtio_pci_caps,rvirtio_mmio
. "$RVIRTIO_LIB"
check "modprobe rvirtio_core_test" modprobe rvirtio_core_test
check "rmmod rvirtio_core_test" rmmod rvirtio_core_test
