#!/usr/bin/env bash
# Prints the kernel build directory for $RVIRTIO_ARCH. The name carries a key
# over everything that shapes the build (source version, config fragments,
# rustc, bindgen, this recipe), so a change to any of them builds a new tree
# and an unchanged one is reused. A variant (RVIRTIO_KVARIANT, tools/lib.sh)
# adds its fragment and toolchain to the key and its name to the directory.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

frag=$RVIRTIO_TOP/tools/kernel/$RVIRTIO_ARCH.config
[ -r "$frag" ] || die "no kernel configuration fragment for $RVIRTIO_ARCH ($frag)"
vfrag=
if [ -n "$RVIRTIO_KVARIANT" ]; then
	vfrag=$RVIRTIO_TOP/tools/kernel/$RVIRTIO_KVARIANT.config
	[ -r "$vfrag" ] || die "no kernel configuration fragment for the $RVIRTIO_KVARIANT variant ($vfrag)"
fi
key=$({
	echo "recipe 1"
	echo "$RVIRTIO_KVER $RVIRTIO_ARCH"
	cat "$RVIRTIO_TOP/tools/kernel/common.config" "$frag"
	if [ -n "$vfrag" ]; then
		cat "$vfrag"
		echo "LLVM=$RVIRTIO_KLLVM"
		"clang$RVIRTIO_KLLVM" --version 2>/dev/null | head -n1 || echo "no clang"
	fi
	"$RVIRTIO_RUSTC" --version 2>/dev/null || echo "no rustc"
	echo "bindgen $RVIRTIO_BINDGEN_VERSION"
} | sha256sum | cut -c1-12)
echo "$RVIRTIO_CACHE/kbuild/$RVIRTIO_ARCH-$RVIRTIO_KVER${RVIRTIO_KVARIANT:+-$RVIRTIO_KVARIANT}-$key"
