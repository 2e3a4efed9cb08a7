#!/usr/bin/env bash
# Installs the host packages rvirtio needs from Debian's archive, and
# bindgen-cli from crates.io into the cache. Idempotent: it installs only
# what is missing. It never edits the system's apt sources.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

pkgs=(
	# kernel build
	rustc-web rust-web-src rust-web-clippy rustfmt-web libclang-22-dev libclang1-22 gcc make flex bison bc
	libelf-dev libssl-dev kmod cpio xz-utils dwarves python3 libc6-dev
	# the kasan kernel variant: KASAN with Rust needs a clang build
	# (tools/lib.sh), with the LLVM of rustc-web
	clang-22 lld-22 llvm-22
	# VM
	qemu-system-x86 qemu-utils busybox-static
	# guest workloads copied into the initramfs
	fio e2fsprogs iproute2 ethtool iperf3 rng-tools5 coreutils util-linux kmod
	# the plot of tools/bench/blk/run (gnuplot-nox: 4 packages, where
	# python3-matplotlib would pull in about 55)
	gnuplot-nox
)
if [ "$RVIRTIO_ARCH" = s390x ]; then
	pkgs+=(gcc-s390x-linux-gnu qemu-system-misc)
fi

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	note "installing from Debian: ${missing[*]}"
	SUDO=
	[ "$(id -u)" = 0 ] || SUDO=sudo
	$SUDO apt-get update -qq || die "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null || die "apt-get install failed for: ${missing[*]}"
fi

[ -x "$RVIRTIO_RUSTC" ] || die "$RVIRTIO_RUSTC missing after installing rustc-web"
"$RVIRTIO_RUSTC" --version | grep -q '^rustc 1\.96' ||
	die "$RVIRTIO_RUSTC is not rustc 1.96: $("$RVIRTIO_RUSTC" --version)"
[ -e /usr/lib/rustlib/src/rust/library/core/src/lib.rs ] ||
	die "rust-web-src is not installed (no core library source)"
[ -e "$LIBCLANG_PATH/libclang.so" ] || [ -e "$LIBCLANG_PATH/libclang-22.so" ] ||
	ls "$LIBCLANG_PATH"/libclang*.so* >/dev/null 2>&1 || die "libclang 22 not found in $LIBCLANG_PATH"

if ! [ -x "$RVIRTIO_BINDGEN" ] || ! "$RVIRTIO_BINDGEN" --version | grep -q "$RVIRTIO_BINDGEN_VERSION"; then
	CARGO=${CARGO:-$(command -v cargo || echo "$HOME/.cargo/bin/cargo")}
	[ -x "$CARGO" ] || die "cargo not found: needed to install bindgen-cli from crates.io"
	note "installing bindgen-cli $RVIRTIO_BINDGEN_VERSION from crates.io (about a minute)"
	"$CARGO" install --locked -q bindgen-cli --version "$RVIRTIO_BINDGEN_VERSION" \
		--root "$RVIRTIO_CACHE/bindgen-$RVIRTIO_BINDGEN_VERSION" ||
		die "cargo install bindgen-cli $RVIRTIO_BINDGEN_VERSION failed"
fi
