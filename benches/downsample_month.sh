#!/usr/bin/env bash
# Downsampling a month (issue #14): SERIES node-exporter-like series × DAYS
# days at 15 s (the model of storage/benches/compact.rs), written straight
# into day partitions (`month_of_days`, as compaction leaves them; ingesting
# 1.7 billion samples through remote write does not fit a run of minutes),
# then a `[[downsample]] {job="node"} after 7d → 5m` tier applied by the
# offline `hourglass compact` to the stopped directory, a hard-linked copy
# of the raw partitions kept beside it. Prints the bytes of the downsampled
# range (the days older than 7 days) and of the whole directory before and
# after, the compaction's CPU time, then serves both directories and
# compares their PromQL answers over the range (benches/downsample_compare.py).
# Loopback only; both servers stop and the directory goes at the end.
#
#   benches/downsample_month.sh                       # 10,000 series × 30 days, idle and busy
#   SERIES=1000 DAYS=9 PROFILES=busy benches/downsample_month.sh
#
# PROFILES: `idle` (scrape-aligned, 70 % of the series constant) and/or
# `busy` (±3 ms jitter, every series moving). SKIP_BUILD=1 uses the built
# binaries as they are (GEN: another build of the generator).
set -euo pipefail
SERIES=${SERIES:-10000}
DAYS=${DAYS:-30}
PROFILES=${PROFILES:-"idle busy"}
RAW_PORT=${RAW_PORT:-19481}
DS_PORT=${DS_PORT:-19482}
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet -p hourglass-storage --example month_of_days
gen=${GEN:-"${CARGO_TARGET_DIR:-target}/release/examples/month_of_days"}
source benches/common.sh

# serve DIR PORT: `hourglass serve` on DIR keeping everything, no rules.
serve() {
  "$bin" serve --listen "127.0.0.1:$2" --data-dir "$1" --retention 0 --query-timeout 15m >"$1.log" 2>&1 &
  pids+=("$!")
  for _ in $(seq 600); do curl -sf "http://127.0.0.1:$2/-/ready" >/dev/null && return 0; sleep 0.5; done
  echo "server on $1 not ready: $(tail -3 "$1.log")"; return 1
}

# rss WHEN: resident memory of both servers (pids[0] raw, pids[1] downsampled).
rss() {
  for i in 0 1; do
    echo "server on the $([ "$i" = 0 ] && echo raw || echo downsampled) copy, $1: $(grep -E '^Vm(RSS|HWM)' "/proc/${pids[$i]}/status" | tr -s ' \t\n' ' ')"
  done
}

# range_bytes DIR: bytes of the partitions of the DAYS − 7 oldest days, then
# of the whole directory.
range_bytes() {
  python3 - "$1" "$((DAYS - 7))" <<'PY'
import os, sys
parts = os.path.join(sys.argv[1], "parts")
days = {}
for d in os.listdir(parts):
    p = os.path.join(parts, d)
    if os.path.isdir(p) and not d.startswith("."):
        days[d[:10]] = days.get(d[:10], 0) + sum(os.path.getsize(os.path.join(p, f)) for f in os.listdir(p))
old = sorted(days)[: int(sys.argv[2])]
total = 0
for root, _, files in os.walk(sys.argv[1]):
    total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
print(sum(days[d] for d in old), total)
PY
}

printf '[[downsample]]\nmatch = %s\nafter = "7d"\nresolution = "5m"\n' "'{job=\"node\"}'" > "$work/ds.toml"
for profile in $PROFILES; do
  echo "== $SERIES series x $DAYS days, $profile (load: $(cut -d' ' -f1-3 /proc/loadavg))"
  rm -rf "$work/ds" "$work/raw"
  "$gen" "$work/ds" "$SERIES" "$DAYS" "$profile" 2>"$work/gen.log"
  read -r range_before dir_before < <(range_bytes "$work/ds")
  mkdir -p "$work/raw" && cp -al "$work/ds/parts" "$work/raw/parts"
  t0=$(date +%s.%N)
  /usr/bin/time -o "$work/time.txt" -f '%U %S %M' "$bin" compact --data-dir "$work/ds" --config "$work/ds.toml" \
  --compact-days-after 0 >"$work/compact.log" 2>&1
t1=$(date +%s.%N)
  tail -3 "$work/compact.log"
  read -r range_after dir_after < <(range_bytes "$work/ds")
  read -r user sys rss_kb < "$work/time.txt"
  python3 - "$range_before" "$range_after" "$dir_before" "$dir_after" "$user" "$sys" "$rss_kb" "$t0" "$t1" "$SERIES" "$DAYS" <<'PY'
import sys
rb, ra, db, da = map(int, sys.argv[1:5])
user, sys_, rss = float(sys.argv[5]), float(sys.argv[6]), int(sys.argv[7])
wall = float(sys.argv[9]) - float(sys.argv[8])
n, days = int(sys.argv[10]), int(sys.argv[11])
samples = n * (days - 7) * 5760
print(f"downsampled range ({days - 7} days, {samples} samples): {rb} -> {ra} bytes, {rb / max(ra, 1):.2f}x fewer "
      f"({rb / samples:.3f} -> {ra / samples:.4f} B/raw sample)")
print(f"whole directory ({days} days): {db} -> {da} bytes, {db / max(da, 1):.2f}x fewer")
print(f"hourglass compact: {user + sys_:.1f} CPU s ({samples / max(user + sys_, 1e-9) / 1e6:.1f}M raw samples "
      f"downsampled per CPU-second), {wall:.1f} s wall, peak RSS {rss / 1024:.0f} MiB")
PY
  serve "$work/raw" "$RAW_PORT"
  serve "$work/ds" "$DS_PORT"
  rss "open"
  end_s=$(( ($(date +%s) / 86400 - 7) * 86400 ))
  python3 benches/downsample_compare.py "http://127.0.0.1:$RAW_PORT" "http://127.0.0.1:$DS_PORT" \
    "$(( end_s - (DAYS - 7) * 86400 ))" "$end_s" || echo "downsample_compare: FAILED"
  rss "after the queries"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
done
