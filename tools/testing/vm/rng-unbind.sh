#!/bin/sh
# Unbind and rebind while a reader is blocked on a starved device (QEMU
# rate limit: 64 bytes a minute): the reader is woken with an error, the
# unbind does not hang, and the device works again after rebinding.
# rvirtio-test: timeout=300
# rvirtio-qemu: -object rng-random,id=slow,filename=/dev/urandom
# rvirtio-qemu: -device virtio-rng-pci,rng=slow,max-bytes=64,period=60000,disable-legacy=on,addr=0x5
. "$RVIRTIO_LIB"

addr=0000:00:05.0
drv=/sys/bus/pci/drivers/rvirtio_rng
check "modprobe rvirtio_rng quality=0" modprobe rvirtio_rng
# Use up the device's quota (the hwrng core may have taken some already).
timeout 5 dd if=/dev/hwrng of=/dev/null bs=64 count=4 iflag=nonblock status=none
step "a non-blocking read on the starved device does not sleep"
nonblock_read_prompt
nonblock_read_prompt
(head -c 4096 /dev/hwrng >/tmp/blocked.out; echo $? >/tmp/reader.done) &
sleep 2
check "the reader is blocked" test ! -e /tmp/reader.done
check "unbind with the reader blocked" timeout 30 sh -c "echo $addr > $drv/unbind"
wait_for /tmp/reader.done 10
echo "reader ended with status $(cat /tmp/reader.done)"
expect_eq "no hwrng after unbind" "$(cat /sys/class/misc/hw_random/rng_current)" none
check "rebind" sh -c "echo $addr > $drv/bind"
expect_eq "bound again" "$(driver_of $addr)" rvirtio_rng
check "registered again" grep -q rvirtio_rng.1 /sys/class/misc/hw_random/rng_available
check "unbind again, no reader" sh -c "echo $addr > $drv/unbind"
check "rmmod" rmmod rvirtio_rng
no_kernel_errors
