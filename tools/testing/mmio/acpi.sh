#!/bin/sh
# microvm (ACPI LNRO0005): rvirtio_rng delivers from /dev/hwrng and
# rvirtio_blk holds an ext4 file system that e2fsck finds clean, each module
# taking only its own device type; run by tools/testing/mmio/run.
. "$RVIRTIO_LIB"
step "devices"
for d in /sys/bus/platform/devices/LNRO0005:*; do echo "$d driver=$(basename "$(readlink "$d/driver" 2>/dev/null)")"; done
check "modprobe rvirtio_blk" modprobe rvirtio_blk
check "modprobe rvirtio_rng" modprobe rvirtio_rng
for d in /sys/bus/platform/devices/LNRO0005:*; do echo "$d driver=$(basename "$(readlink "$d/driver" 2>/dev/null)")"; done
dmesg | grep -i "rvirtio\|LNRO" | tail -20
cat /proc/interrupts | grep rvirtio
expect_eq "rng_current" "$(cat /sys/class/misc/hw_random/rng_current)" rvirtio_rng.0
check "read 64 KiB from /dev/hwrng" sh -c 'dd if=/dev/hwrng of=/tmp/r bs=4096 count=16 2>/dev/null && [ $(wc -c </tmp/r) -eq 65536 ]'
od -An -tx1 -N16 /tmp/r
check "rvda exists" test -b /dev/rvda
check "mkfs.ext4" mkfs.ext4 -q -F /dev/rvda
check "mount" mount /dev/rvda /mnt
check "write a file" sh -c 'dd if=/tmp/r of=/mnt/f bs=4096 count=16 2>/dev/null && sync'
check "umount" umount /mnt
check "e2fsck clean" e2fsck -fn /dev/rvda
check "mount again" mount /dev/rvda /mnt
check "file intact" cmp /tmp/r /mnt/f
check "umount" umount /mnt
cat /proc/interrupts | grep rvirtio
check "rmmod rvirtio_rng" rmmod rvirtio_rng
check "rmmod rvirtio_blk" rmmod rvirtio_blk
no_kernel_errors
