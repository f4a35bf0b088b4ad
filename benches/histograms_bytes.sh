#!/usr/bin/env bash
# Bytes per native histogram sample, Hourglass against Debian's Prometheus
# 2.42 (`--enable-feature=native-histograms`) on the same data: SERIES
# 20-bucket latency histograms × HOURS at 15 s of each shape in SHAPES
# (benches/histograms_data.py: `realistic:RATE` a service at RATE
# requests/s, Poisson counts and measured sums; `adversarial:0` every
# bucket moving every scrape). Hourglass gets them through `hourglass
# import` (hour partitions), Prometheus through remote write
# (benches/histograms_rw.py, in time order). Counted on both sides: the
# bytes of the chunk files of persisted data (Hourglass: every partition's
# `chunks`; Prometheus: its blocks' `chunks/`, once compaction settles)
# over the samples they hold (partition / block meta.json). Indexes are
# left out on both sides.
#
#   SKIP_BUILD=1 SERIES=20 HOURS=24 benches/histograms_bytes.sh
set -euo pipefail
source "$(dirname "$0")/common.sh"
settings SERIES=20 HOURS=24 'SHAPES=realistic:0.01 realistic:0.1 realistic:1 adversarial:0' PROM_PORT=19092

points=$(( HOURS * 240 ))
start_ms=$(( ($(date +%s) / 3600 - 2 - HOURS) * 3600 * 1000 ))
# chunk_bytes DIR GLOB: total size of the files matching GLOB under DIR.
chunk_bytes() { find "$1" -path "$2" -type f -printf '%s\n' | awk '{s+=$1} END{print s+0}'; }
# meta_samples DIR KEY: the sum of KEY over DIR's */meta.json.
meta_samples() {
  python3 - "$1" "$2" <<'EOF'
import glob, json, sys
total = 0
for m in glob.glob(sys.argv[1] + "/*/meta.json"):
    d = json.load(open(m))
    total += d["stats"]["numSamples"] if sys.argv[2] == "prom" else d["samples"]
print(total)
EOF
}
rows=()
for spec in $SHAPES; do
  shape=${spec%%:*}; rate=${spec#*:}
  rm -rf "$work/hg" "$work/prom" "$work/native.jsonl"
  NATIVE_ONLY=1 python3 benches/histograms_gen.py "$work" "$SERIES" "$points" "$start_ms" "$shape" "$rate"
  "$bin" import --data-dir "$work/hg" "$work/native.jsonl" >/dev/null 2>&1
  hg_b=$(chunk_bytes "$work/hg/parts" '*/chunks')
  hg_n=$(meta_samples "$work/hg/parts" hg)

  start_prometheus "$PROM_PORT" --enable-feature=native-histograms
  python3 benches/histograms_rw.py "http://127.0.0.1:$PROM_PORT/api/v1/write" \
    "$SERIES" "$points" "$start_ms" "$shape" "$rate"
  # Head blocks are cut while the data arrives; wait until the block set
  # stops changing (compaction settled), at most 3 minutes.
  last=""; same=0
  for _ in $(seq 90); do
    now=$(ls "$work/prom" | grep -c '^01' || true)
    [ "$now" = "$last" ] && same=$((same + 1)) || same=0
    last=$now
    [ "$same" -ge 5 ] && [ "$now" -gt 0 ] && break
    sleep 2
  done
  pr_b=$(chunk_bytes "$work/prom" '*/01*/chunks/*')
  pr_n=$(meta_samples "$work/prom" prom)
  kill "$prom_pid"; wait "$prom_pid" 2>/dev/null || true
  rows+=("$(awk -v s="$spec" -v hb="$hg_b" -v hn="$hg_n" -v pb="$pr_b" -v pn="$pr_n" \
    'BEGIN{printf "%-20s %12d %10d %8.2f %12d %10d %8.2f", s, hb, hn, hb/hn, pb, pn, (pn>0?pb/pn:0)}')")
done
echo "$SERIES histograms x $points scrapes at 15 s; load: $(uptime | sed 's/.*load average: //')"
printf '%-20s %12s %10s %8s %12s %10s %8s\n' shape "HG bytes" samples "B/smp" "Prom bytes" samples "B/smp"
printf '%s\n' "${rows[@]}"
