#!/bin/sh
# The guest has what later tests rely on: the workload tools run, modprobe
# resolves the kernel's own modules, and the file systems are mounted.
# rvirtio-test: timeout=90
# rvirtio-qemu: -device virtio-rng-pci,disable-legacy=on
. "$RVIRTIO_LIB"

step "workload tools run"
check "fio" fio --version
check "mkfs.ext4" sh -c 'mkfs.ext4 -V 2>&1 | grep -q mke2fs'
check "e2fsck" sh -c 'e2fsck -V 2>&1 | grep -q e2fsck'
check "ip" ip -V
check "ip netns" sh -c 'ip netns add t && ip netns exec t ip link show lo >/dev/null && ip netns del t'
check "ethtool" ethtool --version
check "iperf3" sh -c 'iperf3 --version | grep -q iperf'
check "rngtest" sh -c 'rngtest --version 2>&1 | grep -q rngtest'
check "stty" stty -a
check "modprobe is kmod" sh -c "modprobe --version | grep -q kmod"
check "sha256sum" sh -c 'echo abc | sha256sum | grep -q ^edeaaff3f1774ad2888673770c6d64097e391bc362d7d6fb34982ddf0efd18cb'
check "blkdiscard" blkdiscard -V

step "mounts"
check "debugfs" test -d /sys/kernel/debug/kunit
check "devtmpfs" test -c /dev/null

step "modprobe resolves the kernel's C virtio modules (for A/B runs)"
check "modprobe virtio_pci" modprobe virtio_pci
check "virtio_pci is live" grep -q '^virtio_pci ' /proc/modules
check "virtio_pci created a virtio device for the rng" sh -c "ls /sys/bus/virtio/devices/ | grep -q virtio"
check "modprobe -r virtio_pci" modprobe -r virtio_pci
