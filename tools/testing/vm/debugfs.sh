#!/bin/sh
# Per-device state in debugfs, on PCI and on virtio-mmio: each bound
# rvirtio device has /sys/kernel/debug/<module>/<device>/device (device id,
# transport, status with DRIVER_OK, offered and negotiated features, DMA
# addressing and segment size) and
# .../queues (per queue: size, ring, and the counters: added, kicks,
# interrupts, spurious, used, violations). Reading the disk makes the
# disk's counters (summed over its queues) move (buffers added and used, kicks, interrupts), with no
# protocol violation; unbinding removes the device's directory and
# unloading the module removes the module's.
# rvirtio-test: timeout=240 disks=16M machines=pc,microvm-v2
# rvirtio-qemu: -drive if=none,id=d0,file=@DISK0@,format=raw
# rvirtio-qemu[pc]: -device virtio-blk-pci,drive=d0,disable-legacy=on,addr=0x5
# rvirtio-qemu[pc]: -device virtio-rng-pci,disable-legacy=on,addr=0x6
# rvirtio-qemu[microvm*]: -device virtio-blk-device,drive=d0 -device virtio-rng-device
. "$RVIRTIO_LIB"

case $RVIRTIO_MACHINE in
microvm*) transport=MmioModern ;;
*) transport=PciModern ;;
esac

check "modprobe rvirtio_blk" modprobe rvirtio_blk
check "modprobe rvirtio_rng" modprobe rvirtio_rng
wait_for /sys/block/vda 10
blkdev=$(readlink -f /sys/block/vda/device)
blk=$(basename "$blkdev")
echo "disk device: $blk"
d=/sys/kernel/debug/rvirtio_blk/$blk
check "the disk's debugfs directory" test -d "$d"
cat "$d/device" "$d/queues"

step "device"
check "device id 2 (block)" grep -qx "device id: 2" "$d/device"
check "transport $transport" grep -qx "transport: $transport" "$d/device"
check "status has DRIVER_OK and FEATURES_OK (0x0f)" grep -qx "status: 0x0f" "$d/device"
check "offered features" grep -q "^offered: Features(0x" "$d/device"
check "negotiated features include VERSION_1 (bit 32)" grep -q "^negotiated: Features(0x[0-9a-f]*_[0-9a-f]*_0000000[13579bdf]_" "$d/device"
check "physical addressing (no ACCESS_PLATFORM)" grep -qx "addressing: physical addresses" "$d/device"
check "the DMA segment size" grep -qx "dma max segment: [0-9]*" "$d/device"

step "queues"
check "queue 0 is a split ring" grep -q "^queue 0: size [0-9]* free [0-9]* ring split" "$d/queues"
# count NAME: counter NAME summed over the disk's queues.
count() { sed -n "s/^queue [0-9]*: .* $1 \([0-9]*\).*/\1/p" "$d/queues" | awk '{ s += $1 } END { print s + 0 }'; }
a0=$(count added); u0=$(count used); i0=$(count interrupts); k0=$(count kicks)
check "read 4 MiB from the disk, direct" dd if=/dev/vda of=/dev/null bs=64k count=64 iflag=direct status=none
a1=$(count added); u1=$(count used); i1=$(count interrupts); k1=$(count kicks)
echo "added $a0 -> $a1, used $u0 -> $u1, interrupts $i0 -> $i1, kicks $k0 -> $k1"
check "at least 64 buffers added" test $((a1 - a0)) -ge 64
check "as many used as added" test $((u1 - u0)) -eq $((a1 - a0))
check "kicks counted" test "$k1" -gt "$k0"
check "interrupts counted" test "$i1" -gt "$i0"
expect_eq "no violations" "$(count violations)" 0

step "the rng has its own directory under its module"
r=$(ls /sys/kernel/debug/rvirtio_rng)
check "one rng device" test -n "$r"
check "device id 4" grep -qx "device id: 4" "/sys/kernel/debug/rvirtio_rng/$r/device"

step "removal"
unbind_device "$blkdev"
check "unbinding removes the device's directory" test ! -e "$d"
check "rmmod rvirtio_blk" rmmod rvirtio_blk
check "rmmod rvirtio_rng" rmmod rvirtio_rng
check "unloading removes the modules' directories" sh -c '! ls -d /sys/kernel/debug/rvirtio_blk /sys/kernel/debug/rvirtio_rng 2>/dev/null'
no_kernel_errors
