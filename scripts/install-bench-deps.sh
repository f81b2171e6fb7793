#!/usr/bin/env bash
# Installs what scripts/bench.sh compares leakguard with, and its plotting, as Debian packages,
# only those that are missing. Not needed to build or test leakguard (scripts/install-deps.sh is).
# Usage: scripts/install-bench-deps.sh            (needs root or sudo when something is missing)
set -euo pipefail

packages=(
  clang libclang-rt-14-dev            # LSan and ASan builds of the same benchmark code
  heaptrack valgrind                  # the other tracers, on the same whole program
  libunwind-dev                       # unw_backtrace() in the stack-capture comparison
  python3-matplotlib                  # the plots next to BENCHMARKS.md's tables
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-bench-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-bench-deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-bench-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
