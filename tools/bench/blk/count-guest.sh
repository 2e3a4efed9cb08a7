#!/bin/sh
# Guest half of tools/bench/blk/count: binds one driver to the device,
# runs one fio workload, and calls sync(2) at the start and the end of a
# window of SECS seconds in the middle of the run (the host's TCG plugin
# snapshots its instruction counts at each sync). Prints the disk's I/O
# counters around the window and the module symbols, for the host to
# attribute the counts.
. "$RVIRTIO_LIB"

arg() { sed -n "s/.*rvcount.$1=\([a-z0-9_-]*\).*/\1/p" /proc/cmdline; }
secs=$(arg secs)
wl=$(arg wl)
drv=$(arg drv)
case $RVIRTIO_MACHINE in
microvm*)
	dev=$(mmio_devices)
	[ -n "$dev" ] || fail "no virtio-mmio transport"
	c_transport=virtio_mmio
	;;
*)
	dev=/sys/bus/pci/devices/0000:00:05.0
	c_transport=virtio_pci
	;;
esac
addr=$(basename "$dev")

check "modprobe $c_transport" modprobe $c_transport
check "modprobe virtio_blk" modprobe virtio_blk
# prefix=rvd: rvirtio_blk names its disks rvd*, beside the C driver's vd*.
check "modprobe rvirtio_blk prefix=rvd" modprobe rvirtio_blk prefix=rvd
[ -e "$dev/driver" ] && echo "$addr" >"$dev/driver/unbind"
case $wl in
randread-4k-qd1) args="--rw=randread --bs=4k --iodepth=1" ;;
randread-4k-qd32) args="--rw=randread --bs=4k --iodepth=32" ;;
read-128k-seq) args="--rw=read --bs=128k --iodepth=16" ;;
write-128k-seq) args="--rw=write --bs=128k --iodepth=16" ;;
*) fail "unknown workload $wl" ;;
esac
echo "$drv" >"$dev/driver_override"
echo "$addr" >"${dev%/devices/*}/drivers_probe"
expect_eq "bound" "$(driver_of "$dev")" "$drv"
sleep 1
case $drv in
virtio-pci | virtio-mmio) disk=$(ls "$dev"/virtio*/block | head -n1) ;;
*) disk=$(ls -d /sys/block/rvd* | head -n1 | xargs basename) ;;
esac
[ -n "$disk" ] || fail "no disk for $drv"
# shellcheck disable=SC2086
fio --name=b --filename=/dev/"$disk" $args --ioengine=libaio --direct=1 \
	--time_based --runtime=$((secs + 4)) --numjobs=1 --eta=never >/dev/null &
sleep 2
echo "COUNT stat1 $(cat /sys/block/"$disk"/stat)"
sync
sleep "$secs"
sync
echo "COUNT stat2 $(cat /sys/block/"$disk"/stat)"
wait
grep -E "\[(rvirtio_blk|virtio_blk|virtio_pci|virtio_mmio|virtio_ring|virtio|virtio_pci_modern_dev|virtio_pci_legacy_dev)\]" /proc/kallsyms |
	sed 's/^/COUNT SYM /'
