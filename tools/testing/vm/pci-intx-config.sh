#!/bin/sh
# Virtio PCI without MSI-X (vectors=0), where everything comes through the
# INTx line and the ISR: on a legacy-only device the device configuration
# starts at offset 20 of the I/O BAR (24 with MSI-X), so the capacity the
# driver reads proves the offset; a resize through QEMU's block_resize is a
# configuration change interrupt over INTx (ISR bit 1), on the legacy and
# on a modern device.
# rvirtio-test: timeout=300 disks=64M,32M
# rvirtio-qemu: -drive if=none,id=d0,file=@DISK0@,format=raw,cache=unsafe
# rvirtio-qemu: -device virtio-blk-pci,drive=d0,disable-modern=on,vectors=0,addr=0x5
# rvirtio-qemu: -drive if=none,id=d1,file=@DISK1@,format=raw,cache=unsafe
# rvirtio-qemu: -device virtio-blk-pci,drive=d1,disable-legacy=on,vectors=0,addr=0x6
. "$RVIRTIO_LIB"

# resized DISK SECTORS: waits up to 10 s for the disk's new size.
resized() {
	n=0
	while [ "$(cat "/sys/block/$1/size")" != "$2" ]; do
		n=$((n + 1))
		[ $n -lt 100 ] || fail "$1: still $(cat "/sys/block/$1/size") sectors 10 s after block_resize"
		sleep 0.1
	done
	echo "ok: $1 has $2 sectors after block_resize"
}

check "modprobe rvirtio_blk" modprobe rvirtio_blk
wait_for /sys/block/vda 10
wait_for /sys/block/vdb 10
leg=$(disk_of 0000:00:05.0)
mod=$(disk_of 0000:00:06.0)
[ -n "$leg" ] && [ -n "$mod" ] || fail "no disk for one of the devices"
check "the legacy device on INTx" dmesg_has "0000:00:05.0: legacy interface, [0-9]+ queue\(s\), Intx interrupts"
check "the modern device on INTx" dmesg_has "0000:00:06.0: modern interface, [0-9]+ queue\(s\), Intx interrupts"
expect_eq "legacy capacity read at offset 20 (64 MiB)" "$(cat /sys/block/$leg/size)" 131072
expect_eq "modern capacity (32 MiB)" "$(cat /sys/block/$mod/size)" 65536
check "I/O on the legacy device" fio --name=v --filename="/dev/$leg" --rw=randrw --bs=4k \
	--size=8M --iodepth=8 --ioengine=libaio --direct=1 --verify=crc32c --verify_fatal=1 \
	--eta=never --output=/tmp/fio.out

step "configuration change interrupts over INTx"
qmp '{"execute": "block_resize", "arguments": {"device": "d0", "size": 134217728}}'
resized "$leg" 262144
qmp '{"execute": "block_resize", "arguments": {"device": "d1", "size": 67108864}}'
resized "$mod" 131072
check "the driver saw both changes" sh -c \
	'dmesg | grep -q "capacity changed: 262144 sectors" && dmesg | grep -q "capacity changed: 131072 sectors"'
check "the new end of the legacy disk is usable" dd if=/dev/zero of="/dev/$leg" bs=1M seek=127 count=1 oflag=direct status=none
check "rmmod" rmmod rvirtio_blk
no_kernel_errors
