#!/usr/bin/env bash
# Fetches Debian's linux-source-7.2 through a private apt configuration (it
# never touches the system's apt sources), checks the version it got, and
# unpacks it into $RVIRTIO_CACHE/src/linux-<version>. Idempotent.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

stamp=$RVIRTIO_KSRC/.rvirtio-unpacked
if [ -e "$stamp" ]; then
	exit 0
fi

d=$RVIRTIO_CACHE/apt
mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/etc/preferences.d" "$RVIRTIO_CACHE/src"
cat >"$d/sources.list" <<'L'
deb http://deb.debian.org/debian trixie-backports main
deb http://deb.debian.org/debian forky main
L
A=(-o "Dir::Etc::sourcelist=$d/sources.list" -o "Dir::Etc::sourceparts=-"
	-o "Dir::Etc::preferencesparts=$d/etc/preferences.d"
	-o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d/cache"
	-o "APT::Sandbox::User=root")

deb=
for v in "${RVIRTIO_KSRC_VERSIONS[@]}"; do
	f=$(ls "$d"/"${RVIRTIO_KSRC_PKG}_${v//:/%3a}_all.deb" 2>/dev/null || true)
	if [ -n "$f" ]; then
		deb=$f
		break
	fi
done
if [ -z "$deb" ]; then
	note "fetching $RVIRTIO_KSRC_PKG (${RVIRTIO_KSRC_VERSIONS[*]}) with a private apt configuration"
	apt-get "${A[@]}" -qq update || die "apt-get update of the private sources (trixie-backports, forky) failed"
	for v in "${RVIRTIO_KSRC_VERSIONS[@]}"; do
		if (cd "$d" && apt-get "${A[@]}" -qq download "$RVIRTIO_KSRC_PKG=$v") 2>"$d/download.err"; then
			deb=$(ls "$d"/"${RVIRTIO_KSRC_PKG}_"*"_all.deb" | head -n1)
			break
		fi
		note "$RVIRTIO_KSRC_PKG=$v is not available: $(tail -n1 "$d/download.err")"
	done
	if [ -z "$deb" ]; then
		avail=$(apt-cache "${A[@]}" policy "$RVIRTIO_KSRC_PKG" 2>/dev/null | sed -n 's/^ *\(\*\*\* \)\?\([0-9][^ ]*\) .*/\2/p' | tr '\n' ' ')
		die "cannot fetch $RVIRTIO_KSRC_PKG, none of ${RVIRTIO_KSRC_VERSIONS[*]} is offered (offered: ${avail:-none}); add one to RVIRTIO_KSRC_VERSIONS in tools/lib.sh"
	fi
fi

got=$(dpkg-deb -f "$deb" Version)
case " ${RVIRTIO_KSRC_VERSIONS[*]} " in
*" $got "*) ;;
*) die "$deb has version $got, expected one of ${RVIRTIO_KSRC_VERSIONS[*]}" ;;
esac

note "unpacking $RVIRTIO_KSRC_PKG $got"
tmp=$RVIRTIO_CACHE/src/.unpack.$$
rm -rf "$tmp"
mkdir -p "$tmp"
dpkg-deb -x "$deb" "$tmp/deb"
tar -C "$tmp" -xf "$tmp/deb/usr/src/$RVIRTIO_KSRC_PKG.tar.xz"
src=$tmp/$RVIRTIO_KSRC_PKG
kv=$(sed -n 's/^VERSION = //p;s/^PATCHLEVEL = //p;s/^SUBLEVEL = //p' "$src/Makefile" | paste -sd.)
[ "$kv" = "$RVIRTIO_KVER" ] || die "$RVIRTIO_KSRC_PKG $got unpacked a $kv tree, expected $RVIRTIO_KVER"
rm -rf "$RVIRTIO_KSRC"
mv "$src" "$RVIRTIO_KSRC"
rm -rf "$tmp"
echo "$got" >"$stamp"
note "kernel source $RVIRTIO_KVER ($got) in $RVIRTIO_KSRC"
