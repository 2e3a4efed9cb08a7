#!/bin/sh
# The `make run` guest script: loads every rvirtio module and shows what each
# driver does with its device.
. "$RVIRTIO_LIB"

names() {
	case $1 in
	0x1000 | 0x1041) echo net ;;
	0x1001 | 0x1042) echo block ;;
	0x1003 | 0x1043) echo console ;;
	0x1005 | 0x1044) echo entropy ;;
	0x1002 | 0x1045) echo balloon ;;
	0x1004 | 0x1048) echo scsi ;;
	*) echo "other ($1)" ;;
	esac
}

step "virtio PCI devices"
for d in $(pci_devices 0x1af4 0x1000; pci_devices 0x1af4 0x1001; pci_devices 0x1af4 0x1003) \
	$(for id in 1041 1042 1043 1044 1045 1048 1005 1002 1004; do pci_devices 0x1af4 0x$id; done); do
	echo "  $(basename "$d")  virtio-$(names "$(cat "$d/device")")  driver: $(driver_of "$d" || echo none)"
done

# modules [-v]: the rvirtio test modules (rvirtio_core_test and *_kunit);
# with -v, the other rvirtio modules.
modules() {
	(cd "/lib/modules/$(uname -r)/updates" 2>/dev/null && find . -name '*.ko') |
		sed 's|.*/||;s|\.ko$||' | grep -E "$@" '_kunit$|^rvirtio_core_test$' | sort
}

step "loading the rvirtio modules (not the test modules)"
for m in $(modules -v); do
	if modprobe "$m"; then
		echo "  loaded $m"
	else
		echo "  FAILED to load $m"
	fi
done

step "the drivers' kernel messages"
dmesg | grep -E '^\[[ 0-9.]*\] rvirtio' | sed 's/^\[[ 0-9.]*\] /  /'

step "devices after loading"
for d in /sys/bus/pci/devices/*; do
	[ "$(cat "$d/vendor")" = 0x1af4 ] || continue
	echo "  $(basename "$d")  virtio-$(names "$(cat "$d/device")")  driver: $(driver_of "$d" || echo none)"
done

rng=$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null || echo none)
if [ "$rng" != none ]; then
	step "entropy: $rng"
	head -c 32 /dev/hwrng 2>/dev/null | od -An -tx1
fi
for b in /sys/block/vd*; do
	[ -e "$b" ] || continue
	d=/dev/$(basename "$b")
	step "disk $(basename "$b"): $(($(cat "$b/size") / 2048)) MiB, $(cat "$b/queue/logical_block_size")-byte blocks"
	echo "  serial '$(cat "$b/serial")', $(cat "$b/cache_type") cache, $(ls -d "$b"/mq/* | wc -l) hardware queue(s)," \
		"discard up to $(($(cat "$b/queue/discard_max_hw_bytes") >> 20)) MiB"
	# -q still says when the disk already holds a file system (a second
	# run of the demo, whose disk image stays): nothing to show.
	if mkfs.ext4 -q -F "$d" >/dev/null 2>&1 && mkdir -p /mnt/demo && mount "$d" /mnt/demo; then
		echo "rvirtio" >/mnt/demo/hello && sync && umount /mnt/demo
		if e2fsck -f -n "$d" >/dev/null 2>&1; then
			echo "  ext4 made, written, checked clean"
		else
			echo "  ext4 made and written; e2fsck FOUND ERRORS"
		fi
	else
		echo "  mkfs.ext4 or mount FAILED"
	fi
done

# The NIC is on QEMU's user network: the guest is 10.0.2.15, and QEMU's
# gateway 10.0.2.2 answers pings (run-demo).
for n in $(net_ifaces rvirtio_net); do
	step "network interface $n ($(ethtool -i "$n" | sed -n 's/^driver: //p'), $(cat "/sys/class/net/$n/address"))"
	ip link set "$n" up && ip addr add 10.0.2.15/24 dev "$n"
	i=0
	while [ "$(cat "/sys/class/net/$n/carrier" 2>/dev/null)" != 1 ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	echo "  link $(cat "/sys/class/net/$n/operstate"), address $(ip -4 -o addr show dev "$n" | awk '{ print $4 }')," \
		"MTU $(cat "/sys/class/net/$n/mtu")"
	if ping -c 3 -W 5 10.0.2.2 >/tmp/ping.out 2>&1; then
		echo "  ping 10.0.2.2 (QEMU's gateway): $(grep 'packets transmitted' /tmp/ping.out)"
		echo "  $(grep '^round-trip' /tmp/ping.out)"
	else
		echo "  ping 10.0.2.2 FAILED: $(tail -n 2 /tmp/ping.out | tr '\n' ' ')"
	fi
done

p=$(port_named rvirtio.demo)
if [ -n "$p" ]; then
	step "virtserialport rvirtio.demo: $p"
	exec 3<>"$p"
	echo "hello from the guest's $p" >&3
	ans=$(timeout 10 head -n 1 <&3)
	case $ans in
	"ack "*) echo "  sent a line to the host, which acknowledged its ${ans#ack } bytes" ;;
	*) echo "  sent a line to the host: no acknowledgement within 10 s" ;;
	esac
	exec 3>&-
fi

step "KUnit suites of the test modules, run as each loads"
for m in $(modules); do
	modprobe "$m" || echo "  FAILED to load $m"
done
for r in /sys/kernel/debug/kunit/*/results; do
	[ -e "$r" ] || continue
	s=$(basename "$(dirname "$r")")
	echo "  $s: $(tail -n1 "$r")"
done
