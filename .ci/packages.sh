#!/usr/bin/env bash
# Makes sure the Debian packages a task needs are installed: installs the missing ones when
# running as root with apt-get, otherwise says exactly what to install and fails.
#   .ci/packages.sh build   what compiling native/ needs (npm ci runs this)
#   .ci/packages.sh test    what the test suites drive for real (nix, b3sum, openssl, ...)
#   .ci/packages.sh bench   the benchmark peers
set -euo pipefail

declare -A PACKAGE_GROUPS=(
  [build]="cmake g++ make pkg-config libssl-dev libzstd-dev liblz4-dev liblzma-dev libbz2-dev"
  [test]="nix-bin b3sum openssl xz-utils zstd bzip2 lz4 elixir erlang-dev procps openssh-server openssh-client nginx-light"
  [bench]="nix-bin b3sum openssl zstd xz-utils bzip2 lz4 rclone openssh-server nginx-light time"
)

wanted=""
for group in "${@:-build}"; do
  [[ -n "${PACKAGE_GROUPS[$group]:-}" ]] || { echo "packages.sh: unknown group '$group'" >&2; exit 2; }
  wanted+=" ${PACKAGE_GROUPS[$group]}"
done

missing=()
for package in $wanted; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$package")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
  echo "Chunker needs these Debian packages: ${missing[*]}" >&2
  echo "Install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "Installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
