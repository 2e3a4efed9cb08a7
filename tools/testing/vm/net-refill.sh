#!/bin/sh
# rvirtio_net's receive refill under memory pressure: with every
# non-sleeping page allocation failing (fail_page_alloc), a UDP stream
# (iperf3) from a NIC driven by the C virtio_net, whose transmit path
# allocates nothing, into one driven by rvirtio_net uses up the
# receiver's ring (debugfs: every descriptor free) and the refill cannot
# post new buffers; the ring stays empty while the fault lasts. Once
# allocations succeed again, with the ring empty (so the device can raise
# no receive interrupt), the refill work posts buffers again by itself,
# and ping and a file transfer work after.
# rvirtio-test: timeout=300
# rvirtio-qemu: -netdev hubport,id=h0,hubid=0
# rvirtio-qemu: -device virtio-net-pci,netdev=h0,disable-legacy=on,addr=0x5
# rvirtio-qemu: -netdev hubport,id=h1,hubid=0
# rvirtio-qemu: -device virtio-net-pci,netdev=h1,disable-legacy=on,addr=0x6
. "$RVIRTIO_LIB"

fpa=/sys/kernel/debug/fail_page_alloc
check "fail_page_alloc is available" test -w $fpa/probability
check "modprobe rvirtio_net" modprobe rvirtio_net
net_wait_ifaces rvirtio_net 2
# The sender runs the C virtio_net, whose transmit path allocates nothing
# (an indirect table it cannot get falls back to direct descriptors): it
# keeps sending while allocations fail; the receiver is rvirtio_net's.
unbind_device /sys/bus/pci/devices/0000:00:05.0 || fail "unbinding the sender from rvirtio_net"
check "modprobe virtio_pci virtio_net (the sender)" sh -c "modprobe virtio_pci && modprobe virtio_net"
n=0
until ls /sys/bus/pci/devices/0000:00:05.0/virtio*/net/ >/dev/null 2>&1; do
	n=$((n + 1))
	[ $n -lt 100 ] || fail "the C virtio_net made no interface for the sender"
	sleep 0.1
done
iface_a=$(ls /sys/bus/pci/devices/0000:00:05.0/virtio*/net/)
iface_b=$(net_ifaces rvirtio_net)
echo "sender $iface_a (C virtio_net), receiver $iface_b (rvirtio_net)"
net_pair "$iface_a" "$iface_b"
q=/sys/kernel/debug/rvirtio_net/0000:00:06.0/queues
stat() { # NS NAME: a counter of the receiver
	ip netns exec "$1" cat "/sys/class/net/$iface_b/statistics/$2"
}
rxq() { # the receiver's receive queue: "SIZE FREE"
	sed -n 's/^queue 0: size \([0-9]*\) free \([0-9]*\) .*/\1 \2/p' $q
}
set -- $(rxq)
size=$1
[ -n "$size" ] || fail "no receive queue in $q"
echo "receiver's ring: $(rxq) (size, free)"
net_ping_sizes nsa 10.0.0.2 1472
# A UDP stream at 20 Mbit/s (iperf3, started before the fault so that
# its control connection is up; its end is not waited for).
ip netns exec nsb iperf3 -s -1 -D -B 10.0.0.2 >/dev/null || fail "iperf3 server"
net_listening nsb 5201
ip netns exec nsa timeout 20 iperf3 -c 10.0.0.2 -u -b 20M -t 12 >/dev/null 2>&1 &
sender=$!
sleep 2

step "atomic page allocations fail"
echo 0 >$fpa/space
echo 100000000 >$fpa/times
echo 1 >$fpa/interval
echo 0 >$fpa/verbose
echo Y >$fpa/ignore-gfp-wait
echo 0 >$fpa/min-order
echo 100 >$fpa/probability
n=0
until [ "$(rxq)" = "$size $size" ]; do
	n=$((n + 1))
	[ $n -le 50 ] || {
		echo 0 >$fpa/probability
		fail "the receive ring never emptied: $(rxq); $(stat nsb rx_packets) packets, $(stat nsb rx_dropped) dropped, $((100000000 - $(cat $fpa/times))) allocations failed"
	}
	sleep 0.1
done
echo "ok: the receive ring emptied under the fault ($(rxq))"
sleep 1
expect_eq "the ring stays empty while allocations fail" "$(rxq)" "$size $size"
echo 0 >$fpa/probability
echo "fault injection off: $((100000000 - $(cat $fpa/times))) allocations failed"

step "recovery"
n=0
until [ "$(rxq)" != "$size $size" ]; do
	n=$((n + 1))
	[ $n -le 50 ] || fail "the refill work never refilled the ring: $(rxq)"
	sleep 0.1
done
echo "ok: the refill work posted buffers again with no traffic ($(rxq))"
kill $sender 2>/dev/null
wait $sender 2>/dev/null
ip netns exec nsb sh -c 'kill $(pidof iperf3)' 2>/dev/null
net_ping_sizes nsa 10.0.0.2 1472
net_make_file 16
net_transfer nsa 10.0.0.1 nsb
net_transfer nsb 10.0.0.2 nsa
ip netns del nsa
ip netns del nsb
check "rmmod rvirtio_net" rmmod rvirtio_net
check "rmmod virtio_net virtio_pci" sh -c "rmmod virtio_net && rmmod virtio_pci"
no_kernel_errors
