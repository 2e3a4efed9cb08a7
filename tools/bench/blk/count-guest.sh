#!/bin/sh
# Guest half of tools/bench/blk/count: binds one driver to the device,
# runs one fio workload, and calls sync(2) at the start and the end of a
# window of SECS seconds in the middle of the run (the host's TCG plugin
# snapshots its instruction counts at each sync). Prints the disk's I/O
# counters around the window, the interrupts of the device's MSI-X vectors
# (/proc/interrupts) and, for rvirtio_blk, its per-queue debugfs counters
# (kicks, interrupts), and the module symbols, for the host to attribute
# the counts.
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
engine=libaio
case $wl in
randread-4k-qd1) args="--rw=randread --bs=4k --iodepth=1" ;;
randread-4k-qd32) args="--rw=randread --bs=4k --iodepth=32" ;;
read-128k-seq) args="--rw=read --bs=128k --iodepth=16" ;;
write-128k-seq) args="--rw=write --bs=128k --iodepth=16" ;;
# io_uring, one request per submission, and eight (one io_uring_enter
# for 8 requests: blk-mq hands them to the driver as one list, queue_rqs).
# fio submits a batch only once 8 requests wait, so it also reaps 8 at a
# time: with the default of 1, each completion is replaced at once and
# every submission carries one request.
randread-4k-qd32-uring)
	engine=io_uring
	args="--rw=randread --bs=4k --iodepth=32"
	;;
randread-4k-qd32-uring-b8)
	engine=io_uring
	args="--rw=randread --bs=4k --iodepth=32 --iodepth_batch_submit=8 --iodepth_batch_complete_min=8"
	;;
*) fail "unknown workload $wl" ;;
esac
bind_override "$dev" "$drv"
sleep 1
case $drv in
virtio-pci | virtio-mmio) disk=$(ls "$dev"/virtio*/block | head -n1) ;;
*) disk=$(ls -d /sys/block/rvd* | head -n1 | xargs basename) ;;
esac
[ -n "$disk" ] || fail "no disk for $drv"
# Interrupts of the device's MSI-X vectors, summed over CPUs and vectors
# (config vector included; none on virtio-mmio, where this prints 0).
irqs() {
	[ -d "$dev/msi_irqs" ] || {
		echo 0
		return
	}
	ls "$dev/msi_irqs" | awk 'NR == FNR { v[$1 ":"] = 1; next }
		($1 in v) { for (i = 2; i <= n + 1; i++) s += $i }
		FNR == 1 && NR != FNR { n = NF }
		END { print s + 0 }' - /proc/interrupts
}
# rvirtio_blk's per-queue counters (kvirtio::stats), summed over queues:
# added kicks interrupts spurious used.
rvstats() {
	f=/sys/kernel/debug/rvirtio_blk/$addr/queues
	[ -r "$f" ] || {
		echo "- - - - -"
		return
	}
	awk '{ for (i = 1; i < NF; i++) if ($i ~ /^(added|kicks|interrupts|spurious|used)$/) s[$i] += $(i + 1) }
		END { print s["added"] + 0, s["kicks"] + 0, s["interrupts"] + 0, s["spurious"] + 0, s["used"] + 0 }' "$f"
}
# shellcheck disable=SC2086
fio --name=b --filename=/dev/"$disk" $args --ioengine=$engine --direct=1 \
	--time_based --runtime=$((secs + 4)) --numjobs=1 --eta=never >/dev/null &
sleep 2
echo "COUNT stat1 $(cat /sys/block/"$disk"/stat)"
echo "COUNT irq1 $(irqs)"
echo "COUNT rv1 $(rvstats)"
sync
sleep "$secs"
sync
echo "COUNT stat2 $(cat /sys/block/"$disk"/stat)"
echo "COUNT irq2 $(irqs)"
echo "COUNT rv2 $(rvstats)"
wait
grep -E "\[(rvirtio_blk|virtio_blk|virtio_pci|virtio_mmio|virtio_ring|virtio|virtio_pci_modern_dev|virtio_pci_legacy_dev)\]" /proc/kallsyms |
	sed 's/^/COUNT SYM /'
