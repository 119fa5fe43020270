#!/usr/bin/env bash
# Builds test/md5_pair_test.c with md5_pair.c and upload_digest.c and runs it, also under
# ASan/UBSan (run_c_check.sh). Exits non-zero on any failed check or build failure.
#
# Environment: CC (default gcc), CHECK_SANITIZE (default 1).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
core="$(dirname "$here")"
exec "$here/run_c_check.sh" md5_pair "" "-lcrypto -lm -lpthread" \
  "$here/md5_pair_test.c" "$core/md5_pair.c" "$core/upload_digest.c"
