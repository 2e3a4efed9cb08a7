#!/bin/sh
# The command-line route to virtio-mmio, without ACPI (microvm acpi=off,
# version 1 and 2): QEMU appends virtio_mmio.device=<size>@<base>:<irq>
# to the kernel command line for each transport. The rvirtio drivers take
# the same words as their module parameter `device`: each module is given
# all of them and binds the one of its own type (an rng and a disk here),
# which then works. The C virtio_mmio module is never loaded.
# rvirtio-test: timeout=300 disks=64M machines=microvm-noacpi,microvm-noacpi-v2
# rvirtio-qemu: -drive if=none,id=d0,file=@DISK0@,format=raw
# rvirtio-qemu: -device virtio-rng-device -device virtio-blk-device,drive=d0
. "$RVIRTIO_LIB"

step "the transports QEMU put on the command line"
params=$(tr ' ' '\n' </proc/cmdline | sed -n 's/^virtio_mmio\.device=/device=/p')
echo "$params"
expect_eq "two virtio_mmio.device= words" "$(echo "$params" | grep -c .)" 2
expect_eq "no ACPI transports" "$(mmio_devices)" ""

step "each module gets every transport and binds its own type"
check "modprobe rvirtio_rng" modprobe rvirtio_rng $params
check "modprobe rvirtio_blk" modprobe rvirtio_blk $params
rng=$(bound_devices rvirtio_rng)
blk=$(bound_devices rvirtio_blk)
expect_eq "rvirtio_rng bound one device" "$(echo "$rng" | grep -c .)" 1
expect_eq "rvirtio_blk bound one device" "$(echo "$blk" | grep -c .)" 1
expect_mmio_bound "$rng" rvirtio_rng
expect_mmio_bound "$blk" rvirtio_blk

step "they work"
rng_read_1mib
rng_fips
wait_for /sys/block/vda 10
check "fio verify on vda" fio --name=v --filename=/dev/vda --rw=randrw --bs=4k --size=16M \
	--iodepth=16 --ioengine=libaio --direct=1 --verify=crc32c --verify_fatal=1 \
	--eta=never --output=/tmp/fio.out

no_c_virtio_mmio
check "rmmod rvirtio_blk" rmmod rvirtio_blk
check "rmmod rvirtio_rng" rmmod rvirtio_rng
no_kernel_errors
