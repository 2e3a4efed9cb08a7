#!/bin/sh
# rvirtio_net on transitional NICs driven through their legacy interface
# (force_legacy=1), joined by QEMU's hub: the first without MRG_RXBUF, so
# its header is the legacy 10 bytes and it receives into small buffers;
# the second with MRG_RXBUF (12-byte header, mergeable buffers). Ping of
# many sizes up to the MTU and a 64 MiB file over TCP both ways with
# matching sha256 at the far end; no packet dropped as invalid.
# rvirtio-test: timeout=600
# rvirtio-qemu: -netdev hubport,id=h0,hubid=0
# rvirtio-qemu: -device virtio-net-pci,netdev=h0,disable-legacy=off,disable-modern=off,addr=0x5,mac=52:54:00:00:00:05,mrg_rxbuf=off
# rvirtio-qemu: -netdev hubport,id=h1,hubid=0
# rvirtio-qemu: -device virtio-net-pci,netdev=h1,disable-legacy=off,disable-modern=off,addr=0x6,mac=52:54:00:00:00:06
. "$RVIRTIO_LIB"

check "modprobe rvirtio_net force_legacy=1" modprobe rvirtio_net force_legacy=1
net_wait_ifaces rvirtio_net 2
check "legacy interfaces" dmesg_has "0000:00:05.0: legacy interface"
check "0000:00:05.0: small buffers, 10-byte header" \
	dmesg_has "0000:00:05.0: [0-9]+ receive buffers, mode Small, header 10 bytes"
check "0000:00:06.0: mergeable buffers, 12-byte header" \
	dmesg_has "0000:00:06.0: [0-9]+ receive buffers, mode Mergeable, header 12 bytes"
set -- $(net_ifaces rvirtio_net)
net_pair "$1" "$2"
net_ping_sizes nsa 10.0.0.2 1472

net_make_file 64
net_transfer nsa 10.0.0.1 nsb
net_transfer nsb 10.0.0.2 nsa
set -- $(ip netns exec nsa ls /sys/class/net | grep -v lo) $(ip netns exec nsb ls /sys/class/net | grep -v lo)
expect_eq "$1 rx_length_errors" "$(ip netns exec nsa cat /sys/class/net/$1/statistics/rx_length_errors)" 0
expect_eq "$2 rx_length_errors" "$(ip netns exec nsb cat /sys/class/net/$2/statistics/rx_length_errors)" 0
no_kernel_errors
