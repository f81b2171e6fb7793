#!/usr/bin/env bash
# Installs the Debian packages leakguard builds and tests against, only those that are missing.
# Usage: scripts/install-deps.sh            (needs root or sudo when something is missing)
set -euo pipefail

packages=(
  build-essential cmake
  libgtest-dev libgmock-dev           # GoogleTest plugin and the test suite
  catch2                              # Catch2 plugin (Debian ships 2.13)
  libbackward-cpp-dev libdw-dev       # symbolization: backward-cpp over libdw
  libbenchmark-dev                    # bench/
  nlohmann-json3-dev                  # JSON reports
  libcli11-dev                        # the leakguard CLI
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
