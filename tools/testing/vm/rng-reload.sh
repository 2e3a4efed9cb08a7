#!/bin/sh
# 50 rounds of modprobe, read, rmmod: no oops, no warning (the guest
# panics on one), no DMA-API debug complaint (a mapping left behind at
# unbind is one), the module unloads every time, and unreclaimable slab
# memory does not grow. The precise leak check (kmemleak) is rng-leak.sh.
# Over PCI (pc) and virtio-mmio version 1 and 2 (microvm).
# rvirtio-test: timeout=600 machines=pc,microvm,microvm-v2
# rvirtio-qemu[pc]: -device virtio-rng-pci,disable-legacy=on
# rvirtio-qemu[microvm*]: -device virtio-rng-device
. "$RVIRTIO_LIB"

sunreclaim() { sed -n 's/^SUnreclaim: *\([0-9]*\) kB/\1/p' /proc/meminfo; }
round() {
	modprobe rvirtio_rng || fail "modprobe, round $1"
	head -c 4096 /dev/hwrng >/tmp/r || fail "read, round $1"
	[ "$(wc -c </tmp/r)" = 4096 ] || fail "short read, round $1"
	rmmod rvirtio_rng || fail "rmmod, round $1"
}
# Warm up caches before measuring.
round 0
round 1
before=$(sunreclaim)
i=2
while [ $i -lt 50 ]; do
	round $i
	i=$((i + 1))
done
after=$(sunreclaim)
echo "ok: 50 rounds; SUnreclaim ${before} kB -> ${after} kB"
grep -q '^rvirtio_rng ' /proc/modules && fail "still loaded"
# A leak of one 512-byte buffer a round would be 24 kB; allow noise.
[ $((after - before)) -lt 256 ] || fail "unreclaimable slab grew by $((after - before)) kB over 48 rounds"
if dmesg | grep "DMA-API" | grep -Ev "preallocated .* debug entries|debugging enabled by kernel config"; then
	fail "DMA-API debug complained (above)"
fi
echo "ok: no DMA-API debug complaint"
no_kernel_errors
