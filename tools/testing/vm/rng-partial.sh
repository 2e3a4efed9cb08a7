#!/bin/sh
# rvirtio_rng on a device that fills only part of each buffer: a QEMU rate
# limit of 64 bytes per 20 ms caps every fill at 64 of the driver's 512
# bytes, so the used length is what the driver must honour. A driver that
# took the whole buffer would return 448 bytes the device never wrote
# (zeros) per fill: the output must be random (rngtest) and hold no more
# zero bytes than chance gives.
# rvirtio-test: timeout=300 machines=pc,microvm
# rvirtio-qemu: -object rng-random,id=part,filename=/dev/urandom
# rvirtio-qemu[pc]: -device virtio-rng-pci,rng=part,max-bytes=64,period=20,disable-legacy=on,addr=0x5
# rvirtio-qemu[microvm*]: -device virtio-rng-device,rng=part,max-bytes=64,period=20
. "$RVIRTIO_LIB"

check "modprobe rvirtio_rng" modprobe rvirtio_rng
expect_eq "rng_current" "$(cat /sys/class/misc/hw_random/rng_current)" rvirtio_rng.0
head -c 16384 /dev/hwrng >/tmp/part.bin || fail "reading /dev/hwrng failed"
expect_eq "read 16 KiB in partial fills" "$(wc -c </tmp/part.bin)" 16384
nonzero=$(tr -d '\000' </tmp/part.bin | wc -c)
zeros=$((16384 - nonzero))
echo "zero bytes: $zeros of 16384 (chance: about 64)"
[ "$zeros" -lt 200 ] || fail "$zeros zero bytes: bytes the device did not write were returned"
rng_fips 25000
check "rmmod" rmmod rvirtio_rng
no_kernel_errors
