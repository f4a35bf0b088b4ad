#!/usr/bin/env bash
# Restart to ready after kill -9, A/B: one Hourglass takes the generated
# stream (`hourglass bench ingest`, scrape-aligned, HOURS of SERIES series
# ending an hour ago) and is killed with -9, so the whole stream is in its
# WAL; then each binary in BINS restarts on a fresh copy of that data dir,
# ROUNDS times, alternating, timed from launch to the first 200 on
# /-/ready (polled every 10 ms). Prints each run with the server's CPU
# seconds at ready and the load average; also the ingest CPU per sample. Loopback only; every server is
# stopped at the end.
#
# GRACEFUL=1: each binary first starts on its copy, is stopped with SIGTERM
# (writing its own stop checkpoint, in its own format), and the restart
# after that graceful stop is timed instead.
#
#   SKIP_BUILD=1 BINS="/tmp/hourglass-before target/release/hourglass" benches/kill9_restart.sh
#   SERIES=10000 HOURS=2 ROUNDS=5 KEEP=/tmp/killed benches/kill9_restart.sh
#   SKIP_BUILD=1 SERIES=100000 SCRAPES=20 GRACEFUL=1 BINS="/tmp/hourglass-before target/release/hourglass" benches/kill9_restart.sh
set -euo pipefail
source "$(dirname "$0")/common.sh"
settings SERIES=10000 HOURS=2 ROUNDS=3 CONCURRENCY=4 HG_PORT=19287
BINS=${BINS:-$bin}

GRACEFUL=${GRACEFUL:-0}
stream_span "$HOURS" "${SCRAPES:-}"
url="http://127.0.0.1:$HG_PORT"

HOURGLASS_NO_SELF_SCRAPE=true "$bin" serve --listen "127.0.0.1:$HG_PORT" --data-dir "$work/src" --retention 0 \
  >"$work/hg.log" 2>&1 &
pid=$!
pids+=("$pid")
wait_http "$url/-/ready"
# Ready, and this server's: a busy port would answer for another one.
kill -0 "$pid" 2>/dev/null || { echo "hourglass exited at start (port $HG_PORT busy?)" >&2; cat "$work/hg.log" >&2; exit 1; }
c0=$(cpu_s "$pid")
"$bin" bench ingest --url "$url/api/v1/write" --series "$SERIES" --scrapes "$scrapes" \
  --concurrency "$CONCURRENCY" --start-ms "$start_ms" >&2
c1=$(cpu_s "$pid")
samples=$(( (SERIES + 99) / 100 * 100 * scrapes ))
echo "ingest CPU: $(awk -v a="$c0" -v b="$c1" -v n="$samples" 'BEGIN {printf "%.3f", (b - a) * 1e6 / n}') µs/sample ($samples samples, load $(cut -d' ' -f1 /proc/loadavg))" >&2
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
echo "WAL after kill -9: $(du -sh "$work/src/wal" | cut -f1)" >&2

for round in $(seq "$ROUNDS"); do
  for b in $BINS; do
    rm -rf "$work/run"
    cp -r "$work/src" "$work/run"
    if [ "$GRACEFUL" = 1 ]; then
      HOURGLASS_NO_SELF_SCRAPE=true "$b" serve --listen "127.0.0.1:$HG_PORT" --data-dir "$work/run" --retention 0 \
        >"$work/run.log" 2>&1 &
      pid=$!
      pids+=("$pid")
      wait_http "$url/-/ready"
      kill -TERM "$pid"
      wait "$pid" 2>/dev/null || true
    fi
    sync
    t0=$(date +%s%N)
    HOURGLASS_NO_SELF_SCRAPE=true "$b" serve --listen "127.0.0.1:$HG_PORT" --data-dir "$work/run" --retention 0 \
      >"$work/run.log" 2>&1 &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 12000); do
      curl -sf -m 1 -o /dev/null "$url/-/ready" && break
      kill -0 "$pid" 2>/dev/null || { echo "$b exited at start" >&2; cat "$work/run.log" >&2; exit 1; }
      sleep 0.01
    done
    t1=$(date +%s%N)
    cpu=$(cpu_s "$pid")
    replayed=$(grep -o 'storage opened.*' "$work/run.log" | grep -o 'samples=[0-9]*' | cut -d= -f2 || true)
    printf 'round %s\t%s\trestart %.3f s\tcpu %s s\treplayed %s samples\tload %s\n' \
      "$round" "$b" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print (b - a) / 1e9}')" "$cpu" \
      "${replayed:-?}" "$(cut -d' ' -f1 /proc/loadavg)"
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
  done
done
# KEEP=DIR: keep the killed server's data dir there (for profiling).
[ -z "${KEEP:-}" ] || cp -r "$work/src" "$KEEP"
