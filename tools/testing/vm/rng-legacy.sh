#!/bin/sh
# rvirtio_rng on transitional devices: a legacy-only one (I/O BAR) works;
# a transitional one with both interfaces uses the modern one unless
# force_legacy=1.
# rvirtio-test: timeout=300
# rvirtio-qemu: -device virtio-rng-pci,disable-modern=on,addr=0x5
# rvirtio-qemu: -device virtio-rng-pci,disable-legacy=off,disable-modern=off,addr=0x6
. "$RVIRTIO_LIB"

a=/sys/bus/pci/devices/0000:00:05.0
b=/sys/bus/pci/devices/0000:00:06.0
expect_eq "device A is transitional" "$(cat $a/device)" 0x1005
expect_eq "device B is transitional" "$(cat $b/device)" 0x1005
check "modprobe rvirtio_rng" modprobe rvirtio_rng
expect_eq "A's driver" "$(driver_of $a)" rvirtio_rng
expect_eq "B's driver" "$(driver_of $b)" rvirtio_rng
check "A (legacy only) uses the legacy interface" dmesg_has "0000:00:05.0: legacy interface"
check "B uses the modern interface" dmesg_has "0000:00:06.0: modern interface"
check "both are registered" sh -c 'grep -q "rvirtio_rng.0 rvirtio_rng.1" /sys/class/misc/hw_random/rng_available'
rng_read_1mib
rng_fips
check "rmmod" rmmod rvirtio_rng

step "force_legacy=1"
dmesg -C
check "modprobe rvirtio_rng force_legacy=1" modprobe rvirtio_rng force_legacy=1
check "B now uses the legacy interface" dmesg_has "0000:00:06.0: legacy interface"
rng_read_1mib
rng_fips 500000
check "rmmod" rmmod rvirtio_rng
no_kernel_errors
