#!/usr/bin/env bash
# A/B of the float PromQL benchmark between two commits:
# `cargo bench -p hourglass-query --bench promql_eval -- --quick` built at
# each (a `git archive` under $CARGO_TARGET_DIR/ab; both trees build under
# the same artifact hashes, so each binary is copied out after its build),
# then RUNS runs of each alternating, one worker thread (CPU-bound), and
# the per-query CPU figure of every run side by side.
#
#   A=14a9eea^1 B=dfc24ad RUNS=3 benches/promql_eval_ab.sh
set -euo pipefail
A=${A:-14a9eea^1}
B=${B:-HEAD}
RUNS=${RUNS:-3}
cd "$(dirname "$0")/.."
ab="${CARGO_TARGET_DIR:-target}/ab"
mkdir -p "$ab"
for side in A B; do
  rev=${!side}
  rm -rf "$ab/src-$side"; mkdir -p "$ab/src-$side"
  git archive "$rev" | tar -x -C "$ab/src-$side"
  exe=$(cd "$ab/src-$side" && cargo bench -p hourglass-query --bench promql_eval --no-run \
    --message-format=json 2>"$ab/build-$side.log" | python3 -c '
import json, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "promql_eval" and m.get("executable"):
        print(m["executable"])')
  cp "$exe" "$ab/bin-$side"
  rm -rf "$ab/src-$side"
done
: >"$ab/runs.txt"
for i in $(seq "$RUNS"); do
  for side in A B; do
    echo "== $side run $i, load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$ab/runs.txt"
    RAYON_NUM_THREADS=1 "$ab/bin-$side" --bench --quick 2>&1 | grep -E 'promql_eval/.*CPU' | tee -a "$ab/runs.txt"
  done
done
# Median ms of CPU per query, each side, and B/A.
python3 - "$ab/runs.txt" "$A" "$B" <<'PY'
import re, statistics, sys
side, runs = None, {}
for line in open(sys.argv[1]):
    m = re.match(r"== (\w) run", line)
    if m:
        side = m.group(1)
        continue
    m = re.search(r"promql_eval/(\S+): .*\(\d+ runs, ([\d.]+) ms CPU each\)", line)
    if m and side:
        runs.setdefault(m.group(1), {}).setdefault(side, []).append(float(m.group(2)))
print(f"{'query':28} {'A ms CPU':>10} {'B ms CPU':>10} {'B/A':>7}   (A={sys.argv[2]}, B={sys.argv[3]}, medians)")
for q, s in runs.items():
    a, b = statistics.median(s.get("A", [float("nan")])), statistics.median(s.get("B", [float("nan")]))
    print(f"{q:28} {a:10.1f} {b:10.1f} {b / a:7.3f}")
PY
