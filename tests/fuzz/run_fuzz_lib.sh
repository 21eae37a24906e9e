#!/bin/sh
# Builds a libFuzzer target against libvmrt, with the sources under test
# compiled again with instrumentation (the rest of the library comes from the
# build), and runs it for a bounded time from a seed corpus.
#   run_fuzz_lib.sh NAME SOURCE_ROOT BUILD_ROOT WORK_DIR SECONDS SEED_DIR SRC...
# NAME is tests/fuzz/NAME.c; SRC are paths under SOURCE_ROOT. Exit 77 (Meson
# SKIP) with the reason when clang or libFuzzer is missing.
set -u
name=$1 src=$2 build=$3 work=$4 secs=$5 seeds=$6
shift 6
CLANG=${CLANG:-clang}
if ! command -v "$CLANG" >/dev/null 2>&1; then
  echo "SKIP: $CLANG not found (libFuzzer needs clang)"; exit 77
fi
mkdir -p "$work/corpus"
cp "$src/$seeds"/* "$work/corpus/" 2>/dev/null
instrumented=
for s in "$@"; do instrumented="$instrumented $src/$s"; done
bin=$work/$name
# shellcheck disable=SC2086
if ! "$CLANG" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
     -D_GNU_SOURCE -DVMRT_BUILDING -I"$src/include" -I"$src/src" -I"$build" -I"$build/src/sandbox" \
     "$src/tests/fuzz/$name.c" $instrumented "$build/src/libvmrt.a" \
     $(pkg-config --libs libseccomp jansson) -lpthread -lm -o "$bin" 2>"$work/build.log"; then
  if grep -q -e "fuzzer" -e "libclang_rt" "$work/build.log"; then
    echo "SKIP: clang cannot link libFuzzer:"; cat "$work/build.log"; exit 77
  fi
  cat "$work/build.log"; exit 1
fi
ASAN_OPTIONS=detect_leaks=1 exec "$bin" -max_total_time="$secs" -max_len=4096 -timeout=10 \
  -rss_limit_mb=2048 -error_exitcode=1 -timeout_exitcode=1 -print_final_stats=1 "$work/corpus"
