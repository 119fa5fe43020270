#!/usr/bin/env bash
# Builds test/codec_test.c with the codec core into a temp dir and runs it, then once more
# under AddressSanitizer/UBSan when the compiler supports it (CHECK_SANITIZE=0 skips that).
# Exits non-zero on any failed check or build failure.
#
# Environment: CC (default gcc), CHECK_SANITIZE (default 1).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
core="$(dirname "$here")"
CC="${CC:-gcc}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

sources=("$here/codec_test.c" "$core/codec.c" "$core/codec_zstd.c" "$core/codec_lz4.c" "$core/codec_xz.c" "$core/codec_bzip2.c")
libs=($(pkg-config --libs libzstd liblz4 liblzma) -lbz2 -lpthread)
cflags=(-std=c11 -Wall -Wextra -Werror -I"$core" $(pkg-config --cflags libzstd liblz4 liblzma))

"$CC" "${cflags[@]}" -O2 "${sources[@]}" "${libs[@]}" -o "$tmp/codec_test"
status=0
"$tmp/codec_test" || status=1

if [[ "${CHECK_SANITIZE:-1}" == 1 ]] &&
  echo 'int main(void) { return 0; }' | "$CC" -fsanitize=address,undefined -x c - -o "$tmp/probe" 2>/dev/null; then
  "$CC" "${cflags[@]}" -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all "${sources[@]}" "${libs[@]}" \
    -o "$tmp/codec_test_san"
  echo -n "sanitized: "
  "$tmp/codec_test_san" || status=1
fi

if [[ $status -eq 0 ]]; then echo "check_codec: OK"; else echo "check_codec: FAILED" >&2; fi
exit $status
