#!/usr/bin/env bash
# Builds test/md5_pair_test.c with md5_pair.c and upload_digest.c into a temp dir and runs
# it, then once more under AddressSanitizer/UBSan when the compiler supports it
# (CHECK_SANITIZE=0 skips that). Exits non-zero on any failed check or build failure.
#
# Environment: CC (default gcc), CHECK_SANITIZE (default 1).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
core="$(dirname "$here")"
CC="${CC:-gcc}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

sources=("$here/md5_pair_test.c" "$core/md5_pair.c" "$core/upload_digest.c")
libs=(-lcrypto -lm -lpthread)
cflags=(-std=c11 -Wall -Wextra -Werror -I"$core")

"$CC" "${cflags[@]}" -O2 "${sources[@]}" "${libs[@]}" -o "$tmp/md5_pair_test"
status=0
"$tmp/md5_pair_test" || status=1

if [[ "${CHECK_SANITIZE:-1}" == 1 ]] &&
  echo 'int main(void) { return 0; }' | "$CC" -fsanitize=address,undefined -x c - -o "$tmp/probe" 2>/dev/null; then
  "$CC" "${cflags[@]}" -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all "${sources[@]}" "${libs[@]}" \
    -o "$tmp/md5_pair_test_san"
  echo -n "sanitized: "
  "$tmp/md5_pair_test_san" || status=1
fi

if [[ $status -eq 0 ]]; then echo "check_md5_pair: OK"; else echo "check_md5_pair: FAILED" >&2; fi
exit $status
