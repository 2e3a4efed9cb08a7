#!/bin/sh
# A device that stays live but never answers does not hang I/O forever:
# QEMU's I/O throttling (block_set_io_throttle, 1 byte/s) holds a 4 KiB read
# for over an hour while the device keeps DRIVER_OK and answers nothing.
# With timeout_ms=1000 and timeout_rearms=2 the driver re-arms the
# request's timer twice, then on its third timeout resets the device and
# fails the read with EIO; new I/O fails at once and the module unloads.
# (QEMU's blkdebug "break" would suspend the request too, but QEMU's
# virtio-blk reset drains in-flight requests and would wait for it forever;
# a throttled request is released by the drain.)
# rvirtio-test: timeout=300 disks=64M
# rvirtio-qemu: -drive if=none,id=d0,file=@DISK0@,format=raw
# rvirtio-qemu: -device virtio-blk-pci,drive=d0,disable-legacy=on,addr=0x5,id=blk0
. "$RVIRTIO_LIB"

check "modprobe rvirtio_blk timeout_ms=1000 timeout_rearms=2" \
	modprobe rvirtio_blk timeout_ms=1000 timeout_rearms=2
wait_for /sys/block/vda 10
check "I/O works" dd if=/dev/vda of=/dev/null bs=4096 count=16 iflag=direct status=none

step "throttle the device to 1 byte/s"
qmp '{"execute": "block_set_io_throttle", "arguments": {"device": "d0", "bps": 1, "bps_rd": 0, "bps_wr": 0, "iops": 0, "iops_rd": 0, "iops_wr": 0}}'
sleep 3
# The bucket starts empty: one request passes, and fills it for an hour.
dd if=/dev/vda of=/dev/null bs=4096 count=1 iflag=direct skip=50 status=none 2>/dev/null

step "a read the device holds fails with EIO in bounded time"
# In the background: a process waiting for direct I/O cannot be killed.
start=$(cut -d. -f1 /proc/uptime)
dd if=/dev/vda of=/dev/null bs=4096 count=1 iflag=direct skip=100 2>/tmp/dd.err &
pid=$!
n=0
while kill -0 $pid 2>/dev/null; do
	n=$((n + 1))
	[ $n -lt 1200 ] || fail "the read still hangs after 120 s: the timeout handler keeps re-arming"
	sleep 0.1
done
took=$(($(cut -d. -f1 /proc/uptime) - start))
wait $pid && fail "the read succeeded (the throttle did not hold it?)"
grep -q "Input/output error" /tmp/dd.err || fail "the read failed, but not with EIO: $(cat /tmp/dd.err)"
echo "ok: the read failed with EIO after $took s"
[ "$took" -lt 60 ] || fail "it took $took s (3 timeouts of 1 s expected)"
check "the driver gave up after 3 timeouts" \
	dmesg_has "request unanswered after 3 timeouts on a live device"
if timeout 60 dd if=/dev/zero of=/dev/vda bs=4096 count=1 oflag=direct 2>/dev/null; then
	fail "a write to the failed device succeeded"
fi
echo "ok: new I/O fails at once"
check "rmmod" timeout 60 rmmod rvirtio_blk
no_kernel_errors
