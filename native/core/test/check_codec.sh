#!/usr/bin/env bash
# Builds test/codec_test.c with the codec core and runs it, also under ASan/UBSan
# (run_c_check.sh). Exits non-zero on any failed check or build failure.
#
# Environment: CC (default gcc), CHECK_SANITIZE (default 1).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
core="$(dirname "$here")"
exec "$here/run_c_check.sh" codec "$(pkg-config --cflags libzstd liblz4 liblzma)" \
  "$(pkg-config --libs libzstd liblz4 liblzma) -lbz2 -lpthread" \
  "$here/codec_test.c" "$core/codec.c" "$core/codec_zstd.c" "$core/codec_lz4.c" "$core/codec_xz.c" "$core/codec_bzip2.c"
