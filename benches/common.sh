# Shared set-up of the shell benches, sourced by them after their
# settings: the release binary, a work directory, the servers under test
# on loopback, and stopping them all and removing the directory at exit.
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
