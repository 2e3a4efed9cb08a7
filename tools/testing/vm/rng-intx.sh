#!/bin/sh
# rvirtio_rng with MSI-X disabled (vectors=0): interrupts come through INTx
# and the ISR register.
# rvirtio-test: timeout=300
# rvirtio-qemu: -device virtio-rng-pci,disable-legacy=on,vectors=0
. "$RVIRTIO_LIB"

check "modprobe rvirtio_rng" modprobe rvirtio_rng
check "INTx interrupts" dmesg_has "rvirtio_rng .*: modern interface, 1 queue\(s\), Intx interrupts"
rng_read_1mib
rng_fips
check "the INTx line counted interrupts" sh -c 'grep rvirtio_rng /proc/interrupts | grep -qv " 0 *0 "'
check "rmmod" rmmod rvirtio_rng
no_kernel_errors
