#!/bin/sh
# Guest half of tools/bench/net/count: binds both NICs to one driver
# (rvbench.drv: virtio-pci, the C virtio_pci + virtio_net, or
# rvirtio_net), runs one workload of tools/bench/net/run between nsa and
# nsb, and calls sync(2) at the start and the end of a window of SECS
# seconds in the middle of it (the host's TCG plugin snapshots its counts
# at each sync: snapshots 0 and 1). One driver per boot: in a boot that
# alternated them, the first sync after the switch left no snapshot (twice
# in two runs), so the second driver's window was the wrong one.
# Around each window it prints "COUNT <label>-n1" and "-n2" lines: the
# sender's tx_packets, the receiver's rx_packets, the NICs' interrupts
# (/proc/interrupts, their MSI-X vectors) and, for rvirtio_net, their kicks
# (ethtool -S); then the module symbols, for the host to attribute the
# counts.
. "$RVIRTIO_LIB"

secs=$(bench_arg secs 5)
wl=$(bench_arg wl udp64)
drv=$(bench_arg drv rvirtio_net)
devs="/sys/bus/pci/devices/0000:00:05.0 /sys/bus/pci/devices/0000:00:06.0"

check "modprobe virtio_pci virtio_net rvirtio_net" modprobe -a virtio_pci virtio_net rvirtio_net
for d in $devs; do
	[ -e "$d/driver" ] && unbind_device "$d"
done

# The interrupts of both NICs' MSI-X vectors, summed over CPUs and vectors.
irqs() {
	for d in $devs; do ls "$d/msi_irqs"; done | awk 'NR == FNR { v[$1 ":"] = 1; next }
		($1 in v) { for (i = 2; i <= n + 1; i++) s += $i }
		FNR == 1 && NR != FNR { n = NF }
		END { print s + 0 }' - /proc/interrupts
}

# kicks NETDRV: rvirtio_net's kicks of both NICs (ethtool -S), or "-".
kicks() {
	[ "$1" = rvirtio_net ] || {
		echo -
		return
	}
	{
		ip netns exec nsa ethtool -S "$a"
		ip netns exec nsb ethtool -S "$b"
	} | awk '$1 ~ /_kicks:$/ { s += $2 } END { print s + 0 }'
}

counters() { # NETDRV
	echo "$(ip netns exec nsa cat /sys/class/net/"$a"/statistics/tx_packets)" \
		"$(ip netns exec nsb cat /sys/class/net/"$b"/statistics/rx_packets)" "$(irqs)" "$(kicks "$1")"
}

# The workload, running SECS + 6 seconds.
load() {
	len=$((secs + 6))
	case $wl in
	udp64)
		ip netns exec nsb netpp udp-sink 7002 $((len + 1)) >/dev/null &
		sleep 0.5
		ip netns exec nsa netpp udp-flood 10.0.0.2 7002 $len 64 >/dev/null
		;;
	rr)
		ip netns exec nsb netpp rr-server 7001 &
		net_listening nsb 7001
		ip netns exec nsa netpp rr 10.0.0.2 7001 $len 1 >/dev/null
		;;
	tcp-tx | tcp-rx)
		ip netns exec nsb iperf3 -s -1 -D -B 10.0.0.2 >/dev/null || fail "iperf3 server"
		net_listening nsb 5201
		r=
		[ "$wl" = tcp-rx ] && r=-R
		ip netns exec nsa iperf3 -c 10.0.0.2 -t $len $r >/dev/null
		;;
	*) fail "unknown workload $wl" ;;
	esac
}

for drv in $drv; do
	for d in $devs; do
		bind_override "$d" "$drv" >/dev/null
	done
	label=Rust netdrv=rvirtio_net
	[ "$drv" = virtio-pci ] && label=C netdrv=virtio_net
	net_wait_ifaces $netdrv 2
	set -- $(net_ifaces $netdrv)
	a=$1 b=$2
	net_pair "$a" "$b" >/dev/null
	ip netns exec nsa ping -q -c 3 -W 5 10.0.0.2 >/dev/null || fail "ping with $drv"
	load &
	loader=$!
	sleep 3
	echo "COUNT $label-n1 $(counters $netdrv)"
	sync
	sleep "$secs"
	sync
	echo "COUNT $label-n2 $(counters $netdrv)"
	wait $loader
	wait
	ip netns del nsa
	ip netns del nsb
	for d in $devs; do
		unbind_device "$d"
	done
done
grep -E "\[(rvirtio_net|virtio_net|virtio_pci|virtio_ring|virtio|virtio_pci_modern_dev|virtio_pci_legacy_dev)\]" /proc/kallsyms |
	sed 's/^/COUNT SYM /'
