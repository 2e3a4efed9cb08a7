#!/bin/sh
# EMERG_WRITE: rvirtio_console negotiates it when the device offers it
# (QEMU's emergency-write=on) and writes panic output through the
# configuration field emerg_wr, without the virtqueues; QEMU sends each
# byte to port 0's chardev, here a file in the run's directory (the
# runner's sockets= gives its path) that console-emerg.host reads. A file,
# not a socket: QEMU writes each emergency byte once and drops it when a
# socket is full, which a byte per write fills in a few hundred bytes.
# hvc0 is not the kernel console (console=ttyS0 only), so kernel messages
# reach that file through emerg_wr or not at all. The
# guest writes a mark to the kernel log and crashes (sysrq c: a panic,
# announced with RVIRTIO-EXPECT-PANIC, tools/vm/run); the host script
# checks that the mark and the panic message arrived. Over PCI (pc) and
# virtio-mmio version 1 and 2 (microvm).
# rvirtio-test: timeout=300 machines=pc,microvm,microvm-v2 sockets=con
# rvirtio-qemu[pc]: -device virtio-serial-pci,id=vser0,disable-legacy=on,emergency-write=on,addr=0x5
# rvirtio-qemu[microvm*]: -device virtio-serial-device,id=vser0,emergency-write=on
# rvirtio-qemu: -chardev file,id=con,path=@SOCK:con@
# rvirtio-qemu: -device virtconsole,bus=vser0.0,chardev=con,id=vcon,nr=0
. "$RVIRTIO_LIB"

check "modprobe rvirtio_console" modprobe rvirtio_console
dev=$(bound_devices rvirtio_console)
[ -n "$dev" ] || fail "no device bound to rvirtio_console"
info=/sys/kernel/debug/rvirtio_console/${dev##*/}/device
neg=$(sed -n 's/^negotiated: Features(0x\([0-9a-f_]*\)).*/\1/p' "$info" | tr -d _)
[ -n "$neg" ] || { cat "$info"; fail "no negotiated features in $info"; }
[ $((0x$neg & 4)) != 0 ] || fail "EMERG_WRITE (bit 2) not negotiated: 0x$neg"
echo "ok: EMERG_WRITE negotiated (0x$neg)"
grep -q '^hvc' /proc/consoles && { cat /proc/consoles; fail "hvc is a kernel console here"; }

step "a panic: its output reaches the host through emerg_wr"
echo "RVIRTIO-EMERG-MARK before the crash" >/dev/kmsg
echo RVIRTIO-EXPECT-PANIC
sleep 1
echo c >/proc/sysrq-trigger
sleep 30
fail "sysrq c did not panic the guest"
