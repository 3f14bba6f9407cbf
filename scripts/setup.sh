#!/usr/bin/env bash
# Installs the Debian packages quanta builds against. Idempotent: installs only what is missing.
# Usage: scripts/setup.sh [--fuzz]   (--fuzz: also clang 14 with libFuzzer and the sanitizer
# runtimes, and ninja, for scripts/fuzz.sh)
set -euo pipefail
pkgs=(cmake g++ pkg-config nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev libhwy-dev
      libopenblas-dev liblapacke-dev libpcre2-dev libcpp-httplib-dev libgtest-dev libgmock-dev
      libbenchmark-dev python3-venv unzip)
case "${1:-}" in
  --fuzz) pkgs+=(clang-14 libclang-rt-14-dev ninja-build) ;;
  "") ;;
  *) echo "usage: $0 [--fuzz]" >&2; exit 2 ;;
esac
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
