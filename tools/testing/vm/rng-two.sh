#!/bin/sh
# Two virtio-rng devices at once: both are bound and registered, and both
# deliver.
# rvirtio-test: timeout=300
# rvirtio-qemu: -device virtio-rng-pci,disable-legacy=on -device virtio-rng-pci,disable-legacy=on
. "$RVIRTIO_LIB"

check "modprobe rvirtio_rng" modprobe rvirtio_rng
check "both hwrngs registered" sh -c 'grep -q "rvirtio_rng.0 rvirtio_rng.1" /sys/class/misc/hw_random/rng_available'
for r in rvirtio_rng.0 rvirtio_rng.1; do
	check "select $r" sh -c "echo $r > /sys/class/misc/hw_random/rng_current"
	expect_eq "rng_current" "$(cat /sys/class/misc/hw_random/rng_current)" "$r"
	rng_read_1mib
done
check "rmmod" rmmod rvirtio_rng
no_kernel_errors
