#!/bin/sh
# kmemleak over 50 rounds of modprobe, port I/O and rmmod (10 on pc), the
# first 3 with an unbind and rebind of the device: nothing rvirtio_console
# allocated is left unreferenced. On pc a round takes about 25 s under
# kmemleak and TCG (modprobe, that is the PCI probe, about 17 s of it;
# microvm's whole round about 2.5 s), so 50 rounds there would take 20
# minutes; console.sh does 50 rounds on pc without kmemleak. Ports with their host side open (a file
# chardev) and closed (a socket nobody connects to); one written to, one
# read to EOF, and (in the unbind rounds) one held open across the unbind
# (its reader gets an error). Over PCI (pc) and virtio-mmio version 1 and
# 2 (microvm).
# rvirtio-test: timeout=900 machines=pc,microvm,microvm-v2 sockets=s2 append=kmemleak=on
# rvirtio-qemu[pc]: -device virtio-serial-pci,id=vser0,disable-legacy=on,max_ports=4,addr=0x5
# rvirtio-qemu[microvm*]: -device virtio-serial-device,id=vser0,max_ports=4
# rvirtio-qemu: -chardev file,id=f0,path=/dev/null
# rvirtio-qemu: -chardev file,id=f1,path=/dev/null
# rvirtio-qemu: -chardev socket,id=s2,path=@SOCK:s2@,server=on,wait=off
# rvirtio-qemu: -device virtconsole,bus=vser0.0,chardev=f0,id=vcon,nr=0
# rvirtio-qemu: -device virtserialport,bus=vser0.0,chardev=f1,name=rvirtio.open,id=vp1,nr=1
# rvirtio-qemu: -device virtserialport,bus=vser0.0,chardev=s2,name=rvirtio.closed,id=vp2,nr=2
. "$RVIRTIO_LIB"

check "kmemleak is active" test -w /sys/kernel/debug/kmemleak
dmesg_has "kmemleak: Kernel memory leak detector disabled" && fail "kmemleak is disabled"

ports_io() {
	p1=$(port_named rvirtio.open) || fail "no rvirtio.open, $1"
	p2=$(port_named rvirtio.closed) || fail "no rvirtio.closed, $1"
	timeout 60 dd if=/dev/zero of="$p1" bs=4k count=16 status=none || fail "writing $p1, $1"
	timeout 60 cat "$p2" >/dev/null || fail "reading $p2 to EOF, $1"
}

rounds=50
[ "$RVIRTIO_MACHINE" = pc ] && rounds=10
t0=$(date +%s)
i=0
while [ $i -lt $rounds ]; do
	modprobe rvirtio_console || fail "modprobe, round $i"
	dev=$(bound_devices rvirtio_console)
	[ -n "$dev" ] || fail "no device bound, round $i"
	ports_io "round $i"
	if [ $i -lt 3 ]; then
		exec 3<"$p1"
		unbind_device "$dev" || fail "unbind, round $i"
		cat <&3 >/dev/null 2>&1 && fail "a read of a port of an unbound device succeeded, round $i"
		exec 3<&-
		bind_device "$dev" rvirtio_console || fail "bind, round $i"
		ports_io "after rebind, round $i"
	fi
	rmmod rvirtio_console || fail "rmmod, round $i"
	i=$((i + 1))
done
echo "ok: $rounds rounds ($(($(date +%s) - t0)) s)"
kmemleak_none_from rvirtio_console
no_kernel_errors
