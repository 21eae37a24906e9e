#!/usr/bin/env bash
# Installs every Debian package the build, the tests and the benchmarks need.
# Idempotent: does nothing when all are present. As non-root with something
# missing it prints the exact apt-get command and fails.
set -euo pipefail

host_pkgs=(
  build-essential meson ninja-build pkg-config
  libseccomp-dev libjansson-dev libcmocka-dev
  valgrind clang clang-format cppcheck
  qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross
  golang-go libgc-dev libboost-context-dev
  bubblewrap firejail crun gnuplot-nox iproute2
)
# Libraries the aarch64 cross build links (Debian multiarch).
arm64_pkgs=(libcmocka-dev:arm64 libjansson-dev:arm64 libseccomp-dev:arm64)

missing=()
for p in "${host_pkgs[@]}" "${arm64_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

need_arm64=0
for p in "${missing[@]}"; do case $p in *:arm64) need_arm64=1 ;; esac; done

if [ "$(id -u)" -ne 0 ]; then
  echo "vmrt: missing Debian packages: ${missing[*]}" >&2
  echo "vmrt: install them as root with:" >&2
  [ $need_arm64 -eq 1 ] && ! dpkg --print-foreign-architectures | grep -qx arm64 &&
    echo "  dpkg --add-architecture arm64 &&" >&2
  echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "vmrt: installing ${missing[*]}"
if [ $need_arm64 -eq 1 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
  dpkg --add-architecture arm64
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
