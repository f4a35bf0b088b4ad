#!/usr/bin/env bash
# Peak resident memory (VmHWM) per active series at SERIES series (default
# 1M, SCRAPES samples each), side by side: each system in SYSTEMS (default
# Debian's VictoriaMetrics and Hourglass; `prometheus` too if asked) starts
# fresh, takes the same generated remote-write stream (`hourglass bench
# ingest`, node-exporter-like series, 15 s scrapes), and is measured: peak
# and final RSS, CPU per sample, then stopped. One system at a time, so
# each has the machine to itself. Loopback only; every server is stopped
# and the data removed at the end.
#
#   SKIP_BUILD=1 SERIES=1000000 SCRAPES=3 benches/memory_1m.sh
#   SKIP_BUILD=1 SERIES=100000 SCRAPES=20 SYSTEMS="victoriametrics hourglass prometheus" benches/memory_1m.sh
set -euo pipefail
source "$(dirname "$0")/common.sh"
settings SERIES=1000000 SCRAPES=3 CONCURRENCY=4 'SYSTEMS=victoriametrics hourglass' HG_PORT=19211 PROM_PORT=19091 VM_PORT=19411
# No self-scrape: like the others, Hourglass stores only the stream.
export HOURGLASS_NO_SELF_SCRAPE=true
hwm_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }
# Scrape-aligned, ending an hour ago: every system takes it whole.
start_ms=$(( ($(date +%s) / 3600 - 2) * 3600 * 1000 ))
gen=(--series "$SERIES" --scrapes "$SCRAPES" --concurrency "$CONCURRENCY" --start-ms "$start_ms")
samples=$(( (SERIES + 99) / 100 * 100 * SCRAPES ))
tsv="$work/results.tsv"
: > "$tsv"

for sys in $SYSTEMS; do
  case $sys in
    hourglass)
      start_hourglass "$HG_PORT" --retention 0
      pid=$hg_pid; port=$HG_PORT ;;
    prometheus)
      start_prometheus "$PROM_PORT" --storage.tsdb.retention.time=10y
      pid=$prom_pid; port=$PROM_PORT ;;
    victoriametrics)
      victoria-metrics -storageDataPath="$work/vm" -retentionPeriod=10y \
        -httpListenAddr="127.0.0.1:$VM_PORT" >"$work/vm.log" 2>&1 &
      pid=$!; pids+=("$pid"); port=$VM_PORT
      wait_http "http://127.0.0.1:$port/health" ;;
    *) echo "unknown system $sys" >&2; exit 1 ;;
  esac
  echo "== $sys: $SERIES series × $SCRAPES scrapes (load $(cut -d' ' -f1 /proc/loadavg))" >&2
  c0=$(cpu_s "$pid")
  out=$(ingest "$port")
  echo "$out" >&2
  c1=$(cpu_s "$pid")
  # Let background work (VictoriaMetrics' merges, Hourglass's persist) settle.
  sleep 3
  printf '%s\t%s\t%s\t%s\t%s\n' "$sys" "$(hwm_kb "$pid")" "$(rss_kb "$pid")" \
    "$(awk -v a="$c0" -v b="$c1" -v n="$samples" 'BEGIN {printf "%.3f", (b - a) * 1e6 / n}')" \
    "$(cut -d' ' -f1 /proc/loadavg)" >> "$tsv"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$work/hg" "$work/prom" "$work/vm"
done

python3 - "$tsv" "$SERIES" "$SCRAPES" <<'PY'
import sys
path, series, scrapes = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rows = [l.rstrip("\n").split("\t") for l in open(path)]
names = {"victoriametrics": "VictoriaMetrics", "hourglass": "Hourglass", "prometheus": "Prometheus 2.42"}
print(f"\n{series:,} series × {scrapes} scrapes\n")
print("| system | peak RSS | peak RSS per series | RSS after ingest | ingest CPU per sample | load |")
print("|---|---|---|---|---|---|")
per = {}
for sys_, hwm, rss, cpu, load in rows:
    per[sys_] = int(hwm) * 1024 / series
    print(f"| {names.get(sys_, sys_)} | {int(hwm) / 1024:,.0f} MB | {per[sys_]:,.0f} B "
          f"| {int(rss) / 1024:,.0f} MB | {cpu} µs | {load} |")
if "hourglass" in per and "victoriametrics" in per:
    print(f"\npeak RSS per series, Hourglass ÷ VictoriaMetrics: {per['hourglass'] / per['victoriametrics']:.2f}×")
PY
