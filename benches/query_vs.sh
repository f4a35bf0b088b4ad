#!/usr/bin/env bash
# Query latency side by side: Hourglass, VictoriaMetrics and Debian's
# Prometheus 2.42 hold the same generated remote-write stream
# (`hourglass bench ingest`: node-exporter-like series, 15 s scrapes, the
# last of it an hour before now) and answer the query suite of
# benches/footprint_vs.sh (range queries over the data's last hour at a
# 15 s step) in turns, the three servers up at once, so load on the
# machine falls on all of them alike.
#
# Per query and system: the first run (nothing cached), the median of the
# next RUNS, and for VictoriaMetrics also the median with `nocache=1`
# (its response cache answers repeated queries over data older than
# -search.cacheTimestampOffset, 5 min, without evaluating them: the
# whole suite here). Hourglass's `stats=all` timings split its own median
# into phases. Answers are compared with Prometheus's, point by point
# (relative difference at most 1e-9).
#
# PARTS=1 runs Hourglass with `--persist-interval 5s` and waits until the
# sealed hours are partitions (the head keeps only the open hour).
# SCRAPES overrides HOURS * 240 (the queries still span the data's last
# hour: with fewer scrapes, most of it empty).
#
#   SERIES=10000 HOURS=2 benches/query_vs.sh
#   SERIES=10000 HOURS=6 PARTS=1 benches/query_vs.sh
#   SERIES=100000 SCRAPES=20 benches/query_vs.sh
#
# PERF=FILE records Hourglass's stacks (`perf record -g`) while the suite
# runs, into FILE.
set -euo pipefail
source "$(dirname "$0")/common.sh"
settings SERIES=10000 HOURS=2 RUNS=5 PARTS=0 CONCURRENCY=4 HG_PORT=19231 PROM_PORT=19093 VM_PORT=19429

stream_span "$HOURS" "${SCRAPES:-}"
gen=(--series "$SERIES" --scrapes "$scrapes" --concurrency "$CONCURRENCY" --start-ms "$start_ms")

hg_flags=(--retention 0)
[ "$PARTS" = 1 ] && hg_flags+=(--persist-interval 5s)
HOURGLASS_NO_SELF_SCRAPE=true start_hourglass "$HG_PORT" "${hg_flags[@]}"
start_prometheus "$PROM_PORT" --storage.tsdb.retention.time=10y
victoria-metrics -storageDataPath="$work/vm" -retentionPeriod=10y \
  -httpListenAddr="127.0.0.1:$VM_PORT" >"$work/vm.log" 2>&1 &
pids+=("$!")
wait_http "http://127.0.0.1:$VM_PORT/health"

for port in "$HG_PORT" "$PROM_PORT" "$VM_PORT"; do
  echo "== ingest into :$port" >&2
  "$bin" bench ingest --url "http://127.0.0.1:$port/api/v1/write" "${gen[@]}" >&2
done
if [ "$PARTS" = 1 ]; then
  # Every sealed hour written: only the last hour's samples stay in the head.
  want=$(( HOURS - 1 ))
  for _ in $(seq 300); do
    have=$(curl -s "http://127.0.0.1:$HG_PORT/metrics" | awk '/^hourglass_partitions / {print $2}')
    [ "${have:-0}" -ge "$want" ] && break
    sleep 1
  done
  echo "Hourglass partitions: ${have:-0} (want at least $want)" >&2
fi
# VictoriaMetrics makes fresh rows searchable after about a second.
sleep 3

queries=("${node_queries[@]}")
tsv="$work/query.tsv"
: >"$tsv"
# once URL QUERY [EXTRA]: seconds of one query_range, answer in $work/last.json.
once() {
  curl -s -o "$work/last.json" -w '%{time_total}' --data-urlencode "query=$2" \
    --data "start=$q_start&end=$q_end&step=15${3:-}" "$1/api/v1/query_range"
}
# The answers compared: the same grid a second later. Prometheus 2.42's
# windows include their start ([t - range, t]), Prometheus 3's and ours
# do not ((t - range, t]); on the grid above every window starts on a
# sample, so the two would differ by that sample alone.
answer() {
  curl -s -o "$work/answer-$3-$4.json" --data-urlencode "query=$2" \
    --data "start=$(( q_start + 1 ))&end=$(( q_end + 1 ))&step=15" "$1/api/v1/query_range"
}
systems=(hg:$HG_PORT vm:$VM_PORT prom:$PROM_PORT)
if [ -n "${PERF:-}" ]; then
  perf record -q -g -o "$PERF" -p "$hg_pid" 2>"$work/perf.log" &
  perf_pid=$!
fi
for qi in "${!queries[@]}"; do
  q=${queries[$qi]}
  for s in "${systems[@]}"; do
    name=${s%%:*}
    printf '%s\t%s\tfirst\t%s\n' "$qi" "$name" "$(once "http://127.0.0.1:${s#*:}" "$q")" >>"$tsv"
    answer "http://127.0.0.1:${s#*:}" "$q" "$qi" "$name"
  done
  # Turns: each run asks every system once, so a burst of load on the
  # machine hits them all.
  for _ in $(seq "$RUNS"); do
    for s in "${systems[@]}"; do
      printf '%s\t%s\twarm\t%s\n' "$qi" "${s%%:*}" "$(once "http://127.0.0.1:${s#*:}" "$q")" >>"$tsv"
    done
    printf '%s\tvm\tnocache\t%s\n' "$qi" "$(once "http://127.0.0.1:$VM_PORT" "$q" '&nocache=1')" >>"$tsv"
    printf '%s\thg\tstats\t%s\n' "$qi" "$(once "http://127.0.0.1:$HG_PORT" "$q" '&stats=all')" >>"$tsv"
    python3 - "$work/last.json" >>"$work/phases-$qi.tsv" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["data"]["stats"]
print("\t".join(str(t["timings"][k]) for k in ("execQueueTime", "queryPreparationTime", "innerEvalTime", "resultSortTime", "execTotalTime")) + "\t" + str(t["samples"]["totalQueryableSamples"]) + "\t" + str(t["samples"]["peakSamples"]))
PY
  done
done

if [ -n "${PERF:-}" ]; then
  kill -INT "$perf_pid"
  wait "$perf_pid" || true
fi
echo "load: $(uptime)"
python3 - "$tsv" "$work" "$SERIES" "$scrapes" "$PARTS" "${queries[@]}" <<'PY'
import statistics, sys
from collections import defaultdict
sys.path.insert(0, "benches")
from answers_same import points, same
tsv, work, series, scrapes, parts, *queries = sys.argv[1:]
t = defaultdict(list)
for line in open(tsv):
    qi, name, kind, secs = line.split("\t")
    t[(int(qi), name, kind)].append(float(secs) * 1000)
med = lambda k: statistics.median(t[k]) if t[k] else float("nan")

where = "partitions + head" if parts == "1" else "head"
print(f"\n{series} series × {scrapes} scrapes ({where}); ms, first run and median of the warm runs\n")
print("| query | Hourglass first | Hourglass | VM first | VM (cached) | VM nocache=1 | Prometheus first | Prometheus | HG ÷ VM nocache | HG ÷ VM cached | answer vs Prometheus |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
tot = defaultdict(float)
for qi, q in enumerate(queries):
    row = {k: med((qi, *k)) for k in [("hg", "first"), ("hg", "warm"), ("vm", "first"), ("vm", "warm"), ("vm", "nocache"), ("prom", "first"), ("prom", "warm")]}
    for k, v in row.items():
        tot[k] += v
    try:
        cmp = same(points(f"{work}/answer-{qi}-hg.json"), points(f"{work}/answer-{qi}-prom.json"))
    except Exception as e:  # a failed answer
        cmp = f"unreadable: {e}"
    vals = " | ".join(f"{v:.1f}" for v in row.values())
    cell = q.replace("|", "\\|")
    print(f"| `{cell}` | {vals} | {row[('hg', 'warm')] / row[('vm', 'nocache')]:.2f}× | {row[('hg', 'warm')] / row[('vm', 'warm')]:.2f}× | {cmp} |")
vals = " | ".join(f"{v:.1f}" for v in tot.values())
print(f"| suite (sum) | {vals} | {tot[('hg', 'warm')] / tot[('vm', 'nocache')]:.2f}× | {tot[('hg', 'warm')] / tot[('vm', 'warm')]:.2f}× | |")
print("\nHourglass phases (stats=all, medians, ms): queue, preparation, inner eval, sort, total; samples loaded, peak samples")
for qi, q in enumerate(queries):
    rows = [l.split("\t") for l in open(f"{work}/phases-{qi}.tsv")]
    cols = list(zip(*rows))
    ms = " ".join(f"{statistics.median(float(x) for x in c) * 1000:.2f}" for c in cols[:5])
    print(f"  {ms}  {cols[5][0]} {cols[6][0]}  `{q}`")
PY
