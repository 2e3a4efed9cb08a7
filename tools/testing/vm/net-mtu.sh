#!/bin/sh
# rvirtio_net with the MTU feature: two NICs on the bridge topology with
# MTU 9000 (host_mtu=9000, the bridge and taps at 9000): the interfaces
# start at the device's MTU, which is also their largest; ping of many
# sizes up to 8972 bytes and a 64 MiB file over TCP both ways with
# matching sha256 at the far end. The first NIC is offered no receive GSO
# (guest_tso4/6=off: mergeable buffers carrying MTU-sized frames only),
# the second the full set (GSO packets up to 64 KiB in mergeable buffers).
# On PCI and on virtio-mmio version 2 (microvm-v2).
# rvirtio-test: timeout=600 net=bridge,mtu=9000 machines=pc,microvm-v2
# rvirtio-qemu: -netdev tap,id=n0,ifname=rvtap0,script=no,downscript=no
# rvirtio-qemu: -netdev tap,id=n1,ifname=rvtap1,script=no,downscript=no
# rvirtio-qemu[pc]: -device virtio-net-pci,netdev=n0,disable-legacy=on,addr=0x5,host_mtu=9000,guest_tso4=off,guest_tso6=off,guest_ecn=off,guest_ufo=off
# rvirtio-qemu[pc]: -device virtio-net-pci,netdev=n1,disable-legacy=on,addr=0x6,host_mtu=9000
# rvirtio-qemu[microvm*]: -device virtio-net-device,netdev=n0,host_mtu=9000,guest_tso4=off,guest_tso6=off,guest_ecn=off,guest_ufo=off
# rvirtio-qemu[microvm*]: -device virtio-net-device,netdev=n1,host_mtu=9000
. "$RVIRTIO_LIB"

check "modprobe rvirtio_net" modprobe rvirtio_net
net_wait_ifaces rvirtio_net 2
set -- $(net_ifaces rvirtio_net)
a=$1 b=$2
expect_eq "$a MTU from the device" "$(cat /sys/class/net/$a/mtu)" 9000
check "$a refuses an MTU above the device's" sh -c "! ip link set $a mtu 9001 2>/dev/null"
expect_eq "$a GRO_HW off without receive GSO" \
	"$(ethtool -k "$a" | sed -n 's/^rx-gro-hw: \([a-z]*\).*/\1/p')" off
expect_eq "$b GRO_HW on with receive GSO" \
	"$(ethtool -k "$b" | sed -n 's/^rx-gro-hw: \([a-z]*\).*/\1/p')" on
net_pair "$a" "$b"
net_ping_sizes nsa 10.0.0.2 8972

net_make_file 64
net_transfer nsa 10.0.0.1 nsb
net_transfer nsb 10.0.0.2 nsa
expect_eq "$a rx_length_errors" "$(ip netns exec nsa cat /sys/class/net/$a/statistics/rx_length_errors)" 0
expect_eq "$b rx_length_errors" "$(ip netns exec nsb cat /sys/class/net/$b/statistics/rx_length_errors)" 0
no_kernel_errors
