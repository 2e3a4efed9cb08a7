#!/bin/sh
# Guest half of tools/bench/console/run: binds the virtio-serial device
# (0000:00:05.0) to the C driver (virtio_pci + virtio_console) and to
# rvirtio_console in turn, through driver_override, and on each moves MIB
# MiB through the port rvirtio.bench both ways and through the hvc of the
# virtconsole, printing one "BENCH driver workload rep MiB/s MiB/s" line per
# run. The host side (tools/bench/console/host) answers on the port when it
# has everything; the time is the guest's, from the first byte written to
# the answer read (/proc/uptime, 10 ms). hvc-tx is the time of the writes
# to the tty (up to its close), with an "INFO" line of how much of it
# reached the host (QEMU drops console output its socket does not take)
# and hvc-tx-delivered, the bytes that reached the host per second of it.
. "$RVIRTIO_LIB"

reps=$(bench_arg reps 3)
mib=$(bench_arg mib 64)
bytes=$((mib * 1048576))
dev=/sys/bus/pci/devices/0000:00:05.0

check "modprobe virtio_pci rvirtio_console" modprobe -a virtio_pci rvirtio_console
[ -e "$dev/driver" ] && unbind_device "$dev"

uptime_cs() { # the uptime in hundredths of a second
	tr -d . </proc/uptime | cut -d' ' -f1
}

# rate START_CS: MiB/s from START_CS to now.
rate() {
	_t=$(($(uptime_cs) - $1))
	[ $_t -gt 0 ] || _t=1
	awk -v m="$mib" -v t="$_t" 'BEGIN { printf "%.2f\n", m * 100 / t }'
}

# answer: reads the host's "got N" line from the port (fd 3).
answer() {
	read -r _a _n <&3 || fail "no answer from the host"
	[ "$_a $_n" = "got $1" ] || fail "the host answered '$_a $_n', expected 'got $1'"
}

hvc_total=0
r=1
while [ "$r" -le "$reps" ]; do
	order="virtio-pci rvirtio_console"
	[ $((r % 2)) -eq 0 ] && order="rvirtio_console virtio-pci"
	for drv in $order; do
		# The C module registers the class virtio-ports when it loads,
		# rvirtio_console when it adds its first port: only one of them
		# can be loaded while rvirtio_console binds.
		if [ "$drv" = virtio-pci ]; then
			modprobe virtio_console || fail "modprobe virtio_console"
		else
			rmmod virtio_console 2>/dev/null
		fi
		bind_override "$dev" "$drv" >/dev/null
		label=Rust
		[ "$drv" = virtio-pci ] && label=C
		port=$(port_named rvirtio.bench) || fail "no port rvirtio.bench with $drv"
		hvc=
		for _i in $(seq 100); do
			hvc=$(ls -d /sys/class/tty/hvc* 2>/dev/null | head -n1)
			[ -n "$hvc" ] && [ -e "/dev/${hvc##*/}" ] && break
			sleep 0.1
		done
		[ -n "$hvc" ] || fail "no hvc with $drv"
		hvc=/dev/${hvc##*/}
		exec 3<>"$port"
		exec 4<>"$hvc"
		# Raw: no output processing, no echo (termios resets at close).
		stty raw -echo <&4 || fail "stty raw on $hvc"

		t0=$(uptime_cs)
		echo "port $bytes" >&3
		dd if=/dev/zero bs=65536 count=$((mib * 16)) 2>/dev/null >&3 || fail "writing to $port"
		answer $bytes
		echo "BENCH $label port-tx $r $(rate "$t0") MiB/s"

		t0=$(uptime_cs)
		echo "send $bytes" >&3
		got=$(head -c $bytes <&3 | wc -c)
		expect_eq "bytes from the host" "$got" $bytes >/dev/null
		echo "BENCH $label port-rx $r $(rate "$t0") MiB/s"

		# hvc: the time of the writes (the tty's close waits for its
		# output to reach the driver); QEMU drops what the console's
		# socket does not take at once, so the host only reports what
		# arrived.
		t0=$(uptime_cs)
		timeout $((mib * 10 + 60)) dd if=/dev/zero bs=65536 count=$((mib * 16)) 2>/dev/null >&4 ||
			fail "writing to $hvc: status $?"
		exec 4>&-
		hvc_rate=$(rate "$t0")
		before=$hvc_total
		hvc_total=$((hvc_total + bytes))
		echo "hvc $hvc_total" >&3
		read -r _a got <&3 || fail "no answer from the host"
		hvc_total=$got
		echo "BENCH $label hvc-tx $r $hvc_rate MiB/s"
		echo "INFO $label hvc-tx $r: the host received $((got - before)) of $bytes bytes"
		# What reached the host, per second of the writes.
		echo "BENCH $label hvc-tx-delivered $r" \
			"$(awk -v g=$((got - before)) -v b=$bytes -v r="$hvc_rate" 'BEGIN { printf "%.2f\n", r * g / b }') MiB/s"

		exec 3>&-
		unbind_device "$dev"
	done
	r=$((r + 1))
done
