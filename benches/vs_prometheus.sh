#!/usr/bin/env bash
# Hourglass and Debian's Prometheus 2.42 side by side on the same generated
# remote-write traffic (node-exporter-like series, 15 s scrapes): ingest
# samples/s, request latency, resident memory per series, and on-disk bytes
# per sample of sealed data (Hourglass partitions vs Prometheus's first
# 2-hour block). Loopback only; both servers are stopped at the end.
#
#   SERIES=20000 SCRAPES=960 CONCURRENCY=8 JITTER_MS=0 benches/vs_prometheus.sh
set -euo pipefail
source "$(dirname "$0")/common.sh"
# 960 scrapes × 15 s = 4 h: Prometheus cuts a block after 3 h.
settings SERIES=20000 SCRAPES=960 CONCURRENCY=8 JITTER_MS=0 HG_PORT=19201 PROM_PORT=19090

# Four hours ending an hour ago, aligned to the hour, the same for both.
now_s=$(date +%s)
start_ms=$(( (now_s / 3600 - 5) * 3600 * 1000 ))
gen=(--series "$SERIES" --scrapes "$SCRAPES" --concurrency "$CONCURRENCY"
     --jitter-ms "$JITTER_MS" --start-ms "$start_ms")

echo "== Hourglass"
start_hourglass "$HG_PORT" --persist-interval 1s --retention 0
hg_out=$(ingest "$HG_PORT")
echo "$hg_out"
hg_rss=$(rss_kb $hg_pid)
for _ in $(seq 60); do
  "$bin" inspect --data-dir "$work/hg" | grep -q "total (3 partitions)" && break; sleep 1
done
hg_total=$("$bin" inspect --data-dir "$work/hg" | grep '^total')
echo "$hg_total"

echo "== Prometheus $(prometheus --version 2>&1 | head -1 | awk '{print $3}')"
start_prometheus "$PROM_PORT" --storage.tsdb.retention.time=10y
prom_out=$(ingest "$PROM_PORT")
echo "$prom_out"
prom_rss=$(rss_kb $prom_pid)
block=""
for _ in $(seq 180); do
  block=$(find "$work/prom" -maxdepth 2 -name meta.json -not -path '*/wal/*' | head -1)
  [ -n "$block" ] && break; sleep 1
done
if [ -z "$block" ]; then echo "Prometheus cut no block in time"; exit 1; fi
sleep 2
bdir=$(dirname "$block")
prom_samples=$(python3 -c "import json,sys; print(json.load(open('$block'))['stats']['numSamples'])")
prom_bytes=$(du -sb "$bdir" | cut -f1)

# Query latency on the same data: 1 h ranges at 15 s steps over the last
# hour of the data, median of 5 runs each.
q_end=$(( start_ms / 1000 + SCRAPES * 15 ))
q_start=$(( q_end - 3600 ))
median_ms() {  # url query
  for _ in 1 2 3 4 5; do
    curl -s -o /dev/null -w '%{time_total}\n' --data-urlencode "query=$2" \
      --data "start=$q_start&end=$q_end&step=15" "$1/api/v1/query_range"
  done | sort -n | sed -n 3p | awk '{printf "%.1f", $1 * 1000}'
}
queries=("${node_queries[@]:0:4}")
query_rows=""
for q in "${queries[@]}"; do
  a=$(median_ms "http://127.0.0.1:$HG_PORT" "$q")
  b=$(median_ms "http://127.0.0.1:$PROM_PORT" "$q")
  query_rows+="$q"$'\t'"$a"$'\t'"$b"$'\n'
done

field() { echo "$1" | tr ' ' '\n' | grep "^$2=" | cut -d= -f2; }
hg_samples=$(echo "$hg_total" | awk '{print $(NF-2)}')
hg_bytes=$(echo "$hg_total" | awk '{print $(NF-1)}')
python3 - "$hg_out" "$prom_out" "$hg_rss" "$prom_rss" "$hg_bytes" "$hg_samples" "$prom_bytes" "$prom_samples" "$SERIES" "$query_rows" <<'PY'
import sys
hg, prom, hg_rss, prom_rss, hb, hs, pb, ps, series, query_rows = sys.argv[1:]
f = lambda s, k: float(dict(x.split("=") for x in s.split())[k])
print()
print(f"{'':28}{'Hourglass':>14}{'Prometheus':>14}{'ratio':>10}")
r = lambda a, b: f"{a / b:.2f}x" if b else "-"
a, b = f(hg, "samples_per_second"), f(prom, "samples_per_second")
print(f"{'ingest samples/s':28}{a:>14,.0f}{b:>14,.0f}{r(a, b):>10}")
a, b = f(hg, "p99_ms"), f(prom, "p99_ms")
print(f"{'request p99 ms':28}{a:>14.1f}{b:>14.1f}{r(a, b):>10}")
a, b = int(hg_rss) * 1024 / int(series), int(prom_rss) * 1024 / int(series)
print(f"{'RSS bytes per series':28}{a:>14,.0f}{b:>14,.0f}{r(a, b):>10}")
a, b = int(hb) / int(hs), int(pb) / int(ps)
print(f"{'bytes per sample (sealed)':28}{a:>14.3f}{b:>14.3f}{r(a, b):>10}")
for row in filter(None, query_rows.split("\n")):
    q, a, b = row.split("\t")
    print(f"{'query ms: ' + q}")
    print(f"{'':28}{float(a):>14.1f}{float(b):>14.1f}{r(float(a), float(b)):>10}")
PY
