#!/bin/sh
# Guest half of tools/bench/net/run and tools/bench/net/count. Both NICs
# (0000:00:05.0 and 0000:00:06.0) are bound to the C driver (virtio_pci +
# virtio_net: "virtio-pci") or to rvirtio_net through driver_override and
# put in the namespaces nsa and nsb (net_pair); the workloads run from nsa
# to nsb.
#
# rvbench.mode=run (tools/bench/net/run): REPS repetitions, each driver in
# turn (C first in odd ones), every workload for SECS seconds; one "BENCH
# driver workload rep value unit" line per run.
#
# rvbench.mode=count (tools/bench/net/count): one driver (rvbench.drv),
# one workload (rvbench.wl) running SECS + 6 seconds, with sync(2) at the
# start and the end of a window of SECS seconds in its middle (the host's
# TCG plugin snapshots its counts at each sync). Around the window,
# "COUNT <label>-n1" and "-n2" lines: the sender's tx_packets, the
# receiver's rx_packets, the NICs' interrupts (/proc/interrupts, their
# MSI-X vectors) and, for rvirtio_net, their kicks (ethtool -S); then the
# module symbols, for the host to attribute the counts. One driver per
# boot: in a boot that switched drivers, the first sync after the switch
# left no snapshot (twice in two runs), so the second window was wrong.
. "$RVIRTIO_LIB"

mode=$(bench_arg mode run)
reps=$(bench_arg reps 3)
secs=$(bench_arg secs 5)
devs="/sys/bus/pci/devices/0000:00:05.0 /sys/bus/pci/devices/0000:00:06.0"

check "modprobe virtio_pci virtio_net rvirtio_net" modprobe -a virtio_pci virtio_net rvirtio_net
# Nothing binds automatically from here on.
for d in $devs; do
	[ -e "$d/driver" ] && unbind_device "$d"
done

# up DRIVER: binds both NICs to DRIVER, pairs them, sets label (C or Rust),
# netdrv (the netdev driver's name) and a, b (the interfaces).
up() {
	for d in $devs; do
		bind_override "$d" "$1" >/dev/null
	done
	label=Rust netdrv=rvirtio_net
	[ "$1" = virtio-pci ] && label=C netdrv=virtio_net
	net_wait_ifaces $netdrv 2
	set -- $(net_ifaces $netdrv)
	a=$1 b=$2
	net_pair "$a" "$b" >/dev/null
	ip netns exec nsa ping -q -c 3 -W 5 10.0.0.2 >/dev/null || fail "ping with $netdrv"
}

down() {
	ip netns del nsa
	ip netns del nsb
	for d in $devs; do
		unbind_device "$d"
	done
}

# iperf SECONDS [-R]: Mbit/s received in a TCP stream nsa -> nsb (-R: nsb
# -> nsa), the first second (slow start) omitted.
iperf() {
	ip netns exec nsb iperf3 -s -1 -D -B 10.0.0.2 >/dev/null || fail "iperf3 server"
	net_listening nsb 5201
	ip netns exec nsa iperf3 -c 10.0.0.2 -t "$1" -O 1 $2 -J >/tmp/iperf.json ||
		fail "iperf3 $2: $(tail -n 5 /tmp/iperf.json)"
	# The last bits_per_second of the report is end.sum_received's.
	sed -n 's/.*"bits_per_second":[[:space:]]*\([0-9.e+]*\).*/\1/p' /tmp/iperf.json |
		tail -n1 | awk '{ printf "%.1f\n", $1 / 1e6 }'
}

# rr SECONDS: TCP transactions per second (netpp).
rr() {
	ip netns exec nsb netpp rr-server 7001 &
	_srv=$!
	net_listening nsb 7001
	ip netns exec nsa netpp rr 10.0.0.2 7001 "$1" 1 >/tmp/rr.out || fail "netpp rr"
	wait $_srv
	sed -n 's/.* rate \([0-9.]*\).*/\1/p' /tmp/rr.out
}

# udp64 SECONDS: 64-byte datagrams received per second (netpp; the
# sender runs 2 s longer than the receiver counts).
udp64() {
	ip netns exec nsb netpp udp-sink 7002 "$1" >/tmp/sink.out &
	_sink=$!
	sleep 0.5
	ip netns exec nsa netpp udp-flood 10.0.0.2 7002 $(($1 + 2)) 64 >/tmp/flood.out ||
		fail "netpp udp-flood"
	wait $_sink || fail "netpp udp-sink"
	sed -n 's/.* rate \([0-9.]*\).*/\1/p' /tmp/sink.out
}

# workload NAME SECONDS: runs it, printing its figure.
workload() {
	case $1 in
	tcp-tx) iperf "$2" "" ;;
	tcp-rx) iperf "$2" -R ;;
	rr) rr "$2" ;;
	udp64) udp64 "$2" ;;
	*) fail "unknown workload $1" ;;
	esac
}

if [ "$mode" = run ]; then
	r=1
	while [ "$r" -le "$reps" ]; do
		order="virtio-pci rvirtio_net"
		[ $((r % 2)) -eq 0 ] && order="rvirtio_net virtio-pci"
		for drv in $order; do
			up $drv
			echo "BENCH $label tcp-tx $r $(workload tcp-tx "$secs") Mbit/s"
			echo "BENCH $label tcp-rx $r $(workload tcp-rx "$secs") Mbit/s"
			echo "BENCH $label rr $r $(workload rr "$secs") trans/s"
			echo "BENCH $label udp64 $r $(workload udp64 "$secs") pkt/s"
			down
		done
		r=$((r + 1))
	done
	exit 0
fi

# Count mode.
wl=$(bench_arg wl udp64)

# The interrupts of both NICs' MSI-X vectors, summed over CPUs and vectors.
irqs() {
	for d in $devs; do ls "$d/msi_irqs"; done | awk 'NR == FNR { v[$1 ":"] = 1; next }
		($1 in v) { for (i = 2; i <= n + 1; i++) s += $i }
		FNR == 1 && NR != FNR { n = NF }
		END { print s + 0 }' - /proc/interrupts
}

# kicks: rvirtio_net's kicks of both NICs (ethtool -S), or "-".
kicks() {
	[ "$netdrv" = rvirtio_net ] || {
		echo -
		return
	}
	{
		ip netns exec nsa ethtool -S "$a"
		ip netns exec nsb ethtool -S "$b"
	} | awk '$1 ~ /_kicks:$/ { s += $2 } END { print s + 0 }'
}

counters() {
	echo "$(ip netns exec nsa cat /sys/class/net/"$a"/statistics/tx_packets)" \
		"$(ip netns exec nsb cat /sys/class/net/"$b"/statistics/rx_packets)" "$(irqs)" "$(kicks)"
}

up "$(bench_arg drv rvirtio_net)"
workload "$wl" $((secs + 6)) >/dev/null &
loader=$!
sleep 3
echo "COUNT $label-n1 $(counters)"
sync
sleep "$secs"
sync
echo "COUNT $label-n2 $(counters)"
wait $loader
wait
down
grep -E "\[(rvirtio_net|virtio_net|virtio_pci|virtio_ring|virtio|virtio_pci_modern_dev|virtio_pci_legacy_dev)\]" /proc/kallsyms |
	sed 's/^/COUNT SYM /'
