#!/bin/sh
# Guest half of tools/bench/blk/run: alternates the kernel's C virtio_blk
# and rvirtio_blk on the same device (driver_override), running the same
# fio workloads on each, and prints one "BENCH driver workload rep iops"
# line per run. On PCI the C side is virtio_pci + virtio_blk; on microvm
# (virtio-mmio, ACPI) it is virtio_mmio + virtio_blk, loaded only here.
. "$RVIRTIO_LIB"

reps=$(bench_arg reps 3)
secs=$(bench_arg secs 5)
case $RVIRTIO_MACHINE in
microvm*)
	dev=$(mmio_devices)
	[ -n "$dev" ] || fail "no virtio-mmio transport"
	c_transport=virtio_mmio
	c_driver=virtio-mmio
	;;
*)
	dev=/sys/bus/pci/devices/0000:00:05.0
	c_transport=virtio_pci
	c_driver=virtio-pci
	;;
esac
addr=$(basename "$dev")

check "modprobe $c_transport" modprobe $c_transport
check "modprobe virtio_blk" modprobe virtio_blk
# prefix=rvd: rvirtio_blk names its disks rvd*, beside the C driver's vd*.
check "modprobe rvirtio_blk prefix=rvd" modprobe rvirtio_blk prefix=rvd
# Nothing binds automatically from here on.
[ -e "$dev/driver" ] && echo "$addr" >"$dev/driver/unbind"

unbind() {
	echo "$addr" >"$dev/driver/unbind"
}
disk_of() { # DRIVER
	case $1 in
	rvirtio_blk) ls -d /sys/block/rvd* 2>/dev/null | head -n1 | xargs -r basename ;;
	*) ls "$dev"/virtio*/block 2>/dev/null | head -n1 ;;
	esac
}

run() { # DRIVER-LABEL DISK REP
	for w in "randread-4k-qd1 randread 4k 1" "randread-4k-qd32 randread 4k 32" \
		"read-128k-seq read 128k 16" "write-128k-seq write 128k 16"; do
		set -- "$1" "$2" "$3" $w
		iops=$(fio --name=b --filename=/dev/"$2" --rw="$5" --bs="$6" --iodepth="$7" \
			--ioengine=libaio --direct=1 --time_based --runtime="$secs" --ramp_time=1 \
			--numjobs=1 --minimal --eta=never | awk -F';' '{print ($8 > 0 ? $8 : $49)}')
		echo "BENCH $1 $4 $3 $iops"
	done
}

r=1
while [ $r -le "$reps" ]; do
	# Odd repetitions run C first, even ones Rust first, so that neither
	# driver always gets the same position (warm-up, drift).
	order="$c_driver rvirtio_blk"
	[ $((r % 2)) -eq 0 ] && order="rvirtio_blk $c_driver"
	for d in $order; do
		bind_override "$dev" $d
		sleep 1
		disk=$(disk_of $d)
		[ -n "$disk" ] || fail "no disk for $d"
		label=C
		[ $d = rvirtio_blk ] && label=Rust
		run $label "$disk" $r
		unbind
	done
	r=$((r + 1))
done
