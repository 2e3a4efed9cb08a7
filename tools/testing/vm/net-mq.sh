#!/bin/sh
# rvirtio_net multiqueue (MQ) on the bridge topology with multi_queue taps:
# NIC A offers 2 queue pairs, NIC B 4 (more than the guest's 2 CPUs: the
# driver allocates 2 and its control queue is at index 8, after the pairs
# it left unset). `ethtool -l` shows 2 pairs of 2 on both; each pair's
# interrupts are on its own CPU (/proc/irq/N/smp_affinity_list) and so is
# XPS (tx-N/xps_cpus); `ethtool -L combined 1` -> 2 -> 1 on both NICs,
# each followed by three iperf3 -P 4 runs of 2 s (new flows each), each
# direction in turn: with one pair queue 1 carries nothing either way (the
# device obeys VQ_PAIRS_SET, the stack sends on queue 0 only), with two it
# carries packets again, and every iperf3 run ends without error. (The
# change while iperf3 runs is not in make check: one run in three of that
# form hung on 2026-12-03, see net.rst.) -L outside 1..=2 is refused;
# `ethtool -s` sets the
# reported speed and duplex and refuses autonegotiation (port Other);
# no invalid packet, no kernel error, and the module unloads.
# rvirtio-test: timeout=900 net=bridge,queues=4
# rvirtio-qemu: -netdev tap,id=n0,ifname=rvtap0,script=no,downscript=no,queues=2
# rvirtio-qemu: -device virtio-net-pci,netdev=n0,disable-legacy=on,addr=0x5,mac=52:54:00:00:00:01,mq=on,vectors=6
# rvirtio-qemu: -netdev tap,id=n1,ifname=rvtap1,script=no,downscript=no,queues=4
# rvirtio-qemu: -device virtio-net-pci,netdev=n1,disable-legacy=on,addr=0x6,mac=52:54:00:00:00:02,mq=on,vectors=10
. "$RVIRTIO_LIB"

[ "$(nproc)" = 2 ] || fail "the test needs 2 CPUs, the guest has $(nproc)"

ethstat() { # NS IFACE NAME: a counter of ethtool -S
	ip netns exec "$1" ethtool -S "$2" | sed -n "s/^ *$3: //p"
}

channels() { # NS IFACE: "MAX CURRENT" combined channels of ethtool -l
	ip netns exec "$1" ethtool -l "$2" | sed -n 's/^Combined:[[:space:]]*//p' | tr '\n' ' ' |
		sed 's/ $//'
}

# q1 NS IFACE: packets of queue pair 1, both directions.
q1() {
	echo $(($(ethstat "$1" "$2" rx1_packets) + $(ethstat "$1" "$2" tx1_packets)))
}

check "modprobe rvirtio_net" modprobe rvirtio_net
net_wait_ifaces rvirtio_net 2
set -- $(net_ifaces rvirtio_net)
a=$1 b=$2
for dev in 05 06; do
	dmesg_has "0000:00:$dev.0: [0-9]+ receive buffers, mode Mergeable, header 12 bytes, 2 of 2 queue pairs" ||
		fail "0000:00:$dev.0 does not use 2 of 2 queue pairs: $(dmesg | grep "0000:00:$dev.0")"
done
echo "ok: both NICs use 2 queue pairs (B's device offers 4)"
net_pair "$a" "$b"
# Two answers within 10 s (the carriers come up meanwhile).
check "ping" ip netns exec nsa ping -q -c 2 -w 10 10.0.0.2

step "ethtool -l, interrupt affinity, XPS"
expect_eq "ethtool -l A (max current)" "$(channels nsa "$a")" "2 2"
expect_eq "ethtool -l B (max current)" "$(channels nsb "$b")" "2 2"
expect_eq "A's queues" "$(ip netns exec nsa ls /sys/class/net/$a/queues | tr '\n' ' ')" "rx-0 rx-1 tx-0 tx-1 "
for spec in nsa:$a:05 nsb:$b:06; do
	ns=${spec%%:*} rest=${spec#*:}
	ifc=${rest%%:*} dev=${rest#*:}
	x0=$(ip netns exec $ns cat /sys/class/net/$ifc/queues/tx-0/xps_cpus)
	x1=$(ip netns exec $ns cat /sys/class/net/$ifc/queues/tx-1/xps_cpus)
	expect_eq "$ifc XPS tx-0 tx-1" "$x0 $x1" "1 2"
	# The vectors in order: configuration, rx0, tx0, rx1, tx1, control.
	irqs=$(ls /sys/bus/pci/devices/0000:00:$dev.0/msi_irqs | sort -n | tr '\n' ' ')
	set -- $irqs
	[ $# -ge 6 ] || fail "0000:00:$dev.0 has the vectors $irqs"
	aff=
	for i in $2 $3 $4 $5; do
		aff="$aff$(cat /proc/irq/$i/smp_affinity_list) "
	done
	expect_eq "0000:00:$dev.0 rx0 tx0 rx1 tx1 interrupt CPUs" "$aff" "0 0 1 1 "
done

step "ethtool -L outside 1..=2 is refused"
for c in 0 3; do
	if ip netns exec nsa ethtool -L "$a" combined $c 2>/dev/null; then
		fail "ethtool -L combined $c accepted"
	fi
done
expect_eq "ethtool -l A after the refusals" "$(channels nsa "$a")" "2 2"

# setl N: both NICs to N pairs.
setl() {
	check "ethtool -L $a combined $1" ip netns exec nsa ethtool -L "$a" combined "$1"
	check "ethtool -L $b combined $1" ip netns exec nsb ethtool -L "$b" combined "$1"
	expect_eq "ethtool -l A" "$(channels nsa "$a")" "2 $1"
	expect_eq "ethtool -l B" "$(channels nsb "$b")" "2 $1"
}

# burst DIR: three iperf3 -P 4 runs of 2 s from nsa (DIR "") or to it
# (-R), one after another (new flows each: an established flow keeps its
# queue, the stack's cached transmit queue and the tap's flow steering);
# prints how many packets queue pair 1 carried on both NICs meanwhile.
# Each run is bounded: one that fails or does not end in 60 s makes it
# return 1, the reason in /tmp/iperf.fail.
burst() {
	_a0=$(q1 nsa "$a") _b0=$(q1 nsb "$b")
	for _r in 1 2 3; do
		if ! timeout 60 ip netns exec nsa iperf3 -c 10.0.0.2 -P 4 -t 2 $1 >/tmp/iperf.out 2>&1; then
			echo "iperf3 $1 run $_r failed or hung: $(cat /tmp/iperf.out)" >/tmp/iperf.fail
			return 1
		fi
	done
	grep -E 'SUM.*receiver' /tmp/iperf.out | tail -n1 >/tmp/iperf.last
	echo $(($(q1 nsa "$a") - _a0 + $(q1 nsb "$b") - _b0))
}

ip netns exec nsb iperf3 -s -D -B 10.0.0.2 -I /tmp/iperf3s.pid >/dev/null || fail "iperf3 server"
net_listening nsb 5201
for dir in "" -R; do
	step "ethtool -L 1 -> 2 -> 1, iperf3 -P 4 after each ${dir:-(A to B)}"
	setl 1
	one=$(burst "$dir") || fail "$(cat /tmp/iperf.fail)"
	setl 2
	two=$(burst "$dir") || fail "$(cat /tmp/iperf.fail)"
	setl 1
	one2=$(burst "$dir") || fail "$(cat /tmp/iperf.fail)"
	echo "queue pair 1 packets: $one with 1 pair, $two with 2, $one2 with 1 again"
	expect_eq "queue pair 1 idle with 1 pair" "$one $one2" "0 0"
	# Which queue a new flow takes is the hash's and the CPUs' choice: a
	# run whose 4 flows all land on pair 0 is possible, so any packet
	# counts.
	[ "$two" -gt 0 ] || fail "queue pair 1 carried no packet with 2 pairs"
	echo "ok: queue pair 1 carries traffic with 2 pairs"
	echo "ok: every iperf3 $dir run ended: $(cat /tmp/iperf.last)"
	setl 2
done
kill "$(cat /tmp/iperf3s.pid)"
check "ping after" ip netns exec nsa ping -q -c 2 -W 5 10.0.0.2
for q in 0 1; do
	echo "A: rx${q}_packets $(ethstat nsa "$a" rx${q}_packets) tx${q}_packets $(ethstat nsa "$a" tx${q}_packets)," \
		"B: rx${q}_packets $(ethstat nsb "$b" rx${q}_packets) tx${q}_packets $(ethstat nsb "$b" tx${q}_packets)"
done
for s in rx0_invalid rx1_invalid tx0_timeouts tx1_timeouts; do
	expect_eq "A $s" "$(ethstat nsa "$a" $s)" 0
	expect_eq "B $s" "$(ethstat nsb "$b" $s)" 0
done

step "link settings"
check "ethtool -s speed 1000 duplex full" ip netns exec nsa ethtool -s "$a" speed 1000 duplex full
out=$(ip netns exec nsa ethtool "$a")
echo "$out" | grep -q 'Speed: 1000Mb/s' || fail "speed not set: $out"
echo "$out" | grep -q 'Duplex: Full' || fail "duplex not set: $out"
echo "$out" | grep -q 'Port: Other' || fail "port: $out"
echo "$out" | grep -q 'Auto-negotiation: off' || fail "autonegotiation: $out"
echo "ok: speed and duplex set, port Other, no autonegotiation"
if ip netns exec nsa ethtool -s "$a" autoneg on 2>/dev/null; then
	fail "ethtool -s autoneg on accepted"
fi
echo "ok: autonegotiation refused"

ip netns del nsa
ip netns del nsb
check "rmmod rvirtio_net" rmmod rvirtio_net
no_kernel_errors
