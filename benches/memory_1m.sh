#!/usr/bin/env bash
# Peak resident memory (VmHWM) per active series, Hourglass against
# Debian's Prometheus 2.42, after the same remote-write load creates
# SERIES series (default 1M) with SCRAPES samples each. Loopback only; both
# servers are stopped at the end.
#
#   SERIES=1000000 SCRAPES=3 benches/memory_1m.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SERIES=${SERIES:-1000000}
SCRAPES=${SCRAPES:-3}
HG_PORT=${HG_PORT:-19211}
PROM_PORT=${PROM_PORT:-19091}

cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-target}/release/hourglass"
work=$(mktemp -d)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
gen=(--series "$SERIES" --scrapes "$SCRAPES")
wait_http() { for _ in $(seq 100); do curl -sf "$1" >/dev/null && return 0; sleep 0.2; done; return 1; }
hwm_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

"$bin" serve --listen "127.0.0.1:$HG_PORT" --data-dir "$work/hg" >"$work/hg.log" 2>&1 &
pid=$!
wait_http "http://127.0.0.1:$HG_PORT/-/ready"
hg_out=$("$bin" bench ingest --url "http://127.0.0.1:$HG_PORT/api/v1/write" "${gen[@]}")
hg_kb=$(hwm_kb $pid)
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""

printf 'global:\n  scrape_interval: 15s\n' > "$work/prom.yml"
prometheus --config.file="$work/prom.yml" --storage.tsdb.path="$work/prom" \
  --web.listen-address="127.0.0.1:$PROM_PORT" --web.enable-remote-write-receiver \
  >"$work/prom.log" 2>&1 &
pid=$!
wait_http "http://127.0.0.1:$PROM_PORT/-/ready"
prom_out=$("$bin" bench ingest --url "http://127.0.0.1:$PROM_PORT/api/v1/write" "${gen[@]}")
prom_kb=$(hwm_kb $pid)

echo "Hourglass:  $hg_out"
echo "Prometheus: $prom_out"
python3 - "$hg_kb" "$prom_kb" "$SERIES" <<'PY'
import sys
hg, prom, series = (int(x) for x in sys.argv[1:])
a, b = hg * 1024 / series, prom * 1024 / series
print(f"peak RSS: Hourglass {hg / 1024:,.0f} MB = {a:,.0f} B/series; "
      f"Prometheus {prom / 1024:,.0f} MB = {b:,.0f} B/series; ratio {a / b:.2f}x")
PY
