#!/bin/sh
# rvirtio_net on the bridge topology (two vnet_hdr taps on a host bridge,
# each NIC in a guest namespace of its own) and on QEMU's hub (no
# vnet_hdr: no offloads; the first hub NIC without MRG_RXBUF, so it
# receives into small buffers, the second into mergeable ones), with the
# C virtio_net never loaded: the interfaces are eth%d under their PCI
# devices, `ethtool -i` names the driver and the PCI device, the MAC comes
# from the configuration, `ethtool -k` shows the offloads the devices
# offer (checksum and TSO behind the taps, none behind the hub), the
# receive mode is the one the features give; QMP set_link down and up is
# seen as carrier; ping of many sizes up to the MTU, a 64 MiB file over
# TCP both ways with matching sha256 at the far end, iperf3 TCP both ways
# (with TSO frames sent behind the taps: more bytes than packets times the
# MTU); no packet dropped as invalid; ethtool -S counts per queue
# (packets, bytes, kicks, interrupts), -l, -g and the link; rmmod and modprobe rounds rebind
# every NIC and traffic flows again; QEMU device_del of a NIC during
# iperf3 removes its interface without an oops or a hang, and the module
# unloads.
# rvirtio-test: timeout=900 net=bridge
# rvirtio-qemu: -netdev tap,id=n0,ifname=rvtap0,script=no,downscript=no
# rvirtio-qemu: -device virtio-net-pci,netdev=n0,disable-legacy=on,addr=0x5,mac=52:54:00:00:00:01
# rvirtio-qemu: -netdev tap,id=n1,ifname=rvtap1,script=no,downscript=no
# rvirtio-qemu: -device virtio-net-pci,netdev=n1,disable-legacy=on,addr=0x6,mac=52:54:00:00:00:02,id=nic1
# rvirtio-qemu: -netdev hubport,id=h0,hubid=0
# rvirtio-qemu: -device virtio-net-pci,netdev=h0,disable-legacy=on,addr=0x7,mac=52:54:00:00:00:03,mrg_rxbuf=off
# rvirtio-qemu: -netdev hubport,id=h1,hubid=0
# rvirtio-qemu: -device virtio-net-pci,netdev=h1,disable-legacy=on,addr=0x8,mac=52:54:00:00:00:04
. "$RVIRTIO_LIB"

offload() { # NS IFACE FEATURE: the feature's state in ethtool -k
	ip netns exec "$1" ethtool -k "$2" 2>/dev/null | sed -n "s/^$3: \([a-z]*\).*/\1/p"
}

# stat NS IFACE NAME: an interface counter (/sys/class/net/IFACE/statistics/NAME).
stat() {
	ip netns exec "$1" cat "/sys/class/net/$2/statistics/$3"
}

wait_carrier_is() { # NS IFACE 0|1
	_n=0
	until [ "$(ip netns exec "$1" cat /sys/class/net/$2/carrier 2>/dev/null)" = "$3" ]; do
		_n=$((_n + 1))
		[ $_n -lt 100 ] || fail "carrier of $2 is not $3"
		sleep 0.1
	done
}

wait_for_carrier() { # NS IFACE
	wait_carrier_is "$1" "$2" 1
}

no_invalid() { # NS IFACE: no packet was dropped as invalid
	expect_eq "$2 rx_length_errors" "$(stat "$1" "$2" rx_length_errors)" 0
}

lsmod | grep -q '^virtio_net' && fail "the C virtio_net is loaded"
check "modprobe rvirtio_net" modprobe rvirtio_net
net_wait_ifaces rvirtio_net 4
lsmod | grep -q '^virtio_net' && fail "the C virtio_net got loaded"
set -- $(net_ifaces rvirtio_net)
tap_a=$1 tap_b=$2 hub_a=$3 hub_b=$4
echo "interfaces: taps $tap_a $tap_b, hub $hub_a $hub_b"
for i in "$@"; do
	case $i in eth[0-9]*) ;; *) fail "interface $i is not named eth%d" ;; esac
done
expect_eq "ethtool -i driver" "$(ethtool -i "$tap_a" | sed -n 's/^driver: //p')" rvirtio_net
expect_eq "ethtool -i bus-info" "$(ethtool -i "$tap_a" | sed -n 's/^bus-info: //p')" \
	"$(basename "$(readlink -f /sys/class/net/$tap_a/device)")"
expect_eq "MAC from the configuration" "$(cat /sys/class/net/$tap_a/address)" 52:54:00:00:00:01
for pair in 05:Mergeable 07:Small 08:Mergeable; do
	check "0000:00:${pair%%:*}.0 receives in mode ${pair#*:}" \
		dmesg_has "0000:00:${pair%%:*}.0: [0-9]+ receive buffers, mode ${pair#*:},"
done

net_make_file 64

step "bridge: offloads on, traffic crosses both devices"
net_pair "$tap_a" "$tap_b"
for f in tx-checksumming rx-checksumming scatter-gather tcp-segmentation-offload; do
	expect_eq "$tap_a $f" "$(offload nsa "$tap_a" $f)" on
done
wait_for_carrier nsa "$tap_a"
wait_for_carrier nsb "$tap_b"
qmp '{"execute": "set_link", "arguments": {"name": "n0", "up": false}}'
wait_carrier_is nsa "$tap_a" 0
qmp '{"execute": "set_link", "arguments": {"name": "n0", "up": true}}'
wait_carrier_is nsa "$tap_a" 1
echo "ok: QMP set_link down and up seen as carrier on $tap_a"
net_ping_sizes nsa 10.0.0.2 1472
net_transfer nsa 10.0.0.1 nsb
net_transfer nsb 10.0.0.2 nsa
tx0=$(stat nsa "$tap_a" tx_packets)
txb0=$(stat nsa "$tap_a" tx_bytes)
net_iperf ""
net_iperf -R
tx1=$(stat nsa "$tap_a" tx_packets)
txb1=$(stat nsa "$tap_a" tx_bytes)
# TSO: the stack hands the driver frames larger than the MTU.
avg=$(( (txb1 - txb0) / (tx1 - tx0) ))
echo "average frame sent during iperf3: $avg bytes"
[ "$avg" -gt 1514 ] || fail "no TSO frames sent (average $avg bytes)"
no_invalid nsa "$tap_a"
no_invalid nsb "$tap_b"
ethstat() { # NS IFACE NAME: a counter of ethtool -S
	ip netns exec "$1" ethtool -S "$2" | sed -n "s/^ *$3: //p"
}
expect_eq "ethtool -S tx0_packets" "$(ethstat nsa "$tap_a" tx0_packets)" "$(stat nsa "$tap_a" tx_packets)"
expect_eq "ethtool -S rx0_bytes" "$(ethstat nsb "$tap_b" rx0_bytes)" "$(stat nsb "$tap_b" rx_bytes)"
for c in rx0_kicks rx0_interrupts tx0_kicks tx0_interrupts; do
	[ "$(ethstat nsa "$tap_a" $c)" -gt 0 ] || fail "ethtool -S $c is not counted"
done
echo "ok: ethtool -S counts packets, bytes, kicks and interrupts per queue"
expect_eq "ethtool -l combined" \
	"$(ip netns exec nsa ethtool -l "$tap_a" | sed -n 's/^Combined:[[:space:]]*//p' | tail -n1)" 1
check "ethtool -g shows the rings" sh -c "ip netns exec nsa ethtool -g $tap_a | grep -Eq '^RX:[[:space:]]+[0-9]+'"
expect_eq "ethtool link" "$(ip netns exec nsa ethtool "$tap_a" | sed -n 's/^[[:space:]]*Link detected: //p')" yes

step "hub: no offloads, traffic crosses both devices"
ip netns del nsa
ip netns del nsb
net_wait_ifaces rvirtio_net 4
net_pair "$hub_a" "$hub_b"
for f in tx-checksumming tcp-segmentation-offload; do
	expect_eq "$hub_a $f" "$(offload nsa "$hub_a" $f)" off
done
wait_for_carrier nsa "$hub_a"
net_ping_sizes nsa 10.0.0.2 1472
net_transfer nsa 10.0.0.1 nsb
net_transfer nsb 10.0.0.2 nsa
net_iperf ""
net_iperf -R
no_invalid nsa "$hub_a"
no_invalid nsb "$hub_b"

step "rmmod and modprobe rounds"
ip netns del nsa
ip netns del nsb
for r in 1 2 3 4 5; do
	check "rmmod rvirtio_net ($r)" rmmod rvirtio_net
	[ -z "$(net_ifaces rvirtio_net)" ] || fail "interfaces left after rmmod"
	check "modprobe rvirtio_net ($r)" modprobe rvirtio_net
	net_wait_ifaces rvirtio_net 4
done
set -- $(net_ifaces rvirtio_net)
net_pair "$1" "$2"
wait_for_carrier nsa "$1"
net_ping_sizes nsa 10.0.0.2 1472
net_transfer nsa 10.0.0.1 nsb

step "device_del of a NIC during iperf3"
ip netns exec nsb iperf3 -s -1 -D -B 10.0.0.2 >/dev/null || fail "iperf3 server"
net_listening nsb 5201
ip netns exec nsa iperf3 -c 10.0.0.2 -t 60 >/dev/null 2>&1 &
iperf_pid=$!
sleep 3
qmp '{"execute": "device_del", "arguments": {"id": "nic1"}}'
n=0
while [ -e /sys/bus/pci/devices/0000:00:06.0 ]; do
	n=$((n + 1))
	[ $n -lt 600 ] || fail "the NIC was not removed within 60 s"
	sleep 0.1
done
echo "ok: the NIC is gone"
expect_eq "interfaces left in nsb" "$(ip netns exec nsb ls /sys/class/net | tr '\n' ' ')" "lo "
kill $iperf_pid 2>/dev/null
wait $iperf_pid 2>/dev/null
ip netns del nsa
ip netns del nsb
check "rmmod rvirtio_net after the removal" rmmod rvirtio_net
no_kernel_errors
