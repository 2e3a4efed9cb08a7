#!/bin/sh
# microvm acpi=off: the devices come from the device= parameter, given the
# same list in both modules; each creates only its own type. Run by
# tools/testing/mmio/run.
. "$RVIRTIO_LIB"
cat /proc/cmdline
list=$(tr ' ' '\n' </proc/cmdline | sed -n 's/^virtio_mmio\.device=//p' | tr '\n' ',')
echo "list=$list"
[ -n "$list" ] || fail "QEMU gave no virtio_mmio.device="
check "modprobe rvirtio_rng device=<list>" modprobe rvirtio_rng device="$list"
check "modprobe rvirtio_blk device=<list>" modprobe rvirtio_blk device="$list"
ls /sys/bus/platform/devices/ | grep rvirtio
for d in /sys/bus/platform/devices/rvirtio_*; do echo "$d driver=$(basename "$(readlink "$d/driver" 2>/dev/null)")"; done
cat /sys/module/rvirtio_rng/parameters/device
dmesg | grep -E "rvirtio_(rng|blk)" | grep -v "ok \|# \|Subtest\|invalid" | tail -12
expect_eq "rng_current" "$(cat /sys/class/misc/hw_random/rng_current)" rvirtio_rng.0
check "read 64 KiB from /dev/hwrng" sh -c 'dd if=/dev/hwrng of=/tmp/r bs=4096 count=16 2>/dev/null && [ $(wc -c </tmp/r) -eq 65536 ]'
check "mkfs.ext4" mkfs.ext4 -q -F /dev/rvda
check "e2fsck clean" e2fsck -fn /dev/rvda
grep rvirtio /proc/interrupts
check "rmmod rvirtio_rng" rmmod rvirtio_rng
check "rmmod rvirtio_blk" rmmod rvirtio_blk
check "the parameter's devices are gone" sh -c '! ls /sys/bus/platform/devices/ | grep -q rvirtio'
check "modprobe with a malformed entry fails" sh -c '! modprobe rvirtio_rng device=0x200@0x1000'
dmesg | tail -3
no_kernel_errors
