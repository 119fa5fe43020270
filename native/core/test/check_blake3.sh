#!/usr/bin/env bash
# Checks native/core/blake3.c against b3sum: builds test/blake3_test.c into a temp dir, then for each
# length below hashes pseudo-random content with every implementation this CPU supports (portable, sse41,
# avx2), one-shot and through update() in random-sized pieces, unkeyed and keyed, and compares with
# `b3sum --no-names`. Also runs the program's internal cross-check (thousands of lengths), once more under
# AddressSanitizer/UBSan when the compiler supports it (CHECK_SANITIZE=0 skips that).
# Exits non-zero on any mismatch or build failure.
#
# Environment: CC (default gcc), CXX (default g++), B3SUM (default b3sum), CHECK_SANITIZE (default 1).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
core="$(dirname "$here")"
CC="${CC:-gcc}"
CXX="${CXX:-g++}"
B3SUM="${B3SUM:-b3sum}"

if ! command -v "$B3SUM" >/dev/null 2>&1; then
  echo "check_blake3: $B3SUM not found" >&2
  exit 2
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# The flags the project's build uses; -Werror makes a warning a failure here too.
cflags=(-std=c11 -O3 -Wall -Wextra -Werror)
"$CC" "${cflags[@]}" -fPIC -c "$core/blake3.c" -o "$tmp/blake3.o"
"$CC" "${cflags[@]}" -I"$core" -c "$here/blake3_test.c" -o "$tmp/blake3_test.o"
"$CC" "$tmp/blake3_test.o" "$tmp/blake3.o" -o "$tmp/blake3_test"
if command -v "$CXX" >/dev/null 2>&1; then
  printf '#include "blake3.h"\nint main() { chunker_blake3 h; chunker_blake3_init(&h); return 0; }\n' |
    "$CXX" -x c++ -Wall -Wextra -Werror -I"$core" -fsyntax-only -
fi

t="$tmp/blake3_test"
mapfile -t impls < <("$t" --impls)
echo "implementations on this CPU: ${impls[*]}"

lengths=(0 1 63 64 65 1023 1024 1025 2047 2048 2049 3072 3073 4096 4097 8192 8193 16384 31744 102400
  $((1048576 + 1)) $((16777216 + 7)))

"$t" --gen 32 31337 >"$tmp/key"
checks=0
failures=0

compare() { # label want got
  checks=$((checks + 1))
  if [[ "$2" != "$3" ]]; then
    failures=$((failures + 1))
    echo "MISMATCH $1: b3sum $2, ours $3" >&2
  fi
}

for len in "${lengths[@]}"; do
  "$t" --gen "$len" "$len" >"$tmp/in"
  want="$("$B3SUM" --no-names "$tmp/in")"
  want_keyed="$("$B3SUM" --keyed --no-names "$tmp/in" <"$tmp/key")"
  for impl in "${impls[@]}"; do
    for mode in one-shot pieces; do
      args=(--impl "$impl")
      if [[ "$mode" == pieces ]]; then args+=(--pieces "$((len + 17))"); fi
      compare "len=$len impl=$impl $mode" "$want" "$("$t" "${args[@]}" "$tmp/in")"
      compare "len=$len impl=$impl $mode keyed" "$want_keyed" "$("$t" "${args[@]}" --keyed "$tmp/key" "$tmp/in")"
    done
  done
  # Default selection, input from stdin.
  compare "len=$len auto stdin" "$want" "$("$t" <"$tmp/in")"
done
echo "b3sum comparisons: $checks, mismatches: $failures"

status=0
[[ $failures -eq 0 ]] || status=1
"$t" --selfcheck || status=1

if [[ "${CHECK_SANITIZE:-1}" == 1 ]] &&
  echo 'int main(void) { return 0; }' | "$CC" -fsanitize=address,undefined -x c - -o "$tmp/probe" 2>/dev/null; then
  "$CC" -std=c11 -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -Wall -Wextra -Werror \
    -I"$core" "$here/blake3_test.c" "$core/blake3.c" -o "$tmp/blake3_test_san"
  echo -n "sanitized "
  "$tmp/blake3_test_san" --selfcheck || status=1
fi

if [[ $status -eq 0 ]]; then echo "check_blake3: OK"; else echo "check_blake3: FAILED" >&2; fi
exit $status
