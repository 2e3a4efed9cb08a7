#!/bin/sh
# Guest half of tools/bench/net/run: binds both NICs (0000:00:05.0 and
# 0000:00:06.0) to the C driver (virtio_pci + virtio_net) and to
# rvirtio_net in turn, through driver_override, puts them in the
# namespaces nsa and nsb (net_pair), and runs each workload on each,
# printing one "BENCH driver workload rep value unit" line per run.
. "$RVIRTIO_LIB"

reps=$(bench_arg reps 3)
secs=$(bench_arg secs 5)
devs="/sys/bus/pci/devices/0000:00:05.0 /sys/bus/pci/devices/0000:00:06.0"

check "modprobe virtio_pci virtio_net rvirtio_net" modprobe -a virtio_pci virtio_net rvirtio_net
# Nothing binds automatically from here on.
for d in $devs; do
	[ -e "$d/driver" ] && unbind_device "$d"
done

# iperf3 [-R]: Mbit/s received in a TCP stream nsa -> nsb (-R: nsb -> nsa),
# the first second (slow start) omitted.
iperf() {
	ip netns exec nsb iperf3 -s -1 -D -B 10.0.0.2 >/dev/null || fail "iperf3 server"
	net_listening nsb 5201
	ip netns exec nsa iperf3 -c 10.0.0.2 -t "$secs" -O 1 $1 -J >/tmp/iperf.json ||
		fail "iperf3 $1: $(tail -n 5 /tmp/iperf.json)"
	# The last bits_per_second of the report is end.sum_received's.
	sed -n 's/.*"bits_per_second":[[:space:]]*\([0-9.e+]*\).*/\1/p' /tmp/iperf.json |
		tail -n1 | awk '{ printf "%.1f\n", $1 / 1e6 }'
}

rr() {
	ip netns exec nsb netpp rr-server 7001 &
	_srv=$!
	net_listening nsb 7001
	ip netns exec nsa netpp rr 10.0.0.2 7001 "$secs" 1 >/tmp/rr.out || fail "netpp rr"
	wait $_srv
	sed -n 's/.* rate \([0-9.]*\).*/\1/p' /tmp/rr.out
}

udp64() {
	ip netns exec nsb netpp udp-sink 7002 "$secs" >/tmp/sink.out &
	_sink=$!
	sleep 0.5
	ip netns exec nsa netpp udp-flood 10.0.0.2 7002 $((secs + 2)) 64 >/tmp/flood.out ||
		fail "netpp udp-flood"
	wait $_sink || fail "netpp udp-sink"
	sed -n 's/.* rate \([0-9.]*\).*/\1/p' /tmp/sink.out
}

run() { # LABEL REP
	echo "BENCH $1 tcp-tx $2 $(iperf "") Mbit/s"
	echo "BENCH $1 tcp-rx $2 $(iperf -R) Mbit/s"
	echo "BENCH $1 rr $2 $(rr) trans/s"
	echo "BENCH $1 udp64 $2 $(udp64) pkt/s"
}

r=1
while [ "$r" -le "$reps" ]; do
	# Odd repetitions run C first, even ones Rust first.
	order="virtio-pci rvirtio_net"
	[ $((r % 2)) -eq 0 ] && order="rvirtio_net virtio-pci"
	for drv in $order; do
		for d in $devs; do
			bind_override "$d" "$drv" >/dev/null
		done
		label=Rust netdrv=rvirtio_net
		[ "$drv" = virtio-pci ] && label=C netdrv=virtio_net
		net_wait_ifaces $netdrv 2
		# shellcheck disable=SC2046
		net_pair $(net_ifaces $netdrv) >/dev/null
		ip netns exec nsa ping -q -c 3 -W 5 10.0.0.2 >/dev/null || fail "ping with $drv"
		run $label $r
		ip netns del nsa
		ip netns del nsb
		for d in $devs; do
			unbind_device "$d"
		done
	done
	r=$((r + 1))
done
