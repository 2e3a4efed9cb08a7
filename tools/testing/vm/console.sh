#!/bin/sh
# rvirtio_console on virtio-serial (PCI on pc, virtio-mmio version 1 and
# 2 on microvm) with a virtconsole (port 0, hvc0,
# the kernel console: console=hvc0) and two named virtserialports, all on
# host sockets served by console.host while the guest runs:
# - the ports appear as /dev/vportNpM with their names in
#   /sys/class/virtio-ports/*/name; /proc/consoles lists hvc0;
# - a kernel message written after load reaches the host through hvc0, and
#   a shell on hvc0 answers a command the host types; line editing (a typo
#   erased with backspace), ^C (interrupts a running sleep), stty -echo and
#   stty rows/cols (stty size follows) on that shell, checked by the host;
# - 1 MiB guest to host and 1 MiB host to guest, byte-exact (sha256 both
#   ways, checked by the host script and here);
# - on rvirtio.two (tools/vm/guest/portpoll.c): O_NONBLOCK read is EAGAIN,
#   poll is POLLOUT only with the host open and no data; the host's data
#   raises POLLIN and SIGIO (O_ASYNC) and reads back; the host closing
#   raises POLLHUP and a read returns EOF;
# - a port unplugged (device_del) while a reader sleeps on it: the reader
#   is woken with an error, the node goes, no oops; device_add brings the
#   port back and it takes a write;
# - 50 rounds of rmmod and modprobe with the host sides connected.
# rvirtio-test: timeout=900 machines=pc,microvm,microvm-v2 sockets=con,p1,p2 append=console=hvc0,console=ttyS0
# rvirtio-qemu[pc]: -device virtio-serial-pci,id=vser0,disable-legacy=on,max_ports=4,addr=0x5
# rvirtio-qemu[microvm*]: -device virtio-serial-device,id=vser0,max_ports=4
# rvirtio-qemu: -chardev socket,id=con,path=@SOCK:con@,server=on,wait=off
# rvirtio-qemu: -chardev socket,id=p1,path=@SOCK:p1@,server=on,wait=off
# rvirtio-qemu: -chardev socket,id=p2,path=@SOCK:p2@,server=on,wait=off
# rvirtio-qemu: -device virtconsole,bus=vser0.0,chardev=con,id=vcon,nr=0
# rvirtio-qemu: -device virtserialport,bus=vser0.0,chardev=p1,name=rvirtio.test,id=vp1,nr=1
# rvirtio-qemu: -device virtserialport,bus=vser0.0,chardev=p2,name=rvirtio.two,id=vp2,nr=2
. "$RVIRTIO_LIB"

check "modprobe rvirtio_console" modprobe rvirtio_console
p1=$(port_named rvirtio.test) || fail "no port named rvirtio.test"
p2=$(port_named rvirtio.two) || fail "no port named rvirtio.two"
echo "ok: rvirtio.test is $p1, rvirtio.two is $p2"
ls /sys/class/virtio-ports/
case "$p1" in /dev/vport*p1) ;; *) fail "rvirtio.test is $p1, expected port 1" ;; esac
case "$p2" in /dev/vport*p2) ;; *) fail "rvirtio.two is $p2, expected port 2" ;; esac
grep -q '^hvc0 ' /proc/consoles || { cat /proc/consoles; fail "/proc/consoles does not list hvc0"; }
echo "ok: /proc/consoles lists hvc0"
con=/dev/vport${p1#/dev/vport}
con=${con%p1}p0
if [ -e "$con" ] && cat "$con" 2>/dev/null; then
	fail "$con (the console port) opened as a character device"
fi
echo "ok: the console port is hvc0, not a character device"

step "a shell on hvc0, a kernel message through hvc0"
# sigdfl (tools/vm/guest/sigdfl.c): '&' would start the shell with SIGINT
# ignored for good, and ^C on hvc0 would interrupt nothing.
setsid sigdfl sh -c 'exec sh -i </dev/hvc0 >/dev/hvc0 2>&1' &
echo "RVIRTIO-KMSG-MARK after load" >/dev/kmsg

step "1 MiB guest to host, byte-exact"
head -c 1048576 /dev/urandom >/tmp/out.bin
exec 3<>"$p1"
cat /tmp/out.bin >&3 || fail "writing to $p1"
got=$(head -c 65 <&3 | tr -d '\n')
expect_eq "the host's sha256 of what it received" "$got" "$(sha256sum /tmp/out.bin | cut -c1-64)"

step "1 MiB host to guest, byte-exact"
head -c 1048576 <&3 >/tmp/in.bin
expect_eq "bytes received" "$(wc -c </tmp/in.bin)" 1048576
sha256sum /tmp/in.bin | cut -c1-64 >&3

step "rvirtio.two: O_NONBLOCK, poll, SIGIO; the host closes: POLLHUP, EOF"
portpoll "$p2" || fail "portpoll $p2"

step "the host's verdict on the kernel message and the shell"
verdict=$(head -n 1 <&3)
expect_eq "host verdict" "$verdict" "host-ok"
exec 3>&-

step "unplug rvirtio.test while a reader sleeps on it"
(dd if="$p1" of=/dev/null bs=1 count=1 2>/tmp/unplug.err; echo $? >/tmp/unplug.rc) &
sleep 2
[ ! -s /tmp/unplug.rc ] || fail "the reader did not sleep: $(cat /tmp/unplug.err)"
qmp '{"execute": "device_del", "arguments": {"id": "vp1"}}'
n=0
while [ ! -s /tmp/unplug.rc ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
[ -s /tmp/unplug.rc ] || fail "the reader was not woken by the unplug"
[ "$(cat /tmp/unplug.rc)" != 0 ] || fail "the reader of an unplugged port got no error"
echo "ok: the reader got: $(head -n 1 /tmp/unplug.err)"
n=0
while [ -e "$p1" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
[ ! -e "$p1" ] || fail "$p1 is still there after the unplug"
echo "ok: $p1 went away"

step "hot-plug rvirtio.test again (device_add)"
qmp '{"execute": "device_add", "arguments": {"driver": "virtserialport", "bus": "vser0.0", "chardev": "p1", "name": "rvirtio.test", "id": "vp1", "nr": 1}}'
p1=$(port_named rvirtio.test) || fail "rvirtio.test did not come back"
echo "ok: rvirtio.test is back as $p1"
echo "after hot-plug" | timeout 30 tee "$p1" >/dev/null || fail "writing to the hot-plugged $p1"
echo "ok: wrote to the hot-plugged port"

step "50 rounds of rmmod and modprobe"
i=0
while [ $i -lt 50 ]; do
	rmmod rvirtio_console || fail "rmmod, round $i"
	modprobe rvirtio_console || fail "modprobe, round $i"
	port_named rvirtio.two >/dev/null || fail "no rvirtio.two after modprobe, round $i"
	i=$((i + 1))
done
echo "ok: 50 rounds"
rmmod rvirtio_console || fail "final rmmod"
no_kernel_errors
