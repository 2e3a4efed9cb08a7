# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0
#
# What the driver benchmarks' host scripts share (tools/bench/blk/run,
# net/run, console/run; sourced, bash): pinning QEMU's vCPU threads with
# tools/bench/pin-vcpus. A benchmark that cannot pin still runs, and says so.
#
#   bench_pin_start DIR   before tools/vm/run: starts pin-vcpus on a QMP
#                         socket in DIR (unless RVBENCH_PIN=0) and sets
#                         bench_pin_args, the QEMU arguments of that monitor
#   bench_pin_stop        after it: stops pin-vcpus and sets bench_pinning,
#                         the line that says how the vCPUs ran ("pinned
#                         vCPU0->CPU0 ..." or "not pinned: <why>")
# The caller's EXIT trap should call bench_pin_stop too.
bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bench_pinner=
bench_pin_args=()
bench_pinning=
bench_pin_status=/nonexistent

bench_pin_start() {
	bench_pin_status=$1/pin
	echo "not pinned: RVBENCH_PIN=0" >"$bench_pin_status"
	bench_pin_args=()
	[ "${RVBENCH_PIN:-1}" != 0 ] || return 0
	echo "not pinned: QEMU's QMP did not answer" >"$bench_pin_status"
	bench_pin_args=(-qmp "unix:$1/bench-qmp.sock,server=on,wait=off")
	"$bench_dir/pin-vcpus" "$1/bench-qmp.sock" "$bench_pin_status" &
	bench_pinner=$!
}

bench_pin_stop() {
	# pin-vcpus may have ended on its own (no QMP): neither kill nor wait
	# may end the caller (set -e).
	if [ -n "$bench_pinner" ]; then
		kill "$bench_pinner" 2>/dev/null || true
		wait "$bench_pinner" 2>/dev/null || true
		bench_pinner=
	fi
	bench_pinning=$(cat "$bench_pin_status" 2>/dev/null || echo "not pinned: no status")
}

# bench_count_setup OUT: for the instruction counts (tools/bench/*/count):
# builds the TCG plugin tools/bench/tbcount.c into OUT, removes OUT's old
# snapshots, builds the initramfs (unless RVBENCH_REUSE=1 and one exists:
# packing it takes one to two minutes on a loaded machine) and sets
# bench_sysmap (the kernel's System.map) and bench_plugin_args, the QEMU
# arguments that load the plugin with its trigger at ksys_sync: each sync(2)
# of the guest writes OUT/snap-N.txt.
bench_count_setup() {
	mkdir -p "$1"
	rm -f "$1"/snap-*.txt
	cc -O2 -shared -fPIC -Wall -o "$1/tbcount.so" "$bench_dir/tbcount.c" -lpthread
	local top image trigger
	top=$(cd "$bench_dir/../.." && pwd)
	[ "${RVBENCH_REUSE:-0}" = 1 ] && [ -r "$top/build/vm/initramfs.cpio" ] || make -s -C "$top" initramfs >&2
	image=$(make -s -C "$top" kernel-image)
	bench_sysmap=$(dirname "$image")/../../../System.map
	trigger=$(awk '$3 == "ksys_sync" { print $1 }' "$bench_sysmap")
	[ -n "$trigger" ] || {
		echo "count: no ksys_sync in $bench_sysmap" >&2
		return 1
	}
	bench_plugin_args=(-plugin "$1/tbcount.so,arg=trigger=$trigger,arg=out=$1/snap")
}
