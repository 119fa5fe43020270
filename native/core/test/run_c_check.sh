#!/usr/bin/env bash
# Builds one C test program with the core sources it checks into a temp dir and runs it,
# then once more under AddressSanitizer/UBSan when the compiler supports it
# (CHECK_SANITIZE=0 skips that). Prints "check_NAME: OK" or fails.
#
# Usage: run_c_check.sh NAME "EXTRA_CFLAGS" "LIBS" SOURCE...
# Environment: CC (default gcc), CHECK_SANITIZE (default 1).
set -euo pipefail

name="$1"
read -r -a extra_cflags <<<"$2"
read -r -a libs <<<"$3"
shift 3
sources=("$@")

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
core="$(dirname "$here")"
CC="${CC:-gcc}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

cflags=(-std=c11 -Wall -Wextra -Werror -I"$core" "${extra_cflags[@]}")

"$CC" "${cflags[@]}" -O2 "${sources[@]}" "${libs[@]}" -o "$tmp/test"
status=0
"$tmp/test" || status=1

if [[ "${CHECK_SANITIZE:-1}" == 1 ]] &&
  echo 'int main(void) { return 0; }' | "$CC" -fsanitize=address,undefined -x c - -o "$tmp/probe" 2>/dev/null; then
  "$CC" "${cflags[@]}" -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all "${sources[@]}" "${libs[@]}" \
    -o "$tmp/test_san"
  echo -n "sanitized: "
  "$tmp/test_san" || status=1
fi

if [[ $status -eq 0 ]]; then echo "check_$name: OK"; else echo "check_$name: FAILED" >&2; fi
exit $status
