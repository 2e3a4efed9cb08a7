#!/bin/sh
# The runner's host-side sockets (sockets=, NAME.host), checked with the
# kernel's C virtio_console (the reference the console tests compare with):
# a virtserialport named rvirtio.test whose host side is a UNIX socket that
# harness-console.host serves while the guest runs. 1 MiB from the guest
# reaches the host byte-exact (the host answers its sha256), and 1 MiB from
# the host reaches the guest (the guest answers its sha256, which the host
# checks; a mismatch fails the host script and so the test).
# rvirtio-test: timeout=300 sockets=p1
# rvirtio-qemu: -device virtio-serial-pci,id=vser0,disable-legacy=on,addr=0x5
# rvirtio-qemu: -chardev socket,id=p1,path=@SOCK:p1@,server=on,wait=off
# rvirtio-qemu: -device virtserialport,bus=vser0.0,chardev=p1,name=rvirtio.test
. "$RVIRTIO_LIB"

check "modprobe virtio_pci virtio_console" modprobe -a virtio_pci virtio_console
port=
n=0
while [ -z "$port" ]; do
	for p in /sys/class/virtio-ports/*; do
		[ "$(cat "$p/name" 2>/dev/null)" = rvirtio.test ] && port=/dev/${p##*/}
	done
	n=$((n + 1))
	[ $n -lt 100 ] || fail "no virtio port named rvirtio.test"
	[ -n "$port" ] || sleep 0.1
done
wait_for "$port" 10
echo "ok: port rvirtio.test is $port"

step "1 MiB guest to host, byte-exact"
head -c 1048576 /dev/urandom >/tmp/out.bin
exec 3<>"$port"
cat /tmp/out.bin >&3 || fail "writing to $port"
got=$(head -c 65 <&3 | tr -d '\n')
expect_eq "the host's sha256 of what it received" "$got" "$(sha256sum /tmp/out.bin | cut -c1-64)"

step "1 MiB host to guest, byte-exact"
head -c 1048576 <&3 >/tmp/in.bin
expect_eq "bytes received" "$(wc -c </tmp/in.bin)" 1048576
sha256sum /tmp/in.bin | cut -c1-64 >&3
exec 3>&-
no_kernel_errors
