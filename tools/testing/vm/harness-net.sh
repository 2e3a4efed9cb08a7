#!/bin/sh
# The runner's network topologies, checked with the kernel's C virtio_net
# (the reference the net tests and benchmark compare with):
# - net=bridge: QEMU in a host network namespace of its own, two vnet_hdr
#   taps on a bridge; each is the backend of one NIC, each NIC in its own
#   guest namespace. Traffic crosses both devices and the bridge, and the
#   devices offer the offloads (checksum, TSO), which the driver shows.
# - QEMU's hub backend (no vnet_hdr): two NICs joined inside QEMU; the
#   devices offer no offloads.
# rvirtio-test: timeout=300 net=bridge
# rvirtio-qemu: -netdev tap,id=n0,ifname=rvtap0,script=no,downscript=no
# rvirtio-qemu: -device virtio-net-pci,netdev=n0,disable-legacy=on,addr=0x5,mac=52:54:00:00:00:01
# rvirtio-qemu: -netdev tap,id=n1,ifname=rvtap1,script=no,downscript=no
# rvirtio-qemu: -device virtio-net-pci,netdev=n1,disable-legacy=on,addr=0x6,mac=52:54:00:00:00:02
# rvirtio-qemu: -netdev hubport,id=h0,hubid=0
# rvirtio-qemu: -device virtio-net-pci,netdev=h0,disable-legacy=on,addr=0x7,mac=52:54:00:00:00:03
# rvirtio-qemu: -netdev hubport,id=h1,hubid=0
# rvirtio-qemu: -device virtio-net-pci,netdev=h1,disable-legacy=on,addr=0x8,mac=52:54:00:00:00:04
. "$RVIRTIO_LIB"

check "modprobe virtio_pci virtio_net" modprobe -a virtio_pci virtio_net
n=0
while [ "$(net_ifaces virtio_net | wc -l)" -lt 4 ]; do
	n=$((n + 1))
	[ $n -lt 100 ] || fail "virtio_net made $(net_ifaces virtio_net | wc -l) interfaces, not 4"
	sleep 0.1
done
set -- $(net_ifaces virtio_net)
tap_a=$1 tap_b=$2 hub_a=$3 hub_b=$4
echo "interfaces: taps $tap_a $tap_b, hub $hub_a $hub_b"

offload() { # IFACE FEATURE: the feature's state in ethtool -k
	ethtool -k "$1" 2>/dev/null | sed -n "s/^$2: \([a-z]*\).*/\1/p"
}
step "offloads: on with the vnet_hdr taps, off with the hub"
expect_eq "$tap_a tx-checksumming" "$(offload "$tap_a" tx-checksumming)" on
expect_eq "$tap_a tcp-segmentation-offload" "$(offload "$tap_a" tcp-segmentation-offload)" on
expect_eq "$hub_a tx-checksumming" "$(offload "$hub_a" tx-checksumming)" off
expect_eq "$hub_a tcp-segmentation-offload" "$(offload "$hub_a" tcp-segmentation-offload)" off

step "the bridge topology carries traffic between the namespaces"
net_pair "$tap_a" "$tap_b"
net_ping_sizes nsa 10.0.0.2 1472
ip netns exec nsb iperf3 -s -1 -D -B 10.0.0.2 >/dev/null || fail "iperf3 server"
sleep 0.5
ip netns exec nsa iperf3 -c 10.0.0.2 -t 3 -J >/tmp/iperf.json || fail "iperf3 over the taps"
bps=$(sed -n 's/.*"bits_per_second":[[:space:]]*\([0-9.e+]*\).*/\1/p' /tmp/iperf.json | tail -n1)
echo "ok: iperf3 TCP over the bridge: $bps bit/s"

step "the hub topology carries traffic between the namespaces"
ip netns del nsa
ip netns del nsb
net_pair "$hub_a" "$hub_b"
net_ping_sizes nsa 10.0.0.2 1472
no_kernel_errors
