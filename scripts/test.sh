#!/usr/bin/env bash
# Builds and runs every test configuration, then prints one line:
#   N passed, N failed, N skipped
# Configurations: native (-Werror), ASan+UBSan, TSan, aarch64 (cross, under
# qemu-aarch64), and lint. A configuration that fails to build counts as one
# failure. Each test program is one count per configuration.
set -uo pipefail
cd "$(dirname "$0")/.."

summary=$(mktemp)
trap 'rm -f "$summary"' EXIT

# name  builddir  meson options
configs=(
  "native|build|-Dwerror=true"
  "asan|build-asan|-Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false -Dbench=false"
  "tsan|build-tsan|-Dwerror=true -Db_sanitize=thread -Db_lundef=false -Dbench=false"
  "aarch64|build-aarch64|-Dwerror=true -Dbench=false --cross-file cross/aarch64.ini"
)
[ -n "${VMRT_TEST_CONFIGS:-}" ] && {
  sel=()
  for c in "${configs[@]}"; do [[ " $VMRT_TEST_CONFIGS " == *" ${c%%|*} "* ]] && sel+=("$c"); done
  configs=("${sel[@]}")
}

run_config() {
  local name=$1 dir=$2 opts=$3
  echo "=== $name ($dir) ==="
  if [ ! -f "$dir/build.ninja" ]; then
    rm -rf "$dir"
    # shellcheck disable=SC2086
    meson setup "$dir" $opts >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; echo "build|$name|FAIL" >>"$summary"; return; }
  fi
  if ! ninja -C "$dir" >"$dir.build.log" 2>&1; then
    tail -n 40 "$dir.build.log"
    echo "build|$name|FAIL" >>"$summary"
    return
  fi
  VMRT_TEST_CONFIG=$name meson test -C "$dir" --num-processes "$(nproc)" --print-errorlogs --no-rebuild \
    ${VMRT_TEST_ARGS:-} 2>&1 | grep -vE '^(Ok|Expected Fail|Fail|Unexpected Pass|Skipped|Timeout):' || true
  python3 - "$dir/meson-logs/testlog.json" "$name" >>"$summary" <<'PY'
import json, sys
path, cfg = sys.argv[1], sys.argv[2]
try:
    lines = open(path).read().splitlines()
except OSError:
    print(f"testlog|{cfg}|FAIL"); sys.exit()
for line in lines:
    t = json.loads(line)
    print(f"{t['name']}|{cfg}|{t['result']}")
PY
}

for c in "${configs[@]}"; do
  IFS='|' read -r name dir opts <<<"$c"
  run_config "$name" "$dir" "$opts"
done

echo "=== lint ==="
if scripts/lint.sh; then echo "lint|lint|OK" >>"$summary"; else echo "lint|lint|FAIL" >>"$summary"; fi

passed=$(grep -cE '\|(OK|EXPECTEDFAIL)$' "$summary")
skipped=$(grep -cE '\|SKIP$' "$summary")
failed=$(grep -cvE '\|(OK|EXPECTEDFAIL|SKIP)$' "$summary")
if [ "$failed" -gt 0 ]; then
  echo "Failed:"
  grep -vE '\|(OK|EXPECTEDFAIL|SKIP)$' "$summary" | sed 's/^/  /'
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
