#!/usr/bin/env bash
# Peak resident memory (VmHWM) per active series, Hourglass against
# Debian's Prometheus 2.42, after the same remote-write load creates
# SERIES series (default 1M) with SCRAPES samples each. Loopback only; both
# servers are stopped at the end.
#
#   SERIES=1000000 SCRAPES=3 benches/memory_1m.sh
set -euo pipefail
SERIES=${SERIES:-1000000}
SCRAPES=${SCRAPES:-3}
HG_PORT=${HG_PORT:-19211}
PROM_PORT=${PROM_PORT:-19091}
gen=(--series "$SERIES" --scrapes "$SCRAPES")
source "$(dirname "$0")/common.sh"
hwm_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

# One server at a time: each has the machine to itself.
start_hourglass "$HG_PORT"
hg_out=$(ingest "$HG_PORT")
hg_kb=$(hwm_kb "$hg_pid")
kill "$hg_pid"; wait "$hg_pid" 2>/dev/null || true

start_prometheus "$PROM_PORT"
prom_out=$(ingest "$PROM_PORT")
prom_kb=$(hwm_kb "$prom_pid")

echo "Hourglass:  $hg_out"
echo "Prometheus: $prom_out"
python3 - "$hg_kb" "$prom_kb" "$SERIES" <<'PY'
import sys
hg, prom, series = (int(x) for x in sys.argv[1:])
a, b = hg * 1024 / series, prom * 1024 / series
print(f"peak RSS: Hourglass {hg / 1024:,.0f} MB = {a:,.0f} B/series; "
      f"Prometheus {prom / 1024:,.0f} MB = {b:,.0f} B/series; ratio {a / b:.2f}x")
PY
