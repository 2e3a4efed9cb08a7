# shellcheck shell=bash
# Common settings for every rvirtio script. Source it; do not run it.
#
# Everything the project downloads or builds outside the clone lives under
# $RVIRTIO_CACHE (default: ~/.cache/rvirtio), so a fresh clone reuses it.

RVIRTIO_TOP=${RVIRTIO_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
RVIRTIO_CACHE=${RVIRTIO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rvirtio}
RVIRTIO_ARCH=${RVIRTIO_ARCH:-x86_64}

# The kernel the project is pinned to, and the Debian packages that carry it,
# newest first. A suite moves on; the fallbacks keep an older cache usable.
RVIRTIO_KVER=7.2.12
RVIRTIO_KSRC_PKG=linux-source-7.2
RVIRTIO_KSRC_VERSIONS=(7.2.12-1 7.2.12-1~bpo13+1)

RVIRTIO_BINDGEN_VERSION=0.72.1
RVIRTIO_BINDGEN=$RVIRTIO_CACHE/bindgen-$RVIRTIO_BINDGEN_VERSION/bin/bindgen
export LIBCLANG_PATH=/usr/lib/llvm-22/lib

# The kernel's Rust must be Debian's rustc-web (it ships rust-src); rustup's
# rustc would fail with E0514 on every module.
RVIRTIO_RUSTC=/usr/bin/rustc

case $RVIRTIO_ARCH in
x86_64)
	RVIRTIO_KARCH=x86_64
	RVIRTIO_CROSS=
	RVIRTIO_KIMAGE=arch/x86/boot/bzImage
	RVIRTIO_QEMU=qemu-system-x86_64
	;;
s390x)
	RVIRTIO_KARCH=s390
	RVIRTIO_CROSS=s390x-linux-gnu-
	RVIRTIO_KIMAGE=arch/s390/boot/bzImage
	RVIRTIO_QEMU=qemu-system-s390x
	;;
*)
	echo "rvirtio: unsupported RVIRTIO_ARCH '$RVIRTIO_ARCH' (x86_64 or s390x)" >&2
	return 1 2>/dev/null || exit 1
	;;
esac

RVIRTIO_KSRC=$RVIRTIO_CACHE/src/linux-$RVIRTIO_KVER

# A kernel variant for the tests that need one (a test header's `kernel=`):
# empty for the project kernel, `kasan` for the same kernel with the
# generic KASAN (tools/kernel/kasan.config). KASAN with Rust needs a clang
# build of the whole kernel (init/Kconfig: RUST depends on !KASAN ||
# CC_IS_CLANG), so the variant is built with LLVM=$RVIRTIO_KLLVM, the clang
# whose LLVM is rustc's. Each variant has its own cached kernel build
# (tools/kernel/kdir.sh), modules and initramfs (build/<variant>/).
RVIRTIO_KVARIANT=${RVIRTIO_KVARIANT:-}
RVIRTIO_KLLVM=
case $RVIRTIO_KVARIANT in
"") ;;
kasan) RVIRTIO_KLLVM=-22 ;;
*)
	echo "rvirtio: unknown kernel variant '$RVIRTIO_KVARIANT' (kasan)" >&2
	return 1 2>/dev/null || exit 1
	;;
esac

die() {
	echo "rvirtio: error: $*" >&2
	exit 1
}

note() {
	echo "rvirtio: $*" >&2
}

# The make variables every kernel and module build needs.
rvirtio_kmake_vars() {
	local out=$1
	echo ARCH="$RVIRTIO_KARCH" ${RVIRTIO_CROSS:+CROSS_COMPILE=$RVIRTIO_CROSS} O="$out" \
		${RVIRTIO_KLLVM:+LLVM=$RVIRTIO_KLLVM} \
		RUSTC="$RVIRTIO_RUSTC" HOSTRUSTC="$RVIRTIO_RUSTC" RUSTDOC=/usr/bin/rustdoc \
		BINDGEN="$RVIRTIO_BINDGEN" RUST_LIB_SRC=/usr/lib/rustlib/src/rust/library
}
