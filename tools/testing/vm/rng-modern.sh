#!/bin/sh
# rvirtio_rng on a modern-only device with MSI-X: binds, registers an hwrng,
# delivers 1 MiB that passes FIPS 140-2, serves non-blocking reads, and
# takes its quality parameter.
# rvirtio-test: timeout=300
# rvirtio-qemu: -device virtio-rng-pci,disable-legacy=on
. "$RVIRTIO_LIB"

dev=$(pci_devices 0x1af4 0x1044)
[ -n "$dev" ] || fail "no modern virtio-rng device"
check "modprobe rvirtio_rng" modprobe rvirtio_rng
expect_eq "the device's driver" "$(driver_of "$dev")" rvirtio_rng
expect_eq "rng_current" "$(cat /sys/class/misc/hw_random/rng_current)" rvirtio_rng.0
check "the modern interface with a vector per queue" dmesg_has "rvirtio_rng .*: modern interface, 1 queue\(s\), PerQueue interrupts"
check "modinfo has the modern and transitional aliases" sh -c \
	'modinfo rvirtio_rng | grep -q "d00001044" && modinfo rvirtio_rng | grep -q "d00001005"'
rng_read_1mib
rng_fips

step "non-blocking reads return without sleeping, and deliver"
got=0
for i in 1 2 3 4 5 6 7 8 9 10; do
	nonblock_read_prompt
	[ -s /tmp/nb.bin ] && got=1 && break
	sleep 0.2
done
expect_eq "an O_NONBLOCK read delivered data" "$got" 1

step "quality parameter"
check "rmmod" rmmod rvirtio_rng
check "modprobe rvirtio_rng quality=700" modprobe rvirtio_rng quality=700
expect_eq "rng_quality" "$(cat /sys/class/misc/hw_random/rng_quality)" 700
check "rmmod" rmmod rvirtio_rng
check "modprobe rvirtio_rng quality=2000 (out of range) loads" modprobe rvirtio_rng quality=2000
check "the device is refused with a message" dmesg_has "quality=2000 is out of range"
expect_eq "no hwrng registered" "$(cat /sys/class/misc/hw_random/rng_current)" none
check "rmmod" rmmod rvirtio_rng
no_kernel_errors
