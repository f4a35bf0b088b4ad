#!/usr/bin/env bash
# Scraping side by side: Hourglass, Debian's Prometheus 2.42, vmagent and
# VictoriaMetrics single-node (Debian's victoria-metrics 1.79) scrape the
# same targets with the same scrape configuration, one system at a time.
# The targets are static exposition files (TARGETS × SERIES series, HELP and
# TYPE lines, gzip variants beside them) served by Debian's nginx on
# 127.0.0.1 ports with its own prefix and configuration; vmagent forwards
# to an nginx location that answers 204, so its figures are its own.
#
# Per system and run, over DURATION seconds after WARMUP seconds:
#   samples/s     stored (each system's own counter: Hourglass
#                 hourglass_head_samples_appended_total, Prometheus
#                 prometheus_tsdb_head_samples_appended_total, VictoriaMetrics
#                 vm_rows_added_to_storage_total; vmagent stores nothing:
#                 samples scraped, vm_promscrape_scraped_samples_sum)
#   cpu_s/Msample utime+stime from /proc/<pid>/stat over the window,
#                 per million samples
#   rss_mb        VmRSS at the end
#   up            targets whose health is "up" in /api/v1/targets, of TARGETS
#   p99_ms        Hourglass only: P99 of
#                 hourglass_scrape_collection_latency_seconds (scrape start →
#                 samples appended to the head, i.e. queryable) over the window
# and the median of RUNS runs, with the load average before each run.
#
#   benches/scrape_vs.sh            # 200 targets × 5,000 series at 1 s
#   benches/scrape_vs.sh --quick    # 20 × 1,000 at 1 s, short windows, 1 run
#   SYSTEMS="hourglass prometheus" RUNS=1 benches/scrape_vs.sh
#   GZIP=0 benches/scrape_vs.sh     # targets answer uncompressed
#   SYSTEMS=hourglass HOURGLASS_FLAGS=--no-events benches/scrape_vs.sh
#                                   # Hourglass without events, for their cost
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=${TARGETS:-200}
SERIES=${SERIES:-5000}
INTERVAL=${INTERVAL:-1s}
WARMUP=${WARMUP:-20}
DURATION=${DURATION:-60}
RUNS=${RUNS:-3}
GZIP=${GZIP:-1}
SYSTEMS=${SYSTEMS:-"hourglass prometheus vmagent victoria-metrics"}
BASE_PORT=${BASE_PORT:-19300}
SYS_PORT=${SYS_PORT:-19290}
SINK_PORT=${SINK_PORT:-19289}
if [ "${1:-}" = "--quick" ]; then
  TARGETS=${QUICK_TARGETS:-20}; SERIES=${QUICK_SERIES:-1000}
  WARMUP=5; DURATION=10; RUNS=1
fi

for tool in nginx prometheus vmagent victoria-metrics python3 curl; do
  command -v "$tool" >/dev/null || {
    echo "missing $tool: apt-get install -y nginx-light prometheus victoria-metrics python3 curl"
    exit 1
  }
done

if [ -z "${HOURGLASS_BIN:-}" ]; then
  cargo build --release --quiet --bin hourglass
  HOURGLASS_BIN="${CARGO_TARGET_DIR:-target}/release/hourglass"
fi
work=$(mktemp -d)
chmod 755 "$work"
pid=""; nginx_pid=""
stop_pid() {  # pid: TERM, then KILL after 20 s
  [ -n "$1" ] || return 0
  kill "$1" 2>/dev/null || return 0
  for _ in $(seq 200); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$1" 2>/dev/null || true
}
cleanup() {
  stop_pid "$pid"; stop_pid "$nginx_pid"
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== ${TARGETS} targets × ${SERIES} series at ${INTERVAL}, gzip=${GZIP}, ${RUNS} run(s) of ${DURATION} s after ${WARMUP} s"
python3 - "$work/targets" "$TARGETS" "$SERIES" "$BASE_PORT" "$GZIP" <<'PY'
import gzip, os, random, sys
root, targets, series, base, gz = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1"
per_family = 100
rng = random.Random(13)
for t in range(targets):
    lines = []
    for f in range((series + per_family - 1) // per_family):
        name = f"bench_requests_{f}_total"
        lines.append(f"# HELP {name} Requests handled by handler {f}.")
        lines.append(f"# TYPE {name} counter")
        for i in range(min(per_family, series - f * per_family)):
            v = rng.randrange(1, 10**9)
            lines.append(f'{name}{{handler="/api/v1/h{f}",method="{("GET","POST","PUT","DELETE")[i % 4]}",code="{200 + i % 5}",shard="{i}"}} {v}')
    body = ("\n".join(lines) + "\n").encode()
    d = os.path.join(root, str(base + t))
    os.makedirs(d)
    with open(os.path.join(d, "metrics"), "wb") as fh:
        fh.write(body)
    if gz:
        with open(os.path.join(d, "metrics.gz"), "wb") as fh:
            fh.write(gzip.compress(body, 6))
size = os.path.getsize(os.path.join(root, str(base), "metrics"))
print(f"   one target's page: {size:,} bytes")
PY

mkdir -p "$work/nginx/tmp"
{
  echo "worker_processes 1; daemon off; pid $work/nginx/nginx.pid;"
  [ "$(id -u)" = 0 ] && echo "user root;"
  echo "error_log $work/nginx/error.log warn;"
  echo "events { worker_connections 8192; }"
  echo "http {"
  echo "  access_log off; sendfile on; tcp_nodelay on;"
  echo "  keepalive_requests 1000000; keepalive_timeout 600s;"
  echo "  client_body_temp_path $work/nginx/tmp/body; proxy_temp_path $work/nginx/tmp/proxy;"
  echo "  fastcgi_temp_path $work/nginx/tmp/fcgi; uwsgi_temp_path $work/nginx/tmp/uwsgi; scgi_temp_path $work/nginx/tmp/scgi;"
  echo "  types { } default_type 'text/plain; version=0.0.4; charset=utf-8';"
  [ "$GZIP" = 1 ] && echo "  gzip_static on;"
  echo "  server {"
  for t in $(seq 0 $((TARGETS - 1))); do echo "    listen 127.0.0.1:$((BASE_PORT + t));"; done
  echo "    root $work/targets/\$server_port;"
  echo "    location = /metrics { }"
  echo "  }"
  echo "  server { listen 127.0.0.1:$SINK_PORT; client_max_body_size 0; location / { return 204; } }"
  echo "}"
} > "$work/nginx/nginx.conf"
nginx -p "$work/nginx" -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf" &
nginx_pid=$!

{
  echo "global:"
  echo "  scrape_interval: $INTERVAL"
  echo "  scrape_timeout: $INTERVAL"
  echo "scrape_configs:"
  echo "  - job_name: bench"
  echo "    static_configs:"
  echo "      - targets:"
  for t in $(seq 0 $((TARGETS - 1))); do echo "        - 127.0.0.1:$((BASE_PORT + t))"; done
} > "$work/scrape.yml"

wait_http() { for _ in $(seq 300); do curl -sf "$1" >/dev/null && return 0; sleep 0.2; done; echo "no answer from $1"; return 1; }
wait_http "http://127.0.0.1:$BASE_PORT/metrics"
curl -sf -H 'Accept-Encoding: gzip' -o /dev/null -w '   nginx: %{size_download} bytes per gzip fetch\n' \
  "http://127.0.0.1:$BASE_PORT/metrics"

cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
# A process and its children (nginx's workers).
tree_ticks() {
  local t; t=$(cpu_ticks "$1")
  for c in $(pgrep -P "$1"); do t=$((t + $(cpu_ticks "$c"))); done
  echo "$t"
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
# The sum of every sample of a family (any labels) on a /metrics page.
counter() {
  curl -sf "$1" | awk -v n="$2" '
    $1 == n || index($1, n "{") == 1 { s += $NF } END { printf "%.0f\n", s }'
}
# Targets whose last scrape succeeded: /api/v1/targets, else the `up` series.
up_count() {
  curl -sf "$1/api/v1/targets" 2>/dev/null | python3 -c '
import json, sys
t = json.load(sys.stdin)["data"]["activeTargets"]
print(sum(1 for x in t if x.get("health") == "up"))' 2>/dev/null && return 0
  curl -sf "$1/api/v1/query" --data-urlencode 'query=count(up{job="bench"} == 1)' | python3 -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else 0)'
}
# P99 (ms) of a histogram's increase between two /metrics pages.
p99_ms() {
  python3 - "$1" "$2" "$3" <<'PY'
import re, sys
name, before, after = sys.argv[1:]
def buckets(path):
    out = {}
    for line in open(path):
        m = re.match(re.escape(name) + r'_bucket\{le="([^"]+)"\} (\S+)', line)
        if m:
            out[float(m.group(1))] = float(m.group(2))
    return out
a, b = buckets(before), buckets(after)
if not b:
    print("-"); sys.exit()
les = sorted(b)
inc = [b[le] - a.get(le, 0.0) for le in les]
total = inc[-1]
if total <= 0:
    print("-"); sys.exit()
rank, prev_le, prev_n = 0.99 * total, 0.0, 0.0
for le, n in zip(les, inc):
    if n >= rank:
        if le == float("inf"):
            print(f">{prev_le * 1000:.0f}"); break
        frac = (rank - prev_n) / (n - prev_n) if n > prev_n else 1.0
        print(f"{(prev_le + (le - prev_le) * frac) * 1000:.1f}"); break
    prev_le, prev_n = le, n
PY
}

start_system() {  # name → sets pid, url, metric
  local dir="$work/data-$1"
  rm -rf "$dir"; mkdir -p "$dir"
  url="http://127.0.0.1:$SYS_PORT"
  case "$1" in
    hourglass)
      "$HOURGLASS_BIN" serve --listen "127.0.0.1:$SYS_PORT" --data-dir "$dir" \
        --scrape-config "$work/scrape.yml" ${HOURGLASS_FLAGS:-} >"$work/$1.log" 2>&1 &
      metric=hourglass_head_samples_appended_total ;;
    prometheus)
      prometheus --config.file="$work/scrape.yml" --storage.tsdb.path="$dir" \
        --web.listen-address="127.0.0.1:$SYS_PORT" >"$work/$1.log" 2>&1 &
      metric=prometheus_tsdb_head_samples_appended_total ;;
    vmagent)
      vmagent -promscrape.config="$work/scrape.yml" -httpListenAddr="127.0.0.1:$SYS_PORT" \
        -remoteWrite.url="http://127.0.0.1:$SINK_PORT/api/v1/write" \
        -remoteWrite.tmpDataPath="$dir" >"$work/$1.log" 2>&1 &
      metric=vm_promscrape_scraped_samples_sum ;;
    victoria-metrics)
      victoria-metrics -promscrape.config="$work/scrape.yml" -httpListenAddr="127.0.0.1:$SYS_PORT" \
        -storageDataPath="$dir" >"$work/$1.log" 2>&1 &
      metric=vm_rows_added_to_storage_total ;;
  esac
  pid=$!
  wait_http "$url/metrics"
}

results="$work/results.tsv"
: > "$results"
for run in $(seq "$RUNS"); do
  for sys in $SYSTEMS; do
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    start_system "$sys"
    sleep "$WARMUP"
    c0=$(counter "$url/metrics" "$metric"); t0=$(cpu_ticks "$pid"); n0=$(tree_ticks "$nginx_pid")
    curl -sf "$url/metrics" > "$work/before.prom"
    s0=$(date +%s.%N)
    sleep "$DURATION"
    c1=$(counter "$url/metrics" "$metric"); t1=$(cpu_ticks "$pid"); n1=$(tree_ticks "$nginx_pid")
    s1=$(date +%s.%N)
    curl -sf "$url/metrics" > "$work/after.prom"
    rss=$(rss_kb "$pid")
    up=$(up_count "$url" || echo "?")
    p99="-"
    [ "$sys" = hourglass ] && p99=$(p99_ms hourglass_scrape_collection_latency_seconds "$work/before.prom" "$work/after.prom")
    stop_pid "$pid"; wait "$pid" 2>/dev/null || true; pid=""
    rm -rf "$work/data-$sys"
    python3 - "$sys" "$run" "$c0" "$c1" "$t0" "$t1" "$n0" "$n1" "$s0" "$s1" "$rss" "$up" "$p99" "$load" >>"$results" <<'PY'
import sys
sys_, run, c0, c1, t0, t1, n0, n1, s0, s1, rss, up, p99, load = sys.argv[1:]
secs = float(s1) - float(s0)
samples = float(c1) - float(c0)
cpu = (float(t1) - float(t0)) / 100.0
nginx = (float(n1) - float(n0)) / 100.0
rate = samples / secs
per_m = cpu / (samples / 1e6) if samples > 0 else float("nan")
print(f"{sys_}\t{run}\t{rate:.0f}\t{per_m:.3f}\t{cpu / secs:.2f}\t{int(rss) / 1024:.0f}\t{up}\t{p99}\t{nginx / secs:.2f}\t{load}")
PY
    tail -1 "$results" | awk -F'\t' '{ printf "   %-17s run %s: %9.0f samples/s  %6.3f cpu_s/Msample  %4.2f cores  rss %5s MB  up %s  p99 %s ms  nginx %s cores  (load %s)\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 }'
  done
done

python3 - "$results" "$TARGETS" <<'PY'
import statistics, sys
path, targets = sys.argv[1], sys.argv[2]
rows = [l.rstrip("\n").split("\t") for l in open(path) if l.strip()]
systems = list(dict.fromkeys(r[0] for r in rows))
med = {}
print()
print(f"{'median of runs':18}{'samples/s':>12}{'cpu_s/Msample':>15}{'cores':>7}{'rss MB':>8}{'min up':>10}{'p99 ms':>8}")
for s in systems:
    rs = [r for r in rows if r[0] == s]
    m = lambda i: statistics.median(float(r[i]) for r in rs)
    med[s] = m(3)
    ups = str(min((int(float(r[6])) for r in rs if r[6].replace(".", "", 1).isdigit()), default="?"))
    p99s = [float(r[7]) for r in rs if r[7].replace(".", "", 1).isdigit()]
    p99 = f"{statistics.median(p99s):.1f}" if p99s else "-"
    print(f"{s:18}{m(2):>12,.0f}{m(3):>15.3f}{m(4):>7.2f}{m(5):>8,.0f}{ups + '/' + targets:>10}{p99:>8}")
if "hourglass" in med:
    for other in systems:
        if other != "hourglass" and med[other] > 0:
            print(f"Hourglass CPU per sample / {other}'s: {med['hourglass'] / med[other]:.2f}x")
PY
