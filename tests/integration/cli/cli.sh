#!/usr/bin/env bash
# The vmrt CLI: help, version, usage errors (exit 2, naming the problem).
set -u
vmrt=$1
with_bench=${2:-true} # false in builds configured with -Dbench=false
fails=0
check() { # description, expected exit, expected stderr/stdout substring, command...
  local what=$1 want_rc=$2 want_text=$3; shift 3
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" -ne "$want_rc" ] || [[ "$out" != *"$want_text"* ]]; then
    echo "FAIL: $what: exit $rc (want $want_rc), output: $out"
    fails=$((fails + 1))
  else
    echo "ok: $what"
  fi
}
check "--help lists run" 0 "run   [OPTIONS] [PROGRAM]" "$vmrt" --help
check "--help lists exec" 0 "exec  [OPTIONS] -- CMD" "$vmrt" --help
check "--help lists bench" 0 "bench [SUITE]" "$vmrt" --help
check "--version" 0 "vmrt 0.1.0" "$vmrt" --version
check "no command" 2 "Usage: vmrt" "$vmrt"
check "unknown option" 2 "vmrt: unknown option '--frobnicate'" "$vmrt" --frobnicate
check "unknown command" 2 "vmrt: unknown command 'fly'" "$vmrt" fly
check "bench unknown suite" 2 "unknown suite 'nosuch'" "$vmrt" bench nosuch
check "bench bad --reps" 2 "--reps needs a number" "$vmrt" bench --reps 0
check "bench unknown option" 2 "bench: unknown option '--fast'" "$vmrt" bench --fast
# The bench driver on fake programs (VMRT_BENCH_DIR), so these checks are
# exact and fast: each program prints a fixed number for its case.
fake=$(mktemp -d)
trap 'rm -rf "$fake"' EXIT
cat >"$fake/fake" <<'SH'
#!/bin/sh
case "$(basename "$0") $1" in
  "vmrt-bench-sched fib_1") echo 100 ;;
  "vmrt-bench-sched fib_all") echo 125 ;;
  "peer-go-sched fib_1") echo 200 ;;
  "peer-go-sched fib_all") echo 400 ;;
  *) echo 10 ;;
esac
SH
chmod +x "$fake/fake"
for p in vmrt-bench-sched peer-go-sched vmrt-bench-coro peer-boost-context; do ln -s fake "$fake/$p"; done
# Two suites run both, in the order given; sched's fib_scaling row follows
# fib_all: fib_1 / (fib_all * vCPUs) * 100 (one CPU under taskset: 80%, Go 50%).
json=$(VMRT_BENCH_DIR=$fake taskset -c 0 "$vmrt" bench sched coro --reps 1 --json 2>/dev/null)
if python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin.read().splitlines()]
suites = [r["suite"] for r in rows]
assert "sched" in suites and "coro" in suites, suites
assert suites.index("coro") > max(i for i, s in enumerate(suites) if s == "sched"), suites
benches = [r["bench"] for r in rows if r["suite"] == "sched"]
assert benches.index("fib_scaling") == benches.index("fib_all") + 1, benches
r = [r for r in rows if r["bench"] == "fib_scaling"][0]
assert r["unit"] == "%" and r["peer"] == "go", r
assert abs(r["ours"] - 80) < 1e-6 and abs(r["theirs"] - 50) < 1e-6, r
assert abs(r["ratio"] - 1.6) < 1e-3, r
' <<<"$json"; then echo "ok: bench sched coro: both suites in order, fib_scaling row"
else echo "FAIL: bench sched coro: $json"; fails=$((fails + 1)); fi
out=$(VMRT_BENCH_DIR=$fake taskset -c 0 "$vmrt" bench sched --reps 1 2>/dev/null)
if grep -Eq '^sched +fib_scaling +% +80 ' <<<"$out"; then echo "ok: fib_scaling in the text table"
else echo "FAIL: fib_scaling not in the text table: $out"; fails=$((fails + 1)); fi
# --plot: a directory that cannot be made fails at once, before any benchmark.
check "bench --plot /nonexistent/dir" 1 "bench: --plot: cannot create '/nonexistent/dir'" \
  env VMRT_BENCH_DIR="$fake" "$vmrt" bench sched --reps 3 --plot /nonexistent/dir
out=$(VMRT_BENCH_DIR=$fake "$vmrt" bench sched --reps 1 --plot /nonexistent/dir 2>/dev/null)
[ -z "$out" ] && echo "ok: --plot checked before running" || { echo "FAIL: --plot ran first: $out"; fails=$((fails + 1)); }
check "bench --plot FILE" 1 "is not a directory" env VMRT_BENCH_DIR="$fake" "$vmrt" bench sched --plot "$fake/fake"
# A quick JSON run of the coro suite: one well-formed line per peer.
if [ "$with_bench" = true ]; then
json=$("$vmrt" bench coro --quick --reps 1 --json 2>/dev/null)
if python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin.read().splitlines()]
assert len(rows) >= 3, rows
for r in rows:
    for k in ("suite", "bench", "unit", "ours", "peer", "theirs", "ratio"):
        assert k in r, (k, r)
    assert r["suite"] == "coro" and r["ours"] > 0 and r["theirs"] > 0, r
assert {"boost.context", "swapcontext"} <= {r["peer"] for r in rows}, rows
' <<<"$json"; then echo "ok: bench --json"; else echo "FAIL: bench --json: $json"; fails=$((fails + 1)); fi
else
  echo "note: benchmarks not built (-Dbench=false): bench --json not checked"
fi
exit $((fails > 0))
