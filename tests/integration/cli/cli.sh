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
