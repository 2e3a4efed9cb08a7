#!/usr/bin/env bash
# Installs the project's built modules into DIR/lib/modules/<release> and
# runs depmod there, so `modprobe` finds them in a guest booted with that
# tree. With --with-kernel-modules the kernel's own modules (the C virtio
# drivers among them) are installed first.
#
# usage: tools/setup/modules-root.sh [--with-kernel-modules] DIR
# (RVIRTIO_KVARIANT, RVIRTIO_MODULE_SRC and RVIRTIO_MODULE_FLAGS, set by the
# Makefile, select a kernel variant, the tree its modules were built in and
# its extra make flags.)
set -euo pipefail
here=$(dirname "$0")
. "$here/../lib.sh"
with_kernel=0
if [ "${1:-}" = --with-kernel-modules ]; then
	with_kernel=1
	shift
fi
[ $# = 1 ] || die "usage: $0 [--with-kernel-modules] DIR"
dir=$(mkdir -p "$1" && cd "$1" && pwd)
kdir=$("$here/../kernel/kdir.sh")
[ -e "$kdir/.rvirtio-built" ] || die "the kernel is not built yet (run make)"
rel=$(cat "$kdir/include/config/kernel.release")
if [ $with_kernel = 1 ]; then
	mkdir -p "$dir/lib/modules"
	rm -rf "${dir:?}/lib/modules/$rel"
	cp -a "$kdir/modroot/lib/modules/$rel" "$dir/lib/modules/"
	rm -f "$dir/lib/modules/$rel/build" "$dir/lib/modules/$rel/source"
fi
# shellcheck disable=SC2086
make -s -C "$kdir" M="${RVIRTIO_MODULE_SRC:-$RVIRTIO_TOP}" RUSTC="$RVIRTIO_RUSTC" HOSTRUSTC="$RVIRTIO_RUSTC" \
	${RVIRTIO_MODULE_FLAGS:-} INSTALL_MOD_PATH="$dir" DEPMOD=/bin/true modules_install >&2
/sbin/depmod -b "$dir" "$rel"
note "modules installed in $dir/lib/modules/$rel"
