#!/usr/bin/env bash
# Prints the kernel build directory for $RVIRTIO_ARCH. The name carries a key
# over everything that shapes the build (source version, config fragments,
# rustc, bindgen, this recipe), so a change to any of them builds a new tree
# and an unchanged one is reused.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

frag=$RVIRTIO_TOP/tools/kernel/$RVIRTIO_ARCH.config
[ -r "$frag" ] || die "no kernel configuration fragment for $RVIRTIO_ARCH ($frag)"
key=$({
	echo "recipe 1"
	echo "$RVIRTIO_KVER $RVIRTIO_ARCH"
	cat "$RVIRTIO_TOP/tools/kernel/common.config" "$frag"
	"$RVIRTIO_RUSTC" --version 2>/dev/null || echo "no rustc"
	echo "bindgen $RVIRTIO_BINDGEN_VERSION"
} | sha256sum | cut -c1-12)
echo "$RVIRTIO_CACHE/kbuild/$RVIRTIO_ARCH-$RVIRTIO_KVER-$key"
