#!/bin/sh
# The KUnit suite rvirtio_console (drivers/char/tests): the hvc and chardev
# shims' ABI and layouts, and the control protocol's parsing, validation,
# port state machine and violation limit as the kernel build compiles it.
# Loading it binds nothing (a virtio-serial device is present and stays
# unbound).
# rvirtio-test: timeout=300 kunit=rvirtio_console
# rvirtio-qemu: -device virtio-serial-pci,id=vser0,disable-legacy=on,addr=0x5
. "$RVIRTIO_LIB"

check "modprobe rvirtio_console_kunit" modprobe rvirtio_console_kunit
check "rmmod rvirtio_console_kunit" rmmod rvirtio_console_kunit
[ -z "$(ls /sys/class/virtio-ports 2>/dev/null)" ] || fail "the test module made ports"
no_kernel_errors
