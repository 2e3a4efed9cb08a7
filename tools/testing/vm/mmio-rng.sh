#!/bin/sh
# rvirtio_rng over virtio-mmio (QEMU microvm with ACPI), version 1 (QEMU's
# default, legacy) and version 2: the two LNRO0005 transports of two
# virtio-rng devices are both bound by rvirtio_rng, each with its
# virtio-mmio version in the bind message; both hwrngs register and each
# delivers 1 MiB that passes FIPS 140-2; the module unloads; the C
# virtio_mmio module is never loaded. Unbind with a blocked reader, reload
# rounds and kmemleak over virtio-mmio are rng-unbind.sh, rng-reload.sh
# and rng-leak.sh on their microvm machines.
# rvirtio-test: timeout=300 machines=microvm,microvm-v2
# rvirtio-qemu: -device virtio-rng-device -device virtio-rng-device
. "$RVIRTIO_LIB"

set -- $(mmio_devices)
expect_eq "ACPI describes two virtio-mmio transports" "$#" 2
check "modinfo has the ACPI alias" sh -c 'modinfo rvirtio_rng | grep -q "acpi\*:LNRO0005:\*"'
check "modprobe rvirtio_rng" modprobe rvirtio_rng
for dev; do
	expect_mmio_bound "$dev" rvirtio_rng
done
check "both hwrngs registered" sh -c 'grep -q "rvirtio_rng.0 rvirtio_rng.1" /sys/class/misc/hw_random/rng_available'
for r in rvirtio_rng.0 rvirtio_rng.1; do
	check "select $r" sh -c "echo $r > /sys/class/misc/hw_random/rng_current"
	expect_eq "rng_current" "$(cat /sys/class/misc/hw_random/rng_current)" "$r"
	rng_read_1mib
	rng_fips
done
no_c_virtio_mmio
check "rmmod" rmmod rvirtio_rng
for dev; do
	expect_eq "$(basename "$dev") is unbound" "$(driver_of "$dev")" ""
done
no_kernel_errors
