#!/bin/sh
# kmemleak over 3 rounds of modprobe, read, rmmod (and a rebind): nothing
# allocated by rvirtio is left unreferenced. (Each round allocates and
# frees the same objects, so a leak shows up in any round; kmemleak makes
# every allocation slow under TCG, hence 3 rounds here and 50 in
# rng-reload.sh.) Over PCI (pc) and virtio-mmio version 1 and 2 (microvm).
# rvirtio-test: timeout=600 append=kmemleak=on machines=pc,microvm,microvm-v2
# rvirtio-qemu[pc]: -device virtio-rng-pci,disable-legacy=on,addr=0x5
# rvirtio-qemu[microvm*]: -device virtio-rng-device
. "$RVIRTIO_LIB"

check "kmemleak is active" test -w /sys/kernel/debug/kmemleak
dmesg_has "kmemleak: Kernel memory leak detector disabled" && fail "kmemleak is disabled"
i=0
while [ $i -lt 3 ]; do
	modprobe rvirtio_rng || fail "modprobe, round $i"
	dev=$(bound_devices rvirtio_rng)
	[ -n "$dev" ] || fail "no device bound, round $i"
	head -c 4096 /dev/hwrng >/tmp/r || fail "read, round $i"
	unbind_device "$dev" || fail "unbind, round $i"
	bind_device "$dev" rvirtio_rng || fail "bind, round $i"
	head -c 4096 /dev/hwrng >/tmp/r || fail "read after rebind, round $i"
	rmmod rvirtio_rng || fail "rmmod, round $i"
	i=$((i + 1))
done
echo "ok: 3 rounds"
kmemleak_none_from rvirtio_rng
no_kernel_errors
