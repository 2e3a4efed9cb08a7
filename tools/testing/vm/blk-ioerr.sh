#!/bin/sh
# A device that fails requests: QEMU's blkdebug makes reads of sectors
# 4096-4103 and writes of sectors 8192-8199 fail on the host, and
# virtio-blk answers them with VIRTIO_BLK_S_IOERR. The driver must end
# exactly those requests with an I/O error (EIO in user space), keep the
# others working, and not count them as protocol violations.
# rvirtio-test: timeout=180 disks=64M
# rvirtio-qemu: -blockdev '{"driver":"raw","node-name":"bd","file":{"driver":"blkdebug","image":{"driver":"file","filename":"@DISK0@"},"inject-error":[{"event":"read_aio","iotype":"read","sector":4096,"errno":5},{"event":"write_aio","iotype":"write","sector":8192,"errno":5}]}}'
# rvirtio-qemu: -device virtio-blk-pci,drive=bd,disable-legacy=on,addr=0x5
. "$RVIRTIO_LIB"

check "modprobe rvirtio_blk" modprobe rvirtio_blk
wait_for /sys/block/vda 10

check "a read elsewhere works" dd if=/dev/vda of=/dev/null bs=4k skip=100 count=8 iflag=direct status=none
if dd if=/dev/vda of=/dev/null bs=4k skip=512 count=1 iflag=direct 2>/tmp/rd.err; then
	fail "a read of the failing sectors succeeded"
fi
grep -q "Input/output error" /tmp/rd.err || fail "the read failed, but not with EIO: $(cat /tmp/rd.err)"
echo "ok: the read failed with EIO"

check "a write elsewhere works" dd if=/dev/urandom of=/dev/vda bs=4k seek=100 count=8 oflag=direct status=none
if dd if=/dev/zero of=/dev/vda bs=4k seek=1024 count=1 oflag=direct 2>/tmp/wr.err; then
	fail "a write of the failing sectors succeeded"
fi
grep -q "Input/output error" /tmp/wr.err || fail "the write failed, but not with EIO: $(cat /tmp/wr.err)"
echo "ok: the write failed with EIO"

check "fio with verification on the good part" fio --name=v --filename=/dev/vda --rw=randrw --bs=4k \
	--offset=16M --size=16M --iodepth=16 --ioengine=libaio --direct=1 --verify=crc32c \
	--verify_fatal=1 --eta=never --output=/tmp/fio.out
if dmesg_has "bad status or length|protocol violations"; then
	fail "device errors were counted as protocol violations"
fi
echo "ok: no protocol violations counted"
check "rmmod" rmmod rvirtio_blk
no_kernel_errors
