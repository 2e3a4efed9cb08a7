#!/bin/sh
# Unbind and rebind while a reader is blocked on a starved device (QEMU
# rate limit: 64 bytes a minute): the reader is woken with an error, the
# unbind does not hang, and the device works again after rebinding. Over
# PCI (pc) and virtio-mmio version 1 and 2 (microvm).
# rvirtio-test: timeout=300 machines=pc,microvm,microvm-v2
# rvirtio-qemu: -object rng-random,id=slow,filename=/dev/urandom
# rvirtio-qemu[pc]: -device virtio-rng-pci,rng=slow,max-bytes=64,period=60000,disable-legacy=on,addr=0x5
# rvirtio-qemu[microvm*]: -device virtio-rng-device,rng=slow,max-bytes=64,period=60000
. "$RVIRTIO_LIB"

check "modprobe rvirtio_rng quality=0" modprobe rvirtio_rng
dev=$(bound_devices rvirtio_rng)
[ -n "$dev" ] || fail "rvirtio_rng bound no device"
# Use up the device's quota (the hwrng core may have taken some already).
timeout 5 dd if=/dev/hwrng of=/dev/null bs=64 count=4 iflag=nonblock status=none
step "a non-blocking read on the starved device does not sleep"
nonblock_read_prompt
nonblock_read_prompt
(head -c 4096 /dev/hwrng >/tmp/blocked.out; echo $? >/tmp/reader.done) &
sleep 2
check "the reader is blocked" test ! -e /tmp/reader.done
check "unbind with the reader blocked" timeout 30 sh -c ". $RVIRTIO_LIB; unbind_device $dev"
wait_for /tmp/reader.done 10
echo "reader ended with status $(cat /tmp/reader.done)"
expect_eq "no hwrng after unbind" "$(cat /sys/class/misc/hw_random/rng_current)" none
check "rebind" bind_device "$dev" rvirtio_rng
expect_eq "bound again" "$(driver_of "$dev")" rvirtio_rng
check "registered again" grep -q rvirtio_rng.1 /sys/class/misc/hw_random/rng_available
check "unbind again, no reader" unbind_device "$dev"
check "rmmod" rmmod rvirtio_rng
no_kernel_errors
