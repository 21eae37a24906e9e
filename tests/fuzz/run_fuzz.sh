#!/bin/sh
# Builds the guest assembler+verifier fuzz target with clang's libFuzzer and
# runs it for a bounded time, seeded with the example programs.
#   run_fuzz.sh SOURCE_ROOT WORK_DIR SECONDS
# Exit 77 (Meson SKIP) with the reason when clang or libFuzzer is missing.
set -u
src=$1 work=$2 secs=${3:-20}
CLANG=${CLANG:-clang}
if ! command -v "$CLANG" >/dev/null 2>&1; then
  echo "SKIP: $CLANG not found (libFuzzer needs clang)"; exit 77
fi
mkdir -p "$work/corpus"
bin=$work/fuzz_guest_asm
if ! "$CLANG" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
     -D_GNU_SOURCE -I"$src/src" \
     "$src/tests/fuzz/fuzz_guest_asm.c" "$src/src/guest/opcodes.c" \
     "$src/src/guest/asm.c" "$src/src/guest/verify.c" -o "$bin" 2>"$work/build.log"; then
  if grep -q -e "fuzzer" -e "libclang_rt" "$work/build.log"; then
    echo "SKIP: clang cannot link libFuzzer:"; cat "$work/build.log"; exit 77
  fi
  cat "$work/build.log"; exit 1
fi
cp "$src"/examples/guest/*.vasm "$work/corpus/" 2>/dev/null
ASAN_OPTIONS=detect_leaks=1 exec "$bin" -max_total_time="$secs" -error_exitcode=1 -timeout_exitcode=1 -max_len=4096 -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 "$work/corpus"
