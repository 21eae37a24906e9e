#!/usr/bin/env bash
# vmrt run end to end: every guest example on the runtime (scheduler + GC),
# on 1 and 2 vCPUs, against its expected output; exit codes of bad programs,
# guest errors and bad options; --stats=json; configuration precedence.
set -u
examples=$2
# Cross builds run under Meson's exe wrapper (qemu-aarch64): so must vmrt.
vmrt() { ${MESON_EXE_WRAPPER:-} "$vmrt_bin" "$@"; }
vmrt_bin=$1
cfg=${VMRT_TEST_CONFIG:-native}
fails=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for vcpus in 1 2; do
  for f in "$examples"/*.vasm; do
    name=$(basename "$f" .vasm)
    args=()
    # skynet's default (11,111 threads) exceeds ThreadSanitizer's fiber limit
    [ "$name" = skynet ] && [ "$cfg" = tsan ] && continue
    if timeout 300 ${MESON_EXE_WRAPPER:-} "$vmrt_bin" run --vcpus "$vcpus" "$f" "${args[@]}" >"$tmp/out" 2>"$tmp/err"; then
      if cmp -s "$tmp/out" "${f%.vasm}.out"; then ok "$name on $vcpus vCPUs"
      else bad "$name on $vcpus vCPUs: output differs"; diff "$tmp/out" "${f%.vasm}.out" | head -5; fi
    else
      bad "$name on $vcpus vCPUs: exit $?"; head -5 "$tmp/err"
    fi
  done
done

# Bad program: file:line:col and exit 65.
printf '.func main 0 1\n    bogus r0\n.end\n' >"$tmp/bad.vasm"
vmrt run "$tmp/bad.vasm" >/dev/null 2>"$tmp/err"; rc=$?
[ $rc -eq 65 ] && grep -q "bad.vasm:2:5: " "$tmp/err" && ok "bad program: 65, file:line:col" ||
  { bad "bad program: exit $rc"; cat "$tmp/err"; }
# Missing program: 66.
vmrt run "$tmp/nope.vasm" >/dev/null 2>&1; rc=$?
[ $rc -eq 66 ] && ok "missing program: 66" || bad "missing program: exit $rc"
# Guest runtime error: 70 with a guest stack trace.
printf '.func main 0 3\n    const r0, 1\n    const r1, 0\n    div r2, r0, r1\n    ret r2\n.end\n' >"$tmp/div.vasm"
vmrt run "$tmp/div.vasm" >/dev/null 2>"$tmp/err"; rc=$?
[ $rc -eq 70 ] && grep -q "division by zero" "$tmp/err" && grep -q "at main (.*div.vasm:4)" "$tmp/err" &&
  ok "guest error: 70 with stack trace" || { bad "guest error: exit $rc"; cat "$tmp/err"; }
# Bad options name the option; exit 2.
vmrt run --vcpus zero "$tmp/div.vasm" >/dev/null 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] && grep -q -- "--vcpus: sched.vcpus: 'zero'" "$tmp/err" && ok "bad --vcpus: 2" ||
  { bad "bad --vcpus: exit $rc"; cat "$tmp/err"; }
vmrt run --gc-trigger sometimes "$tmp/div.vasm" >/dev/null 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] && grep -q "is not one of fixed, adaptive, pressure, time" "$tmp/err" &&
  ok "bad --gc-trigger: 2" || { bad "bad --gc-trigger: exit $rc"; cat "$tmp/err"; }
vmrt run --no-such-flag >/dev/null 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] && grep -q "unknown option '--no-such-flag'" "$tmp/err" && ok "unknown flag: 2" ||
  bad "unknown flag: exit $rc"
# Config file errors: file:line:col for syntax, key names for values.
printf '{"sched": {"vcpus": 2,,}}' >"$tmp/c1.json"
vmrt run --config "$tmp/c1.json" "$tmp/div.vasm" >/dev/null 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] && grep -q "c1.json:1:" "$tmp/err" && ok "config syntax error: 2" ||
  { bad "config syntax error: exit $rc"; cat "$tmp/err"; }
# Precedence: file < env < flag (the report shows the vCPU count).
printf '{"sched": {"vcpus": 1}}' >"$tmp/c2.json"
p1=$(echo 0 | vmrt run --stats=json --config "$tmp/c2.json" "$examples/ping-pong.vasm" 10 | python3 -c 'import sys,json; t=sys.stdin.read(); print(json.loads(t[t.index("{"):])["sched"]["vcpu_count"])')
p2=$(VMRT_SCHED_VCPUS=2 vmrt run --stats=json --config "$tmp/c2.json" "$examples/ping-pong.vasm" 10 | python3 -c 'import sys,json; t=sys.stdin.read(); print(json.loads(t[t.index("{"):])["sched"]["vcpu_count"])')
p3=$(VMRT_SCHED_VCPUS=2 vmrt run --stats=json --vcpus 3 --config "$tmp/c2.json" "$examples/ping-pong.vasm" 10 | python3 -c 'import sys,json; t=sys.stdin.read(); print(json.loads(t[t.index("{"):])["sched"]["vcpu_count"])')
[ "$p1$p2$p3" = 123 ] && ok "precedence file < env < flag" || bad "precedence: got $p1 $p2 $p3, want 1 2 3"
# --stats=json carries every component.
vmrt run --stats=json "$examples/gc-heavy.vasm" 300 >"$tmp/out" 2>&1
python3 - "$tmp/out" <<'PY' && ok "--stats=json" || bad "--stats=json"
import json, sys
t = open(sys.argv[1]).read()
j = json.loads(t[t.index("{"):])
assert j["sched"]["context_switches_total"] > 0, j["sched"]
assert j["gc"]["gc_count"] >= 1 and j["gc"]["bytes_allocated_total"] > 0, j["gc"]
assert j["guest"]["objects"] > 0, j["guest"]
assert j["pool"]["created_total"] > 0, j["pool"]
m = j["mapper"]
assert len(m["vcpus"]) == j["sched"]["vcpu_count"], m
assert set(m["coroutines_by_priority"]) == {"high", "medium", "low"}, m
assert m["coroutines_by_priority"]["high"] >= 1, m  # the GC's own coroutine
PY
# The whole VM inside each isolation level (the program is loaded before the
# sandbox starts, so the container's new root need not contain it).
if [ "$cfg" = aarch64 ]; then
  echo "SKIP: isolation levels under qemu-aarch64 (namespaces and seccomp are emulated poorly)"
else
  for lvl in process container full; do
    for f in "$examples"/*.vasm; do
      name=$(basename "$f" .vasm)
      [ "$name" = echo-server ] && continue # needs a network: below
      [ "$name" = skynet ] && [ "$cfg" = tsan ] && continue
      timeout 120 ${MESON_EXE_WRAPPER:-} "$vmrt_bin" run --isolation $lvl --vcpus 2 \
          "$examples/$name.vasm" >"$tmp/out" 2>"$tmp/err"; rc=$?
      if [ $rc -eq 0 ] && cmp -s "$tmp/out" "$examples/$name.out"; then ok "$name at isolation $lvl"
      else
        bad "$name at isolation $lvl (exit $rc)"; head -5 "$tmp/err"
        diff "$tmp/out" "$examples/$name.out" | head -5
      fi
    done
  done
  if timeout 120 "$vmrt_bin" run --isolation container --net loopback --vcpus 2 \
      "$examples/echo-server.vasm" >"$tmp/out" 2>"$tmp/err" &&
     cmp -s "$tmp/out" "$examples/echo-server.out"; then ok "echo-server in a container with loopback"
  else bad "echo-server in a container with loopback"; head -5 "$tmp/err"; fi
  # No network: the guest's connect fails cleanly (exit 70), nothing hangs.
  timeout 60 "$vmrt_bin" run --isolation container "$examples/echo-server.vasm" >/dev/null 2>"$tmp/err"; rc=$?
  [ $rc -eq 70 ] && grep -q "connect failed" "$tmp/err" && ok "echo-server without network: 70" ||
    { bad "echo-server without network: exit $rc"; head -3 "$tmp/err"; }
  # A limit of the sandbox ends the VM and is reported.
  printf '.func main 0 1\nloop:\n    jmp loop\n.end\n' >"$tmp/forever.vasm"
  timeout 60 "$vmrt_bin" run --isolation process --wall-time 1 --stats "$tmp/forever.vasm" \
    >"$tmp/out" 2>"$tmp/err"; rc=$?
  [ $rc -eq 243 ] && grep -q "wall_time_limit" "$tmp/out" "$tmp/err" && ok "sandbox wall-time limit: 243, reported" ||
    { bad "sandbox wall-time limit: exit $rc"; tail -3 "$tmp/out"; head -3 "$tmp/err"; }
  # A sandbox that cannot be made: 125, its report (setup_failed) on stderr, nothing run.
  timeout 60 "$vmrt_bin" run --isolation container --ro /proc "$examples/ping-pong.vasm" \
    >"$tmp/out" 2>"$tmp/err"; rc=$?
  [ $rc -eq 125 ] && [ ! -s "$tmp/out" ] && grep -q "setup_failed" "$tmp/err" &&
    grep -q -- "--ro /proc" "$tmp/err" && ok "sandbox set-up failure: 125, reported" ||
    { bad "sandbox set-up failure: exit $rc"; head -5 "$tmp/err"; }
fi

# Isolation none: the wall and CPU time are supervised in-process (243, 242,
# as a sandbox's limit kills); limits.memory caps the GC heap (3/4 of it), so
# the guest gets a clean out-of-memory error (70); what cannot be enforced is
# a reported downgrade, an error with --strict.
printf '.func main 0 1\nloop:\n    jmp loop\n.end\n' >"$tmp/forever.vasm"
for lim in "--wall-time 1:243:wall_time_limit" "--cpu-time 1:242:cpu_time_limit"; do
  IFS=: read -r opt want why <<<"$lim"
  # shellcheck disable=SC2086
  timeout 60 ${MESON_EXE_WRAPPER:-} "$vmrt_bin" run $opt "$tmp/forever.vasm" >/dev/null 2>"$tmp/err"; rc=$?
  [ $rc -eq "$want" ] && grep -q "the VM ended: $why" "$tmp/err" && ok "isolation none $opt: $want" ||
    { bad "isolation none $opt: exit $rc (want $want)"; head -3 "$tmp/err"; }
done
vmrt run --wall-time 60 "$examples/ping-pong.vasm" >"$tmp/out" 2>"$tmp/err" &&
  cmp -s "$tmp/out" "$examples/ping-pong.out" && ok "isolation none: a program within --wall-time runs" ||
  { bad "isolation none: --wall-time 60 ping-pong"; head -3 "$tmp/err"; }
vmrt run --memory 1K "$examples/ping-pong.vasm" >/dev/null 2>"$tmp/err"; rc=$?
[ $rc -eq 70 ] && grep -q "out of memory" "$tmp/err" && grep -q "downgrade: isolation none: limits.memory" "$tmp/err" &&
  ok "isolation none --memory 1K: GC heap limit, 70, downgrade noted" ||
  { bad "isolation none --memory 1K: exit $rc"; head -3 "$tmp/err"; }
vmrt run --stats=json --memory 64M --cpus 1 --vcpus 2 "$examples/ping-pong.vasm" >"$tmp/out" 2>"$tmp/err"
if python3 - "$tmp/out" <<'PY'; then ok "--memory/--cpus become the GC heap limit and the vCPU cap"; else bad "--memory/--cpus caps"; fi
import json, sys
t = open(sys.argv[1]).read()
s = json.loads(t[t.index("{"):])
assert s["gc"]["heap_limit"] == 48 << 20, s["gc"]["heap_limit"]
assert s["sched"]["vcpu_count"] == 1, s["sched"]["vcpu_count"]
PY
grep -q "downgrade: isolation none: limits.cpus" "$tmp/err" && ok "--cpus downgrade noted" || bad "--cpus downgrade not noted"
vmrt run --stats=json --cpu-quota 0.5 --vcpus 2 "$examples/ping-pong.vasm" >"$tmp/out" 2>"$tmp/err"
python3 -c 'import json,sys; t=open(sys.argv[1]).read(); assert json.loads(t[t.index("{"):])["sched"]["vcpu_count"] == 1' "$tmp/out" &&
  grep -q "vCPU count is 1 instead" "$tmp/err" && ok "--cpu-quota 0.5 caps the vCPUs at 1" || { bad "--cpu-quota 0.5"; cat "$tmp/err"; }
vmrt run --max-files 10 --max-procs 5 "$examples/ping-pong.vasm" >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc -eq 0 ] && grep -q "downgrade: isolation none: limits.files" "$tmp/err" &&
  grep -q "downgrade: isolation none: limits.procs" "$tmp/err" && ok "unenforceable limits at none: downgrades noted" ||
  { bad "downgrade notes: exit $rc"; cat "$tmp/err"; }
vmrt run --strict --max-files 10 "$examples/ping-pong.vasm" >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && [ ! -s "$tmp/out" ] && grep -q "error: isolation none: limits.files" "$tmp/err" &&
  ok "--strict at none: an unenforceable limit is an error" || { bad "--strict at none: exit $rc"; cat "$tmp/err"; }

# Options reach the components: every trigger policy, incremental marking, a
# short time slice, one vCPU pinned, and a heap limit the guest runs into.
for opt in "--gc-trigger fixed" "--gc-trigger pressure" "--gc-trigger time" \
           "--gc-trigger adaptive --gc-target 50" "--gc-incremental" "--time-slice 200us"; do
  # shellcheck disable=SC2086
  if vmrt run $opt "$examples/gc-heavy.vasm" >"$tmp/out" 2>"$tmp/err" &&
     cmp -s "$tmp/out" "$examples/gc-heavy.out"; then ok "gc-heavy with $opt"
  else bad "gc-heavy with $opt"; head -3 "$tmp/err"; fi
done
vmrt run --stats=json --gc-trigger time "$examples/gc-heavy.vasm" >"$tmp/out" 2>&1
grep -q '"trigger": "time-based"' "$tmp/out" && ok "--gc-trigger time shows in the report" ||
  bad "--gc-trigger time not in the report"
vmrt run --heap-max 1M "$examples/gc-heavy.vasm" >/dev/null 2>"$tmp/err"; rc=$?
[ $rc -eq 70 ] && grep -q "out of memory" "$tmp/err" && ok "--heap-max 1M: guest out of memory, 70" ||
  { bad "--heap-max 1M: exit $rc"; head -3 "$tmp/err"; }

# --metrics-listen: a running VM answers /metrics and /stats on loopback.
printf '.func main 0 3\n    const r0, 0\n    const r1, 30\nloop:\n    ge r2, r0, r1\n    jnz r2, done\n    const r2, 100\n    sleep r2\n    addi r0, r0, 1\n    jmp loop\ndone:\n    const r0, 0\n    ret r0\n.end\n' >"$tmp/sleeper.vasm"
if vmrt run "$tmp/sleeper.vasm" >/dev/null 2>&1; then
  ${MESON_EXE_WRAPPER:-} "$vmrt_bin" run --metrics-listen 127.0.0.1:0 "$tmp/sleeper.vasm" >/dev/null 2>"$tmp/err" &
  pid=$!
  for _ in $(seq 50); do grep -q "metrics on" "$tmp/err" 2>/dev/null && break; sleep 0.1; done
  url=$(sed -n 's/.*metrics on \(http:[^ ]*\/metrics\).*/\1/p' "$tmp/err")
  if [ -n "$url" ] && python3 - "$url" <<'PY'; then ok "--metrics-listen serves /metrics and /stats"; else bad "--metrics-listen"; cat "$tmp/err"; fi
import json, sys, urllib.request
m = urllib.request.urlopen(sys.argv[1], timeout=5).read().decode()
assert "vmrt_sched_context_switches_total" in m and "# TYPE" in m, m[:300]
s = json.loads(urllib.request.urlopen(sys.argv[1].replace("/metrics", "/stats"), timeout=5).read())
assert s["sched"]["vcpu_count"] >= 1, s
PY
  wait $pid
  vmrt run --metrics-listen 10.0.0.1:9100 "$tmp/sleeper.vasm" >/dev/null 2>"$tmp/err"; rc=$?
  [ $rc -eq 2 ] && grep -q -- "--metrics-listen: metrics_listen: '10.0.0.1:9100' is not a loopback address" "$tmp/err" &&
    ok "--metrics-listen refuses a non-loopback address: 2, named" ||
    { bad "--metrics-listen non-loopback: exit $rc"; cat "$tmp/err"; }
  vmrt run --metrics-listen garbage "$tmp/sleeper.vasm" >/dev/null 2>"$tmp/err"; rc=$?
  [ $rc -eq 2 ] && grep -q -- "--metrics-listen: metrics_listen: 'garbage' is not HOST:PORT" "$tmp/err" &&
    ok "--metrics-listen garbage: 2, named" || { bad "--metrics-listen garbage: exit $rc"; cat "$tmp/err"; }
  VMRT_METRICS_LISTEN=8.8.8.8:80 vmrt run "$tmp/sleeper.vasm" >/dev/null 2>"$tmp/err"; rc=$?
  [ $rc -eq 2 ] && grep -q "VMRT_METRICS_LISTEN: metrics_listen: '8.8.8.8:80'" "$tmp/err" &&
    ok "VMRT_METRICS_LISTEN checked too" || { bad "VMRT_METRICS_LISTEN=8.8.8.8:80: exit $rc"; cat "$tmp/err"; }
  # A well-formed address that cannot be bound: the message names the option and the address.
  python3 -c 'import socket,time,sys; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(10)' >"$tmp/port" &
  holder=$!
  for _ in $(seq 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
  port=$(cat "$tmp/port")
  vmrt run --metrics-listen "127.0.0.1:$port" "$tmp/sleeper.vasm" >/dev/null 2>"$tmp/err"; rc=$?
  kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
  [ $rc -eq 1 ] && grep -q -- "--metrics-listen 127.0.0.1:$port: Address already in use" "$tmp/err" &&
    ok "--metrics-listen on a busy port: 1, named" || { bad "--metrics-listen busy port: exit $rc"; cat "$tmp/err"; }
else
  bad "sleeper program"
fi

# --trace prints GC cycles and sampled scheduler activity.
vmrt run --trace "$examples/gc-heavy.vasm" 3000 >/dev/null 2>"$tmp/err"
grep -q "gc: cycle 1 done" "$tmp/err" && grep -q "sched: " "$tmp/err" && ok "--trace" ||
  { bad "--trace"; head -5 "$tmp/err"; }
exit $((fails > 0))
