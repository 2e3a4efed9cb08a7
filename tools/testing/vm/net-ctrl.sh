#!/bin/sh
# rvirtio_net's control queue (CTRL_VQ with CTRL_RX, CTRL_VLAN and
# CTRL_MAC_ADDR) on the bridge topology, checked by what QEMU's receive
# filter lets through to the guest (the driver's rx_packets): after open
# the device is out of promiscuous mode (QEMU resets into it), so a frame
# to another unicast MAC is filtered; `ip link set promisc on` lets it
# through; a multicast group is filtered until joined (`ip maddr add`:
# MAC_TABLE_SET) and another until allmulticast is on; `ip link set
# address` goes through MAC_ADDR_SET (ping both ways with the new address,
# which QEMU filters by); a VLAN interface works (VLAN_ADD: QEMU drops
# tagged frames of VLANs not added) and a VLAN not added on the receiver
# is filtered (skipped, and said so, on a kernel without 802.1Q: the test
# kernel has no CONFIG_VLAN_8021Q); `ethtool -K rx-gro-hw off`, `rx off` and back on switch the
# receive offloads (GUEST_OFFLOADS_SET: a file crosses after each, in
# frames no larger than an MTU frame while GRO_HW is off, larger once it is
# back on, as QEMU then passes GSO frames); QMP
# announce-self makes the guest send a gratuitous ARP (nsb's stale
# neighbour entry is overwritten) and acknowledge it; no control command
# fails, no kernel errors, and the module unloads.
# rvirtio-test: timeout=600 net=bridge
# rvirtio-qemu: -netdev tap,id=n0,ifname=rvtap0,script=no,downscript=no
# rvirtio-qemu: -device virtio-net-pci,netdev=n0,disable-legacy=on,addr=0x5,mac=52:54:00:00:00:01
# rvirtio-qemu: -netdev tap,id=n1,ifname=rvtap1,script=no,downscript=no
# rvirtio-qemu: -device virtio-net-pci,netdev=n1,disable-legacy=on,addr=0x6,mac=52:54:00:00:00:02
. "$RVIRTIO_LIB"

check "modprobe rvirtio_net" modprobe rvirtio_net
net_wait_ifaces rvirtio_net 2
set -- $(net_ifaces rvirtio_net)
a=$1 b=$2
net_pair "$a" "$b"
for ns in nsa nsb; do
	ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 2>/dev/null
done
n=0
until [ "$(ip netns exec nsa cat /sys/class/net/$a/carrier 2>/dev/null)" = 1 ]; do
	n=$((n + 1))
	[ $n -lt 100 ] || fail "no carrier on $a"
	sleep 0.1
done
check "ping before any change" ip netns exec nsa ping -q -c 2 -W 5 10.0.0.2

rxa() {
	ip netns exec nsa cat /sys/class/net/$a/statistics/rx_packets
}

# burst FROM_NS ARGS...: 20 pings (answered or not), then a pause; prints
# how many packets nsa's NIC received meanwhile.
burst() {
	_ns=$1
	shift
	sleep 0.5
	_r0=$(rxa)
	ip netns exec "$_ns" ping -q -c 20 -i 0.05 -W 1 "$@" >/dev/null 2>&1
	sleep 0.5
	echo $(($(rxa) - _r0))
}

# delivered WHAT N / filtered WHAT N: N packets of 20 mean the device let
# them through, or filtered them.
delivered() {
	[ "$2" -ge 20 ] || fail "$1: only $2 of 20 frames reached the guest"
	echo "ok: $1: delivered ($2 packets)"
}
filtered() {
	[ "$2" -lt 5 ] || fail "$1: $2 frames reached the guest, the device should filter them"
	echo "ok: $1: filtered by the device ($2 packets)"
}

step "promiscuous mode (CTRL_RX_PROMISC)"
ip -n nsb neigh replace 10.0.0.1 lladdr 52:54:00:00:00:99 dev "$b" nud permanent
filtered "frames to another unicast MAC, promisc off" "$(burst nsb 10.0.0.1)"
check "ip link set promisc on" ip -n nsa link set "$a" promisc on
delivered "frames to another unicast MAC, promisc on" "$(burst nsb 10.0.0.1)"
check "ip link set promisc off" ip -n nsa link set "$a" promisc off
filtered "frames to another unicast MAC, promisc off again" "$(burst nsb 10.0.0.1)"
ip -n nsb neigh del 10.0.0.1 dev "$b"

step "multicast table (MAC_TABLE_SET) and allmulti (CTRL_RX_ALLMULTI)"
ip -n nsb route add 239.0.0.0/8 dev "$b" || fail "multicast route"
filtered "239.1.1.1 not joined" "$(burst nsb 239.1.1.1)"
check "ip maddr add 01:00:5e:01:01:01" ip -n nsa maddr add 01:00:5e:01:01:01 dev "$a"
delivered "239.1.1.1 joined" "$(burst nsb 239.1.1.1)"
filtered "239.1.1.2 not joined" "$(burst nsb 239.1.1.2)"
check "ip link set allmulticast on" ip -n nsa link set "$a" allmulticast on
delivered "239.1.1.2 with allmulti" "$(burst nsb 239.1.1.2)"
check "ip link set allmulticast off" ip -n nsa link set "$a" allmulticast off
filtered "239.1.1.2 without allmulti" "$(burst nsb 239.1.1.2)"
check "ip maddr del" ip -n nsa maddr del 01:00:5e:01:01:01 dev "$a"
filtered "239.1.1.1 left" "$(burst nsb 239.1.1.1)"

step "ip link set address (MAC_ADDR_SET)"
check "ip link set address 52:54:00:00:00:aa" ip -n nsa link set "$a" address 52:54:00:00:00:aa
expect_eq "new address" "$(ip netns exec nsa cat /sys/class/net/$a/address)" 52:54:00:00:00:aa
ip -n nsb neigh flush dev "$b"
check "ping to the new address" ip netns exec nsb ping -q -c 3 -W 5 10.0.0.1
expect_eq "nsb sees the new address" \
	"$(ip -n nsb neigh show 10.0.0.1 dev "$b" | sed -n 's/.*lladdr \([0-9a-f:]*\).*/\1/p')" 52:54:00:00:00:aa
check "ping from the new address" ip netns exec nsa ping -q -c 3 -W 5 10.0.0.2
net_make_file 16
net_transfer nsb 10.0.0.2 nsa

step "VLAN filter (CTRL_VLAN)"
if ! ip -n nsa link add link "$a" name va10 type vlan id 10 2>/tmp/vlan.err; then
	# The test kernel has no CONFIG_VLAN_8021Q: nothing can add a VID.
	grep -q "Unknown device type" /tmp/vlan.err || fail "vlan 10 in nsa: $(cat /tmp/vlan.err)"
	echo "SKIP: VLAN filter: the kernel has no 802.1Q support (CONFIG_VLAN_8021Q)"
else
	ip -n nsb link add link "$b" name vb10 type vlan id 10 || fail "vlan 10 in nsb"
	ip -n nsa addr add 10.0.10.1/24 dev va10
	ip -n nsb addr add 10.0.10.2/24 dev vb10
	ip -n nsa link set va10 up
	ip -n nsb link set vb10 up
	check "ping over VLAN 10" ip netns exec nsb ping -q -c 3 -W 5 10.0.10.1
	ip -n nsb link add link "$b" name vb30 type vlan id 30 || fail "vlan 30 in nsb"
	ip -n nsb addr add 10.0.30.2/24 dev vb30
	ip -n nsb link set vb30 up
	ip -n nsb neigh replace 10.0.30.1 lladdr 52:54:00:00:00:aa dev vb30 nud permanent
	filtered "VLAN 30 frames, VLAN 30 not added in nsa" "$(burst nsb 10.0.30.1)"
	ip -n nsa link add link "$a" name va30 type vlan id 30 || fail "vlan 30 in nsa"
	ip -n nsa link set va30 up
	delivered "VLAN 30 frames, VLAN 30 added in nsa" "$(burst nsb 10.0.30.1)"
	ip -n nsa link del va30
	filtered "VLAN 30 frames, VLAN 30 deleted in nsa" "$(burst nsb 10.0.30.1)"
fi

step "receive offloads (CTRL_GUEST_OFFLOADS_SET) with ethtool -K"
offload() { # FEATURE: its state in ethtool -k of nsa's NIC
	ip netns exec nsa ethtool -k "$a" 2>/dev/null | sed -n "s/^$1: \([a-z]*\).*/\1/p"
}
# avg_rx: a file from nsb to nsa; sets avg to the average frame nsa's NIC
# received meanwhile (above an MTU frame: the device coalesced, GSO).
avg_rx() {
	_p0=$(rxa)
	_b0=$(ip netns exec nsa cat /sys/class/net/$a/statistics/rx_bytes)
	net_transfer nsb 10.0.0.2 nsa
	_p1=$(rxa)
	_b1=$(ip netns exec nsa cat /sys/class/net/$a/statistics/rx_bytes)
	avg=$(((_b1 - _b0) / (_p1 - _p0)))
}
check "rx-gro-hw is switchable" sh -c "! ip netns exec nsa ethtool -k $a | grep -q '^rx-gro-hw: .*fixed'"
check "ethtool -K rx-gro-hw off" ip netns exec nsa ethtool -K "$a" rx-gro-hw off
expect_eq "rx-gro-hw" "$(offload rx-gro-hw)" off
avg_rx
[ "$avg" -le 1514 ] || fail "rx-gro-hw off: the device still sends GSO frames (average $avg bytes)"
echo "ok: rx-gro-hw off: no coalesced frames from the device (average $avg bytes)"
check "ethtool -K rx off" ip netns exec nsa ethtool -K "$a" rx off
expect_eq "rx-checksumming" "$(offload rx-checksumming)" off
avg_rx
[ "$avg" -le 1514 ] || fail "rx off: the device still sends GSO frames (average $avg bytes)"
echo "ok: rx off: the file crosses (average frame $avg bytes)"
check "ethtool -K rx on rx-gro-hw on" ip netns exec nsa ethtool -K "$a" rx on rx-gro-hw on
expect_eq "rx-gro-hw back" "$(offload rx-gro-hw)" on
avg_rx
[ "$avg" -gt 1514 ] || fail "rx-gro-hw on: no coalesced frames from the device (average $avg bytes)"
echo "ok: rx-gro-hw on again: the device coalesces (average frame $avg bytes)"
dmesg | grep -q 'rvirtio_net: .* failed' && fail "a control command failed: $(dmesg | grep 'rvirtio_net: .* failed')"

step "QMP announce-self: the guest sends a gratuitous ARP (GUEST_ANNOUNCE)"
ip -n nsb neigh replace 10.0.0.1 lladdr 52:54:00:00:00:77 dev "$b" nud stale
qmp '{"execute": "announce-self", "arguments": {"initial": 50, "max": 550, "rounds": 2, "step": 100}}'
n=0
until ip -n nsb neigh show 10.0.0.1 dev "$b" | grep -q 52:54:00:00:00:aa; do
	n=$((n + 1))
	[ $n -lt 150 ] || fail "no gratuitous ARP from nsa: $(ip -n nsb neigh show 10.0.0.1 dev "$b")"
	sleep 0.1
done
echo "ok: nsb learnt nsa's address from its gratuitous ARP"

ip netns del nsa
ip netns del nsb
check "rmmod rvirtio_net" rmmod rvirtio_net
no_kernel_errors
