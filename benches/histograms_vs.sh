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
#   SKIP_BUILD=1 SERIES=1000 HOURS=24 RUNS=3 benches/histograms_vs.sh
#
# The data streams in pieces of PIECE_HOURS (default 2) so the classic
# form (≈ 9 GB at 1,000 × 24 h) never sits on disk whole: the generator
# writes a piece while the previous one is loaded (promtool makes blocks of
# PIECE_HOURS, Hourglass imports it), and each piece is deleted once read;
# at most two pieces (≈ 1.5 GB at 1,000 series) wait at a time. Prometheus
# then compacts the blocks as it would its own (2 h → 6 h → 18 h); the
# queries start once its block set has not changed for 30 s (at most 10
# minutes). About 25 minutes of loading at 1,000 × 24 h on a quiet machine.
#
# DATA=<dir> keeps both stores there: the first run loads them (and
# leaves <dir>/span), later runs with the same DATA only start the
# servers and query, a few minutes:
#
#   SKIP_BUILD=1 SERIES=1000 HOURS=24 RUNS=3 DATA=/work/scratch/hist1000 benches/histograms_vs.sh
set -euo pipefail
source "$(dirname "$0")/common.sh"
settings SERIES=100 HOURS=24 RUNS=5 HG_PORT=19211 PROM_PORT=19091

PIECE_HOURS=${PIECE_HOURS:-2}
if [ -n "${DATA:-}" ]; then
  # A load that did not finish is started again.
  [ -e "$DATA/span" ] || rm -rf "$DATA/hg" "$DATA/prom"
  mkdir -p "$DATA/hg" "$DATA/prom"
  ln -s "$DATA/hg" "$work/hg"
  ln -s "$DATA/prom" "$work/prom"
fi
points=$(( HOURS * 240 ))
# Ending two hours ago, aligned to PIECE_HOURS (so pieces fill whole blocks).
start_h=$(( $(date +%s) / 3600 - 2 - HOURS ))
start_ms=$(( start_h / PIECE_HOURS * PIECE_HOURS * 3600 * 1000 ))
pieces=$(( (points + PIECE_HOURS * 240 - 1) / (PIECE_HOURS * 240) ))
loaded=""
if [ -n "${DATA:-}" ] && [ -e "$DATA/span" ]; then
  # shellcheck disable=SC1091
  source "$DATA/span"
  loaded=1
  echo "data: reused from $DATA ($SERIES histograms x $points scrapes from $start_ms)"
fi
[ -n "$loaded" ] || {
PIECE_SCRAPES=$(( PIECE_HOURS * 240 )) python3 benches/histograms_gen.py "$work" "$SERIES" "$points" "$start_ms" &
gen_pid=$!
pids+=("$gen_pid")
load_start=$(date +%s)
classic_bytes=0
for k in $(seq -f '%03g' 0 $(( pieces - 1 ))); do
  until [ -e "$work/piece-$k.ready" ]; do
    kill -0 "$gen_pid" 2>/dev/null || [ -e "$work/piece-$k.ready" ] || { echo "generator stopped before piece $k" >&2; exit 1; }
    sleep 0.5
  done
  classic_bytes=$(( classic_bytes + $(stat -c %s "$work/classic-$k.om") ))
  "$bin" import --data-dir "$work/hg" "$work/native-$k.jsonl" 2>&1 | tail -1 | sed "s/^/piece $k: /"
  promtool tsdb create-blocks-from openmetrics --max-block-duration="${PIECE_HOURS}h" \
    "$work/classic-$k.om" "$work/prom" >/dev/null
  rm -f "$work/classic-$k.om" "$work/native-$k.jsonl" "$work/piece-$k.ready"
done
wait "$gen_pid"
echo "data: $SERIES histograms x $points scrapes in $pieces pieces ($(( classic_bytes / 1000000 )) MB of OpenMetrics), loaded in $(( $(date +%s) - load_start )) s"
}

start_hourglass "$HG_PORT" --query-timeout 10m --query-max-samples 1000000000 --query-memory-budget 2000000000
printf 'global:\n  scrape_interval: 15s\n' >"$work/prom.yml"
# The classic form of 1,000 histograms × 24 h is 132M samples: over the
# default limit of 50M a query.
prom_started=$(date +%s)
prometheus --config.file="$work/prom.yml" --storage.tsdb.path="$work/prom" \
  --query.max-samples=1000000000 --query.timeout=10m \
  --web.listen-address="127.0.0.1:$PROM_PORT" >"$work/prom.log" 2>&1 &
prom_pid=$!
pids+=("$prom_pid")
wait_http "http://127.0.0.1:$PROM_PORT/-/ready"
# Prometheus compacts the backfilled blocks a minute after it starts: wait
# until its block set has not changed for 30 s, at most 10 minutes.
last=""; same=0
for _ in $(seq 300); do
  now=$(ls "$work/prom" | grep '^01' | sort | tr '\n' ' ')
  [ "$now" = "$last" ] && same=$((same + 1)) || same=0
  last=$now
  [ "$same" -ge 15 ] && { [ -n "$loaded" ] || [ "$(( $(date +%s) - prom_started ))" -ge 90 ]; } && break
  sleep 2
done
echo "Prometheus blocks: $(wc -w <<<"$last")"
[ -z "${DATA:-}" ] || [ -n "$loaded" ] || printf 'SERIES=%s\npoints=%s\nstart_ms=%s\n' "$SERIES" "$points" "$start_ms" >"$DATA/span"

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
  head -1 <<<"$out" >"$work/answer.$3.json"
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
# The two answers side by side (classic buckets interpolate linearly
# inside a bucket, native ones exponentially: close, not equal).
python3 - "$work/answer.$hg_pid.json" "$work/answer.$prom_pid.json" <<'EOF'
import json, sys
def points(path):
    r = json.load(open(path))["data"]["result"]
    return {t: float(v) for t, v in r[0]["values"]} if r else {}
a, b = points(sys.argv[1]), points(sys.argv[2])
both = [t for t in a if t in b and b[t] != 0]
worst = max((abs(a[t] - b[t]) / abs(b[t]) for t in both), default=float("nan"))
print(f"answers: {len(both)} common steps, largest relative difference {worst:.3g}")
EOF
echo "load: $(uptime | sed 's/.*load average: //')"
printf '%-44s %10s %10s\n' "median of $RUNS (s per query)" wall cpu
printf '%-44s %10s %10s\n' "Hourglass  $hg_q" "$hg_wall" "$hg_cpu"
printf '%-44s %10s %10s\n' "Prometheus $prom_q" "$pr_wall" "$pr_cpu"
awk -v a="$pr_wall" -v b="$hg_wall" -v c="$pr_cpu" -v d="$hg_cpu" \
  'BEGIN{printf "Hourglass faster by: wall %.2fx, cpu %.2fx\n", a/b, (d > 0 ? c/d : 0)}'
