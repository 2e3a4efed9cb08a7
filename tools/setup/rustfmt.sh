#!/usr/bin/env bash
# Formats (or with --check, checks) every Rust source of the project with
# the kernel's rustfmt settings.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
cd "$RVIRTIO_TOP"
mode=()
[ "${1:-}" = --check ] && mode=(--check)
mapfile -t files < <(git ls-files --cached --others --exclude-standard '*.rs')
[ ${#files[@]} -gt 0 ] || exit 0
/usr/bin/rustfmt --edition 2021 --color never "${mode[@]}" "${files[@]}"
