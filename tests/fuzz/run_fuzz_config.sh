#!/bin/sh
# Builds the runtime-config fuzz target with clang's libFuzzer (the loader is
# compiled with instrumentation; the rest of libvmrt comes from the build)
# and runs it for a bounded time, seeded with a few configurations.
#   run_fuzz_config.sh SOURCE_ROOT BUILD_ROOT WORK_DIR SECONDS
# Exit 77 (Meson SKIP) with the reason when clang or libFuzzer is missing.
set -u
src=$1 build=$2 work=$3 secs=${4:-15}
CLANG=${CLANG:-clang}
if ! command -v "$CLANG" >/dev/null 2>&1; then
  echo "SKIP: $CLANG not found (libFuzzer needs clang)"; exit 77
fi
mkdir -p "$work/corpus"
bin=$work/fuzz_config
if ! "$CLANG" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
     -D_GNU_SOURCE -DVMRT_BUILDING -I"$src/include" -I"$src/src" -I"$build" \
     "$src/tests/fuzz/fuzz_config.c" "$src/src/runtime/config.c" "$build/src/libvmrt.a" \
     $(pkg-config --libs libseccomp jansson) -lmnl -lpthread -lm -o "$bin" 2>"$work/build.log"; then
  if grep -q -e "fuzzer" -e "libclang_rt" "$work/build.log"; then
    echo "SKIP: clang cannot link libFuzzer:"; cat "$work/build.log"; exit 77
  fi
  cat "$work/build.log"; exit 1
fi
printf '{"sched": {"vcpus": 2, "time_slice": "5ms"}, "gc": {"trigger": "adaptive"}}' >"$work/corpus/a.json"
printf '{"limits": {"memory": "64M"}, "sandbox": {"isolation": "container"}}\0gc.target=100\nsched.vcpus=3\n' >"$work/corpus/b"
ASAN_OPTIONS=detect_leaks=1 exec "$bin" -max_total_time="$secs" -max_len=2048 -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 "$work/corpus"
