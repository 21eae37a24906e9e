#!/usr/bin/env bash
# Instruction counts of the hot paths, under callgrind (deterministic, unlike
# timings on a shared machine).
#   scripts/icount.sh check PROGRAM BASELINE   fail if a case grew > 10%
#   scripts/icount.sh update PROGRAM BASELINE  rewrite the baseline
# Per-operation count = (Ir(2N) - Ir(N)) / N, which cancels start-up costs.
set -euo pipefail
mode=$1 prog=$2 baseline=$3
N=20000
ir() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$prog" "$1" "$2" 2>&1 |
       sed -n 's/.*Collected : \([0-9]*\).*/\1/p'; }
declare -A measured
for c in $("$prog" --list); do
  a=$(ir "$c" $N); b=$(ir "$c" $((2 * N)))
  measured[$c]=$(( (b - a + N / 2) / N ))
done
if [ "$mode" = update ]; then
  {
    echo "# Instructions per operation of vmrt's hot paths (callgrind, x86-64, gcc -O2)."
    echo "# Regenerate deliberately with 'make bench-baseline'; 'make test' fails above +10%."
    for c in "${!measured[@]}"; do echo "$c ${measured[$c]}"; done | sort
  } >"$baseline"
  cat "$baseline"
  exit 0
fi
fail=0
for c in "${!measured[@]}"; do
  base=$(awk -v c="$c" '$1 == c { print $2 }' "$baseline")
  if [ -z "$base" ]; then
    echo "icount: $c: ${measured[$c]} instructions/op (no baseline: run 'make bench-baseline')"
    fail=1
  elif [ $(( measured[$c] * 100 )) -gt $(( base * 110 )) ]; then
    echo "icount: $c: ${measured[$c]} instructions/op, baseline $base: more than 10% worse"
    fail=1
  else
    echo "icount: $c: ${measured[$c]} instructions/op (baseline $base)"
  fi
done
exit $fail
