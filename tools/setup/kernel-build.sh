#!/usr/bin/env bash
# Configures and builds the rvirtio test kernel into the cache (see
# tools/kernel/kdir.sh for the key). Reuses a finished build. Prints the
# build directory on stdout.
#
# Config: tinyconfig + tools/kernel/common.config + tools/kernel/<arch>.config,
# then olddefconfig; every fragment line is checked against the result, and
# CONFIG_RUST / CONFIG_KUNIT get their own error, since a wrong toolchain
# silently drops them.
set -euo pipefail
here=$(dirname "$0")
. "$here/../lib.sh"

out=$("$here/../kernel/kdir.sh")
if [ -e "$out/.rvirtio-built" ]; then
	echo "$out"
	exit 0
fi

mkdir -p "$RVIRTIO_CACHE/kbuild"
exec 9>"$RVIRTIO_CACHE/kbuild/.lock"
flock 9
if [ -e "$out/.rvirtio-built" ]; then
	echo "$out"
	exit 0
fi

[ -e "$RVIRTIO_KSRC/.rvirtio-unpacked" ] || die "kernel source missing: run tools/setup/kernel-source.sh"
[ -x "$RVIRTIO_BINDGEN" ] || die "bindgen missing: run tools/setup/deps.sh"

# shellcheck disable=SC2046
kmake() { make -C "$RVIRTIO_KSRC" $(rvirtio_kmake_vars "$out") "$@"; }

rm -rf "$out"
mkdir -p "$out"
frag=$out/rvirtio.config
cat "$RVIRTIO_TOP/tools/kernel/common.config" "$RVIRTIO_TOP/tools/kernel/$RVIRTIO_ARCH.config" >"$frag"
if [ -n "$RVIRTIO_KVARIANT" ]; then
	command -v "clang$RVIRTIO_KLLVM" >/dev/null ||
		die "the $RVIRTIO_KVARIANT kernel needs clang$RVIRTIO_KLLVM (tools/setup/deps.sh installs it)"
	cat "$RVIRTIO_TOP/tools/kernel/$RVIRTIO_KVARIANT.config" >>"$frag"
fi

note "configuring $RVIRTIO_KVER${RVIRTIO_KVARIANT:+ ($RVIRTIO_KVARIANT)} for $RVIRTIO_ARCH in $out"
kmake -s tinyconfig >"$out/config.log" 2>&1 || die "tinyconfig failed, see $out/config.log"
"$RVIRTIO_KSRC/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "$frag" >>"$out/config.log" 2>&1 ||
	die "merge_config failed, see $out/config.log"
kmake -s olddefconfig >>"$out/config.log" 2>&1 || die "olddefconfig failed, see $out/config.log"

grep -qx 'CONFIG_RUST=y' "$out/.config" ||
	die "CONFIG_RUST=y did not survive olddefconfig: the Rust toolchain is not usable ($(kmake -s rustavailable 2>&1 | tail -n1))"
grep -qx 'CONFIG_KUNIT=y' "$out/.config" || die "CONFIG_KUNIT=y did not survive olddefconfig"
bad=0
while IFS= read -r line; do
	case $line in
	CONFIG_*=*)
		grep -qxF "$line" "$out/.config" || {
			echo "rvirtio: fragment wants $line, .config has: $(grep "^${line%%=*}=\|# ${line%%=*} is not set" "$out/.config" || echo 'nothing')" >&2
			bad=1
		}
		;;
	"# CONFIG_"*" is not set")
		sym=${line#\# }
		sym=${sym%% *}
		if grep -q "^$sym=" "$out/.config"; then
			echo "rvirtio: fragment wants $sym off, .config has $(grep "^$sym=" "$out/.config")" >&2
			bad=1
		fi
		;;
	esac
done <"$frag"
[ $bad = 0 ] || die "the configuration does not match the fragment (see above)"

if [ -n "$RVIRTIO_KVARIANT" ]; then
	note "building the $RVIRTIO_KVARIANT kernel (clang; about 30 minutes on 2 cores); log: $out/build.log"
else
	note "building the kernel (about 7 minutes on 2 cores); log: $out/build.log"
fi
start=$(date +%s)
if ! kmake -j"$(nproc)" all >"$out/build.log" 2>&1; then
	grep -E 'error|Error' "$out/build.log" | head -n 20 >&2
	die "kernel build failed, see $out/build.log"
fi
kmake -s INSTALL_MOD_PATH="$out/modroot" modules_install >>"$out/build.log" 2>&1 ||
	die "modules_install failed, see $out/build.log"
note "kernel built in $(($(date +%s) - start)) s"
touch "$out/.rvirtio-built"
echo "$out"
