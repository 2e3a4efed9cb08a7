#!/bin/sh
# Every KUnit suite of the project, from its test modules: the core's
# (rvirtio_core_test: the split ring and the PCI capability parser against
# in-kernel fake devices, the virtio-mmio transport against a fake register
# window, DMA addressing) and every driver's or sample's *_kunit module.
# Each is loaded and unloaded; its suites run at load, and make check
# collects their KTAP from the console (a suite named below that does not
# run, fails or does not finish fails this test). With a virtio-blk and a
# virtio-rng device present, the test modules bind neither.
# rvirtio-test: timeout=300 disks=16M kunit=rvirtio_split_ring,rvirtio_pci_caps,rvirtio_mmio,rvirtio_dma,rvirtio_blk,rvirtio_net,rvirtio_net_proto,rvirtio_console,rvirtio_sample
# rvirtio-qemu: -drive if=none,id=d0,file=@DISK0@,format=raw
# rvirtio-qemu: -device virtio-blk-pci,drive=d0,disable-legacy=on,addr=0x5
# rvirtio-qemu: -device virtio-rng-pci,disable-legacy=on,addr=0x6
. "$RVIRTIO_LIB"

updates=/lib/modules/$(uname -r)/updates
mods=$(find "$updates" -name '*_kunit.ko' -o -name rvirtio_core_test.ko | sed 's|.*/||;s|\.ko$||' | sort)
echo "test modules: $(echo $mods)"
for m in rvirtio_core_test rvirtio_blk_kunit rvirtio_console_kunit rvirtio_sample_kunit; do
	echo "$mods" | grep -qx "$m" || fail "test module $m is not installed"
done

for m in $mods; do
	check "modprobe $m" modprobe "$m"
done

step "the test modules bind no device"
expect_eq "driver of the virtio-blk device" "$(driver_of 0000:00:05.0)" ""
expect_eq "driver of the virtio-rng device" "$(driver_of 0000:00:06.0)" ""
check "no vd disk" sh -c '! ls -d /sys/block/vd* 2>/dev/null'

for m in $mods; do
	check "rmmod $m" rmmod "$m"
done
no_kernel_errors
