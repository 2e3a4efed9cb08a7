#!/bin/sh
# The sample module loads, takes its parameter and unloads; its C helpers
# are linked in and its layout check runs at load. Loading it runs no KUnit
# suite: that is in its test module rvirtio_sample_kunit (kunit.sh).
# rvirtio-test: timeout=90
. "$RVIRTIO_LIB"

step "load rvirtio_sample with modprobe"
check "modprobe rvirtio_sample" modprobe rvirtio_sample
check "the module is live" grep -q '^rvirtio_sample ' /proc/modules
check "loading it ran no KUnit suite" test ! -e /sys/kernel/debug/kunit/rvirtio_sample
check "modinfo lists the verbose parameter" sh -c 'modinfo rvirtio_sample | grep -q "^parm: *verbose"'
check "the load message reports the layout check" sh -c 'dmesg | grep -Eq "rvirtio_sample: loaded: helpers ABI [0-9]+"'
check "rmmod rvirtio_sample" rmmod rvirtio_sample
check "it is gone" sh -c '! grep -q "^rvirtio_sample " /proc/modules'

step "reload with verbose=1"
check "modprobe rvirtio_sample verbose=1" modprobe rvirtio_sample verbose=1
check "every checked field is printed" sh -c 'dmesg | grep -q "layout ok: VringDescNext = 14"'
check "rmmod rvirtio_sample" rmmod rvirtio_sample
