#!/bin/sh
# rvirtio_blk on a legacy-only device (I/O BAR 0, legacy ring layout) and
# on a transitional device with both interfaces, which the driver runs
# modern by default and legacy with force_legacy=1: ext4 and fio
# verification work on each. Disk names: vda and vdb (the C driver's), a
# device unbound and bound again gets its name back, and prefix=rvd names
# them rvda and rvdb.
# rvirtio-test: timeout=300 disks=128M,64M
# rvirtio-qemu: -drive if=none,id=d0,file=@DISK0@,format=raw,cache=unsafe
# rvirtio-qemu: -device virtio-blk-pci,drive=d0,disable-modern=on,addr=0x5
# rvirtio-qemu: -drive if=none,id=d1,file=@DISK1@,format=raw,cache=unsafe
# rvirtio-qemu: -device virtio-blk-pci,drive=d1,addr=0x6
. "$RVIRTIO_LIB"

expect_eq "the legacy-only device is transitional" "$(cat /sys/bus/pci/devices/0000:00:05.0/device)" 0x1001
expect_eq "the device with both interfaces is transitional" "$(cat /sys/bus/pci/devices/0000:00:06.0/device)" 0x1001

exercise() { # DISK LABEL
	check "$2: mkfs.ext4" mkfs.ext4 -q -F "/dev/$1"
	check "$2: e2fsck is clean" e2fsck -f -n "/dev/$1"
	check "$2: fio verify" fio --name=v --filename="/dev/$1" --rw=randrw --bs=4k --size=16M \
		--offset_increment=16M --numjobs=2 --iodepth=8 --ioengine=libaio --direct=1 \
		--verify=crc32c --verify_fatal=1 --eta=never --output=/tmp/fio.out
}

step "default: legacy-only device legacy, transitional device modern"
check "modprobe rvirtio_blk" modprobe rvirtio_blk
wait_for /sys/block/vda 10
wait_for /sys/block/vdb 10
check "the legacy-only device uses the legacy interface" dmesg_has "0000:00:05.0: legacy interface"
check "the transitional device uses the modern interface" dmesg_has "0000:00:06.0: modern interface"
exercise "$(disk_of 0000:00:05.0)" "legacy-only"
exercise "$(disk_of 0000:00:06.0)" "transitional, modern"
check "rmmod" rmmod rvirtio_blk

step "force_legacy=1: the transitional device legacy"
check "modprobe rvirtio_blk force_legacy=1" modprobe rvirtio_blk force_legacy=1
wait_for /sys/block/vda 10
wait_for /sys/block/vdb 10
check "the transitional device uses the legacy interface" dmesg_has "0000:00:06.0: legacy interface"
exercise "$(disk_of 0000:00:06.0)" "transitional, legacy"
check "rmmod" rmmod rvirtio_blk

step "names: the C driver's, reused after unbind and bind; prefix=rvd"
check "modprobe rvirtio_blk" modprobe rvirtio_blk
wait_for /sys/block/vda 10
wait_for /sys/block/vdb 10
first=$(disk_of 0000:00:05.0)
second=$(disk_of 0000:00:06.0)
echo "0000:00:05.0 is $first, 0000:00:06.0 is $second"
case "$first$second" in
vdavdb | vdbvda) echo "ok: the disks are vda and vdb" ;;
*) fail "the disks are '$first' and '$second', not vda and vdb" ;;
esac
drv=/sys/bus/pci/drivers/rvirtio_blk
check "unbind 0000:00:05.0" sh -c "echo 0000:00:05.0 >$drv/unbind"
check "its disk is gone" test ! -e "/sys/block/$first"
expect_eq "the other disk stays" "$(disk_of 0000:00:06.0)" "$second"
check "bind 0000:00:05.0 again" sh -c "echo 0000:00:05.0 >$drv/bind"
wait_for "/sys/block/$first" 10
expect_eq "the device bound again has its name back" "$(disk_of 0000:00:05.0)" "$first"
check "I/O on the disk bound again" dd if="/dev/$first" of=/dev/null bs=4k count=16 iflag=direct status=none
check "rmmod" rmmod rvirtio_blk
check "modprobe rvirtio_blk prefix=rvd" modprobe rvirtio_blk prefix=rvd
wait_for /sys/block/rvda 10
wait_for /sys/block/rvdb 10
check "no vd disk with prefix=rvd" sh -c '! ls -d /sys/block/vd* 2>/dev/null'
expect_eq "prefix parameter" "$(cat /sys/module/rvirtio_blk/parameters/prefix)" rvd
check "rmmod" rmmod rvirtio_blk
no_kernel_errors
