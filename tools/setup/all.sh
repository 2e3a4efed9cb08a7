#!/usr/bin/env bash
# The whole set-up, as `make` runs it: host packages, kernel source, kernel
# build (all cached and reused). Prints the kernel build directory.
set -euo pipefail
here=$(dirname "$0")
"$here/deps.sh" >&2
"$here/kernel-source.sh" >&2
"$here/kernel-build.sh"
