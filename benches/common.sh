# Shared set-up of the shell benches, sourced by them: the release binary,
# a work directory, their `settings`, the servers under test on loopback,
# and stopping them all and removing the directory at exit.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# SKIP_BUILD=1: use the release binary as it is (the build stamps the date, so
# it relinks every time).
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-target}/release/hourglass"
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

wait_http() { for _ in $(seq 100); do curl -sf "$1" >/dev/null && return 0; sleep 0.2; done; return 1; }

# start_hourglass PORT [FLAG…]: `hourglass serve` on $work/hg; sets hg_pid.
start_hourglass() {
  local port=$1; shift
  "$bin" serve --listen "127.0.0.1:$port" --data-dir "$work/hg" "$@" >"$work/hg.log" 2>&1 &
  hg_pid=$!
  pids+=("$hg_pid")
  wait_http "http://127.0.0.1:$port/-/ready"
}

# start_prometheus PORT [FLAG…]: Debian's Prometheus receiving remote
# write, TSDB in $work/prom; sets prom_pid.
start_prometheus() {
  local port=$1; shift
  printf 'global:\n  scrape_interval: 15s\n' > "$work/prom.yml"
  prometheus --config.file="$work/prom.yml" --storage.tsdb.path="$work/prom" \
    --web.listen-address="127.0.0.1:$port" --web.enable-remote-write-receiver "$@" \
    >"$work/prom.log" 2>&1 &
  prom_pid=$!
  pids+=("$prom_pid")
  wait_http "http://127.0.0.1:$port/-/ready"
}

# ingest PORT: the generated load (the array `gen`) remote-written to it.
ingest() { "$bin" bench ingest --url "http://127.0.0.1:$1/api/v1/write" "${gen[@]}"; }

# CPU seconds (user + system) of process PID so far.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }
# Resident and peak resident memory of process PID, kB.
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

# stream_span HOURS [SCRAPES]: the generated stream's span, 15 s scrapes
# (SCRAPES, else HOURS of them) from the hour HOURS + 1 before now's: sets
# scrapes and start_ms, and q_start and q_end (s), the last hour of data.
stream_span() {
  scrapes=${2:-$(( $1 * 240 ))}
  start_ms=$(( ($(date +%s) / 3600 - $1 - 1) * 3600 * 1000 ))
  q_end=$(( start_ms / 1000 + scrapes * 15 ))
  q_start=$(( q_end - 3600 ))
}

# The query suite over node-exporter-like series, asked of every system.
node_queries=(
  'sum(rate(node_cpu_seconds_total[5m]))'
  'sum by (instance) (rate(node_network_receive_bytes_total[5m]))'
  'topk(10, avg_over_time(node_load1[5m]))'
  'avg_over_time(node_memory_MemFree_bytes{instance=~"10.0.0.(1|2|3).*"}[5m])'
  'max_over_time(node_load5[1h])'
)

# settings NAME=DEFAULT…: each NAME keeps its value from the environment or
# takes DEFAULT; the effective settings go to stderr, so a run's log says
# what it measured.
settings() {
  local kv name
  for kv in "$@"; do
    name=${kv%%=*}
    [ -n "${!name:-}" ] || printf -v "$name" '%s' "${kv#*=}"
    printf '%s=%q ' "$name" "${!name}" >&2
  done
  echo >&2
}
