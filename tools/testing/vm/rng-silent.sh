#!/bin/sh
# rvirtio_rng on a device that never returns data (a QEMU rate limit of one
# byte per 49 days: silent after its first byte). The hwrng core's kthread
# reads it too, with the core's reading_mutex held, so every check below
# also proves that the kthread does not hold the device (and the mutex)
# for good:
# - a blocking read (`timeout 5 dd`) ends on its signal;
# - a non-blocking read returns EAGAIN at once, with no data;
# - a blocked reader is woken by unbind, which completes (and stops the
#   kthread), and by rmmod after a rebind.
# Over PCI (pc) and virtio-mmio version 1 and 2 (microvm).
# rvirtio-test: timeout=300 machines=pc,microvm,microvm-v2
# rvirtio-qemu: -object rng-random,id=silent,filename=/dev/urandom
# rvirtio-qemu[pc]: -device virtio-rng-pci,rng=silent,max-bytes=1,period=4294967295,disable-legacy=on,addr=0x5
# rvirtio-qemu[microvm*]: -device virtio-rng-device,rng=silent,max-bytes=1,period=4294967295
. "$RVIRTIO_LIB"

check "modprobe rvirtio_rng" modprobe rvirtio_rng
dev=$(bound_devices rvirtio_rng)
[ -n "$dev" ] || fail "rvirtio_rng bound no device"
expect_eq "rng_current" "$(cat /sys/class/misc/hw_random/rng_current)" rvirtio_rng.0
# Let the hwrng core (early randomness, its kthread) take the one byte and
# start waiting on the silent device.
sleep 2

step "a blocking read ends on a signal"
rm -f /tmp/dd.done
(timeout 5 dd if=/dev/hwrng of=/tmp/dd.out bs=64 count=1 status=none; echo $? >/tmp/dd.done) &
wait_for /tmp/dd.done 15
expect_eq "dd was ended by timeout's signal" "$(cat /tmp/dd.done)" 124
expect_eq "no data from the silent device" "$(wc -c </tmp/dd.out)" 0
rm -f /tmp/dd.done
(timeout -s INT 3 dd if=/dev/hwrng of=/dev/null bs=64 count=1 status=none; echo $? >/tmp/dd.done) &
wait_for /tmp/dd.done 15
echo "ok: SIGINT ended the reader (status $(cat /tmp/dd.done))"

step "a non-blocking read returns EAGAIN at once"
for i in 1 2 3; do
	rm -f /tmp/nb.done
	(dd if=/dev/hwrng of=/tmp/nb.bin bs=64 count=1 iflag=nonblock status=none 2>/tmp/nb.err
	 echo $? >/tmp/nb.done) &
	wait_for /tmp/nb.done 3
	check "EAGAIN" grep -q "Resource temporarily unavailable" /tmp/nb.err
	expect_eq "no data" "$(wc -c </tmp/nb.bin)" 0
done

step "unbind wakes a blocked reader and completes"
rm -f /tmp/reader.done
(head -c 64 /dev/hwrng >/tmp/blocked.out; echo $? >/tmp/reader.done) &
sleep 2
check "the reader is blocked" test ! -e /tmp/reader.done
rm -f /tmp/unbind.done
(unbind_device "$dev"; echo $? >/tmp/unbind.done) &
wait_for /tmp/unbind.done 30
expect_eq "unbind succeeded" "$(cat /tmp/unbind.done)" 0
wait_for /tmp/reader.done 10
echo "ok: the reader ended with status $(cat /tmp/reader.done)"
expect_eq "no hwrng after unbind" "$(cat /sys/class/misc/hw_random/rng_current)" none

step "rmmod wakes a blocked reader"
check "rebind" bind_device "$dev" rvirtio_rng
expect_eq "bound again" "$(driver_of "$dev")" rvirtio_rng
rm -f /tmp/reader.done
(head -c 64 /dev/hwrng >/dev/null; echo $? >/tmp/reader.done) &
sleep 2
check "the reader is blocked" test ! -e /tmp/reader.done
rm -f /tmp/rmmod.done
(rmmod rvirtio_rng; echo $? >/tmp/rmmod.done) &
wait_for /tmp/rmmod.done 30
expect_eq "rmmod succeeded" "$(cat /tmp/rmmod.done)" 0
wait_for /tmp/reader.done 10
no_kernel_errors
