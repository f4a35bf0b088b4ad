#!/usr/bin/env bash
# `histogram_quantile(0.99, sum(rate(h[5m])))` over native histograms in
# Hourglass against the same query over the equivalent classic `_bucket`
# series in Debian's Prometheus 2.42,
# `histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m])))`: SERIES
# latency histograms (20 buckets) × HOURS at 15 s, the same numbers loaded
# into both (benches/histograms_gen.py: `hourglass import` of native
# histograms in JSON lines, sealed into partitions; `promtool tsdb
# create-blocks-from openmetrics` of the classic form). Range queries over
# the whole span at a 60 s step, RUNS of each alternating A/B: median wall
# time and the server's CPU seconds per query (from /proc, trustworthy on a
# loaded machine). Loopback only; both servers stopped at the end.
#
#   SKIP_BUILD=1 SERIES=100 HOURS=24 RUNS=5 benches/histograms_vs.sh
#
# Bounded by the classic data: SERIES × HOURS × 5,520 OpenMetrics lines
# (about 8 GB and tens of minutes of generation at 1,000 × 24 h).
set -euo pipefail
source "$(dirname "$0")/common.sh"
settings SERIES=100 HOURS=24 RUNS=5 HG_PORT=19211 PROM_PORT=19091

points=$(( HOURS * 240 ))
# Ending two hours ago, aligned to the hour.
start_ms=$(( ($(date +%s) / 3600 - 2 - HOURS) * 3600 * 1000 ))
python3 benches/histograms_gen.py "$work" "$SERIES" "$points" "$start_ms"
echo "data: $SERIES histograms x $points scrapes ($(du -sh "$work/classic.om" | cut -f1) OpenMetrics, $(du -sh "$work/native.jsonl" | cut -f1) JSON lines)"

"$bin" import --data-dir "$work/hg" "$work/native.jsonl" 2>&1 | tail -1
promtool tsdb create-blocks-from openmetrics --max-block-duration=24h \
  "$work/classic.om" "$work/prom" >/dev/null
rm -f "$work/classic.om" "$work/native.jsonl"

start_hourglass "$HG_PORT" --query-max-samples 1000000000 --query-memory-budget 2000000000
printf 'global:\n  scrape_interval: 15s\n' >"$work/prom.yml"
# The classic form of 1,000 histograms × 24 h is 132M samples: over the
# default limit of 50M a query.
prometheus --config.file="$work/prom.yml" --storage.tsdb.path="$work/prom" \
  --query.max-samples=1000000000 \
  --web.listen-address="127.0.0.1:$PROM_PORT" >"$work/prom.log" 2>&1 &
prom_pid=$!
pids+=("$prom_pid")
wait_http "http://127.0.0.1:$PROM_PORT/-/ready"

q_start=$(( start_ms / 1000 + 300 ))
q_end=$(( start_ms / 1000 + points * 15 - 15 ))
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# run URL QUERY PID: one range query; prints "wall_s cpu_s points".
run() {
  local c0 c1 out
  c0=$(cpu_ticks "$3")
  out=$(curl -s -w '\n%{time_total}' --data-urlencode "query=$2" \
    --data "start=$q_start&end=$q_end&step=60" "$1/api/v1/query_range")
  c1=$(cpu_ticks "$3")
  local n
  n=$(head -1 <<<"$out" | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(len(r[0]["values"]) if r else 0)')
  echo "$(tail -1 <<<"$out") $(awk -v t=$(( c1 - c0 )) -v hz="$(getconf CLK_TCK)" 'BEGIN{print t/hz}') $n"
}
hg_q='histogram_quantile(0.99, sum(rate(h[5m])))'
prom_q='histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m])))'
hg_url="http://127.0.0.1:$HG_PORT"; prom_url="http://127.0.0.1:$PROM_PORT"
# One warm-up each (first touch of the data), then alternate.
run "$hg_url" "$hg_q" "$hg_pid" >/dev/null
run "$prom_url" "$prom_q" "$prom_pid" >/dev/null
: >"$work/hg.runs"; : >"$work/prom.runs"
for _ in $(seq "$RUNS"); do
  run "$hg_url" "$hg_q" "$hg_pid" >>"$work/hg.runs"
  run "$prom_url" "$prom_q" "$prom_pid" >>"$work/prom.runs"
done
median() { sort -g | awk '{a[NR]=$1} END{print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
hg_wall=$(cut -d' ' -f1 "$work/hg.runs" | median); hg_cpu=$(cut -d' ' -f2 "$work/hg.runs" | median)
pr_wall=$(cut -d' ' -f1 "$work/prom.runs" | median); pr_cpu=$(cut -d' ' -f2 "$work/prom.runs" | median)
echo "points per answer: Hourglass $(cut -d' ' -f3 "$work/hg.runs" | sort -u | tr '\n' ' ')/ Prometheus $(cut -d' ' -f3 "$work/prom.runs" | sort -u | tr '\n' ' ')"
echo "load: $(uptime | sed 's/.*load average: //')"
printf '%-44s %10s %10s\n' "median of $RUNS (s per query)" wall cpu
printf '%-44s %10s %10s\n' "Hourglass  $hg_q" "$hg_wall" "$hg_cpu"
printf '%-44s %10s %10s\n' "Prometheus $prom_q" "$pr_wall" "$pr_cpu"
awk -v a="$pr_wall" -v b="$hg_wall" -v c="$pr_cpu" -v d="$hg_cpu" \
  'BEGIN{printf "Hourglass faster by: wall %.2fx, cpu %.2fx\n", a/b, (d > 0 ? c/d : 0)}'
