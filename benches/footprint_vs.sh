#!/usr/bin/env bash
# What the data costs to keep: Debian's Prometheus 2.42, VictoriaMetrics
# and Hourglass, back to back on the same generated remote-write stream
# (`hourglass bench ingest`: node-exporter-like series, 15 s scrapes,
# written once per dataset to a file with `--write-stream` and sent to each
# system with `--replay`, so memory stays bounded at 24 h), per profile
# (PROFILES: `node-realistic`, mostly idle as real node exporters are;
# `node`, nearly every series moving by wide amounts) two datasets:
# scrape-aligned, then ±3 ms jitter with every series moving. Each system
# starts fresh, takes the stream, answers a query
# suite, is stopped gracefully (SIGTERM), measured on disk, then restarted
# (time to ready). Hourglass is also killed with -9 after ingest and timed
# back to ready with its head replayed from the WAL. Loopback only; every
# server is stopped at the end. Prints the table of issue #15 with ratios
# against VictoriaMetrics.
#
# SERIES may be a list (one table each, memory per series side by side);
# SCRAPES overrides HOURS * 240; KILL9=0 skips the kill -9 restart.
# Hourglass serves with `--compact-days-after HG_COMPACT_AFTER` (default
# 1h: its background compactor merges the hours of each day that ended
# that long before the newest sample into a day partition, as the offline
# command would; HG_FLAGS may set it otherwise). After its graceful stop,
# `hourglass compact` runs offline on the stopped directory with the same
# setting and the directory is measured again; COMPACT=0 skips it.
#
#   SERIES=10000 HOURS=24 benches/footprint_vs.sh
#   SERIES=10000 HOURS=24 PROFILES=node-realistic SYSTEMS=victoriametrics KILL9=0 benches/footprint_vs.sh
#   SERIES=1000 HOURS=3 DATASETS=aligned HG_FLAGS="--persist-interval 5s" benches/footprint_vs.sh
#   SERIES="10000 100000" HOURS=1 DATASETS=aligned KILL9=0 benches/footprint_vs.sh
#   SERIES=1000000 SCRAPES=3 DATASETS=aligned KILL9=0 benches/footprint_vs.sh
set -euo pipefail
SERIES=${SERIES:-10000}
HOURS=${HOURS:-24}
KILL9=${KILL9:-1}
CONCURRENCY=${CONCURRENCY:-4}
DATASETS=${DATASETS:-"aligned jittered"}
PROFILES=${PROFILES:-"node-realistic node"}
SYSTEMS=${SYSTEMS:-"prometheus victoriametrics hourglass"}
HG_FLAGS=${HG_FLAGS:-}
COMPACT=${COMPACT:-1}
HG_COMPACT_AFTER=${HG_COMPACT_AFTER:-1h}
HG_PORT=${HG_PORT:-19221}
PROM_PORT=${PROM_PORT:-19092}
VM_PORT=${VM_PORT:-19428}
source "$(dirname "$0")/common.sh"

stream_span "$HOURS" "${SCRAPES:-}"
tsv="$work/results.tsv"
: > "$tsv"

now_ns() { date +%s%N; }
# Each figure also goes to stderr as it is measured, so a run cut short keeps them.
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$n" "$1" "$2" "$3" "$4" | tee -a "$tsv" >&2; }

# launch SYSTEM DIR: starts the system on its data dir; sets pid, url, ready.
launch() {
  case $1 in
    prometheus)
      printf 'global:\n  scrape_interval: 15s\n' > "$work/prom.yml"
      prometheus --config.file="$work/prom.yml" --storage.tsdb.path="$2" \
        --storage.tsdb.retention.time=10y \
        --web.listen-address="127.0.0.1:$PROM_PORT" --web.enable-remote-write-receiver \
        >>"$work/prom.log" 2>&1 &
      url="http://127.0.0.1:$PROM_PORT"; ready="$url/-/ready" ;;
    victoriametrics)
      victoria-metrics -storageDataPath="$2" -retentionPeriod=10y \
        -httpListenAddr="127.0.0.1:$VM_PORT" >>"$work/vm.log" 2>&1 &
      url="http://127.0.0.1:$VM_PORT"; ready="$url/health" ;;
    hourglass)
      # No self-scrape: like the other two, it stores only the stream (its
      # samples at "now" would make every generated hour ready at once).
      # shellcheck disable=SC2086
      local days=(--compact-days-after "$HG_COMPACT_AFTER")
      [[ "$HG_FLAGS" == *--compact-days-after* ]] && days=()
      HOURGLASS_NO_SELF_SCRAPE=true "$bin" serve --listen "127.0.0.1:$HG_PORT" --data-dir "$2" --retention 0 "${days[@]}" $HG_FLAGS \
        >>"$work/hg.log" 2>&1 &
      url="http://127.0.0.1:$HG_PORT"; ready="$url/-/ready" ;;
  esac
  pid=$!
  pids+=("$pid")
}

# Seconds from launch to the first 200 on the readiness URL, polled every 10 ms.
launch_timed() {
  local t0; t0=$(now_ns)
  launch "$@"
  for _ in $(seq 12000); do
    curl -sf -m 1 -o /dev/null "$ready" && break
    kill -0 "$pid" 2>/dev/null || { echo "$1 exited at start" >&2; return 1; }
    sleep 0.01
  done
  ready_s=$(awk -v a="$t0" -v b="$(now_ns)" 'BEGIN {printf "%.3f", (b - a) / 1e9}')
}

stop() { kill -"${2:-TERM}" "$1"; wait "$1" 2>/dev/null || true; }

queries=("${node_queries[@]}")
# The query suite: each query's median of 3 runs over the last hour at a
# 15 s step, summed, in ms. `nocache=1` (ignored by the others): without
# it VictoriaMetrics answers the repeated runs from its response cache
# (the data is older than its 5 min cache offset) instead of evaluating.
# Each query's median is recorded too (query_ms_QI, in the order of
# `node_queries`): SYS and DS name the run.
query_suite_ms() {
  local total=0 qi ms
  for qi in "${!queries[@]}"; do
    ms=$(for _ in 1 2 3; do
      curl -s -o /dev/null -w '%{time_total}\n' --data-urlencode "query=${queries[$qi]}" \
        --data "start=$q_start&end=$q_end&step=15&nocache=1" "$url/api/v1/query_range"
    done | sort -n | sed -n 2p)
    record "$1" "$2" "query_ms_$qi" "$(awk -v b="$ms" 'BEGIN {printf "%.1f", b * 1000}')"
    total=$(awk -v a="$total" -v b="$ms" 'BEGIN {print a + b * 1000}')
  done
  printf '%.1f' "$total"
}

# save_answers PREFIX: each query's answer in PREFIX-QI.json, on the grid a
# second later (Prometheus 2.42's windows include their start, ours and
# VictoriaMetrics' do not; on the scrape grid every window starts on a
# sample), compared with Prometheus's at the end.
save_answers() {
  local qi
  for qi in "${!queries[@]}"; do
    curl -s -o "$1-$qi.json" --data-urlencode "query=${queries[$qi]}" \
      --data "start=$(( q_start + 1 ))&end=$(( q_end + 1 ))&step=15&nocache=1" "$url/api/v1/query_range"
  done
}

# WAL part of a data dir (Prometheus: wal/ and chunks_head/; VictoriaMetrics has none).
wal_bytes() {
  case $1 in
    prometheus) du -sbc "$2/wal" "$2/chunks_head" 2>/dev/null | tail -1 | cut -f1 ;;
    victoriametrics) echo 0 ;;
    hourglass) du -sb "$2/wal" | cut -f1 ;;
  esac
}

for n in $SERIES; do
samples=$(( (n + 99) / 100 * 100 * scrapes ))
for profile in $PROFILES; do
for dsname in $DATASETS; do
  ds="$profile $dsname"
  gen=(--series "$n" --scrapes "$scrapes" --concurrency "$CONCURRENCY" --start-ms "$start_ms" --profile "$profile")
  [ "$dsname" = jittered ] && gen+=(--jitter-ms 3 --all-moving)
  stream="$work/stream"
  echo "== writing the stream, $ds" >&2
  /usr/bin/time -f 'generator: %e s wall, %U s user, %S s system, %M kB peak RSS' \
    "$bin" bench ingest --write-stream "$stream" "${gen[@]}" >&2
  for sys in $SYSTEMS; do
    dir="$work/$sys-${profile}-$dsname"
    echo "== $sys, $ds: $samples samples" >&2
    launch_timed "$sys" "$dir"
    c0=$(cpu_s "$pid")
    out=$("$bin" bench ingest --url "$url/api/v1/write" --replay "$stream")
    echo "$out" >&2
    c1=$(cpu_s "$pid")
    record "$sys" "$ds" ingest_cpu_us_per_sample "$(awk -v a="$c0" -v b="$c1" -v n="$samples" 'BEGIN {printf "%.3f", (b - a) * 1e6 / n}')"
    # VictoriaMetrics makes fresh rows searchable after about a second.
    sleep 2
    c0=$(cpu_s "$pid")
    record "$sys" "$ds" query_suite_ms "$(query_suite_ms "$sys" "$ds")"
    # The server's CPU for one run of the suite (it ran three times): on a
    # busy machine a steadier figure than the wall-clock medians.
    record "$sys" "$ds" query_suite_cpu_ms "$(awk -v a="$c0" -v b="$(cpu_s "$pid")" 'BEGIN {printf "%.1f", (b - a) * 1000 / 3}')"
    save_answers "$work/answer-$n-$profile-$dsname-$sys"
    record "$sys" "$ds" rss_mb "$(( $(rss_kb "$pid") / 1024 ))"
    record "$sys" "$ds" peak_rss_mb "$(( $(hwm_kb "$pid") / 1024 ))"
    record "$sys" "$ds" peak_rss_b_per_series "$(( $(hwm_kb "$pid") * 1024 / n ))"
    t_stop=$(now_ns)
    stop "$pid"
    record "$sys" "$ds" stop_s "$(awk -v a="$t_stop" -v b="$(now_ns)" 'BEGIN {printf "%.3f", (b - a) / 1e9}')"
    total=$(du -sb "$dir" | cut -f1)
    wal=$(wal_bytes "$sys" "$dir")
    if [ "$sys" = hourglass ]; then
      echo "-- hourglass inspect after the graceful stop, $ds:" >&2
      "$bin" inspect --bytes --data-dir "$dir" >&2 || true
    fi
    record "$sys" "$ds" bytes_per_sample "$(awk -v a="$total" -v n="$samples" 'BEGIN {printf "%.3f", a / n}')"
    record "$sys" "$ds" wal_bytes_per_sample "$(awk -v a="$wal" -v n="$samples" 'BEGIN {printf "%.3f", a / n}')"
    if [ "$sys" = hourglass ] && [ "$COMPACT" = 1 ]; then
      "$bin" compact --data-dir "$dir" --compact-days-after "$HG_COMPACT_AFTER" >>"$work/hg.log" 2>&1
      total=$(du -sb "$dir" | cut -f1)
      record "$sys" "$ds" compacted_bytes_per_sample "$(awk -v a="$total" -v n="$samples" 'BEGIN {printf "%.3f", a / n}')"
      echo "-- hourglass inspect after the offline compaction, $ds:" >&2
      "$bin" inspect --bytes --data-dir "$dir" >&2 || true
    fi
    launch_timed "$sys" "$dir"
    record "$sys" "$ds" restart_s "$ready_s"
    record "$sys" "$ds" restart_cpu_s "$(cpu_s "$pid")"
    record "$sys" "$ds" restart_load "$(cut -d' ' -f1 /proc/loadavg)"
    stop "$pid"
    if [ "$sys" = hourglass ] && [ "$dsname" = aligned ] && [ "$KILL9" = 1 ]; then
      # The same ingest, then kill -9: the head comes back from the WAL.
      rm -rf "$dir"
      launch_timed "$sys" "$dir"
      "$bin" bench ingest --url "$url/api/v1/write" --replay "$stream" >/dev/null
      stop "$pid" KILL
      wal=$(wal_bytes "$sys" "$dir")
      record "$sys" "$ds" kill9_wal_mb "$(( wal >> 20 ))"
      launch_timed "$sys" "$dir"
      record "$sys" "$ds" kill9_restart_s "$ready_s"
      replayed=$(grep -o 'storage opened.*' "$work/hg.log" | tail -1 | grep -o 'samples=[0-9]*' | cut -d= -f2)
      record "$sys" "$ds" kill9_replayed_samples "${replayed:-?}"
      stop "$pid"
    fi
    rm -rf "$dir"
  done
  rm -f "$stream"
done
done
done

# Warnings and errors of the Hourglass runs (a failed persist shows here).
grep -E ' (WARN|ERROR) ' "$work/hg.log" 2>/dev/null | head -20 >&2 || true

python3 - "$tsv" "$HOURS" "$scrapes" "$work" "${#queries[@]}" <<'PY'
import os, sys
from collections import defaultdict
sys.path.insert(0, "benches")
from answers_same import points, same
path, hours, scrapes, work, nq = sys.argv[1:]
r = defaultdict(dict)
datasets = []
for line in open(path):
    n, sys_, ds, key, val = line.rstrip("\n").split("\t")
    r[(int(n), sys_, ds)][key] = val
    if ds not in datasets:
        datasets.append(ds)
names = [("prometheus", "Prometheus 2.42"), ("victoriametrics", "VictoriaMetrics"), ("hourglass", "Hourglass")]
rows = [
    ("whole data dir after graceful stop, bytes/sample", "bytes_per_sample"),
    ("  of which WAL, bytes/sample", "wal_bytes_per_sample"),
    ("whole data dir after offline `hourglass compact`, bytes/sample", "compacted_bytes_per_sample"),
    ("RSS after ingest and queries, MB", "rss_mb"),
    ("peak RSS, MB", "peak_rss_mb"),
    ("peak RSS per series, bytes", "peak_rss_b_per_series"),
    ("graceful stop (SIGTERM to exit), s", "stop_s"),
    ("restart to ready after a graceful stop, s", "restart_s"),
    ("  CPU seconds at ready (user + system)", "restart_cpu_s"),
    ("  load average at that restart", "restart_load"),
    ("ingest CPU per sample, µs", "ingest_cpu_us_per_sample"),
    ("query suite, ms (sum of medians)", "query_suite_ms"),
    ("query suite, server CPU ms per run", "query_suite_cpu_ms"),
] + [(f"  query {qi + 1} (`node_queries` in common.sh), ms", f"query_ms_{qi}") for qi in range(int(nq))]
for n in sorted({k[0] for k in r}):
    samples = (n + 99) // 100 * 100 * int(scrapes)
    print(f"\n{n} series × {int(scrapes) / 240:g} h = {samples:,} samples per dataset\n")
    for ds in datasets:
        if not any((n, s, ds) in r for s, _ in names):
            continue
        print(f"| {ds} | " + " | ".join(m for _, m in names) + " | Hourglass ÷ VictoriaMetrics |")
        print("|---" * (len(names) + 2) + "|")
        for label, key in rows:
            vals = [r[(n, s, ds)].get(key, "—") for s, _ in names]
            try:
                if key == "restart_load":
                    raise ValueError("no ratio of loads")
                ratio = f"{float(vals[2]) / float(vals[1]):.2f}×"
            except (ValueError, ZeroDivisionError):
                ratio = "—"
            print(f"| {label} | " + " | ".join(vals) + f" | {ratio} |")
        def answer(sys_, qi):
            return f"{work}/answer-{n}-{ds.replace(' ', '-')}-{sys_}-{qi}.json"
        for col, (other, other_name) in enumerate(names[1:], start=1):
            if not os.path.exists(answer(other, 0)) or not os.path.exists(answer("prometheus", 0)):
                continue
            verdicts = []
            for qi in range(int(nq)):
                try:
                    verdicts.append(same(points(answer(other, qi)), points(answer("prometheus", qi))))
                except Exception as e:  # a failed answer
                    verdicts.append(f"unreadable: {e}")
            ok = sum(v == "same" for v in verdicts)
            # The first difference only, shortened: a table cell.
            detail = next((f"(q{qi}: {v[:60]})" for qi, v in enumerate(verdicts) if v != "same"), "")
            cells = ["", "", ""]
            cells[col] = f"{ok}/{nq} same {detail}".strip()
            print(f"| answers vs Prometheus's ({nq} queries, grid + 1 s) | " + " | ".join(cells) + " | |")
        hg = r[(n, "hourglass", ds)]
        if "kill9_restart_s" in hg:
            print(f"| Hourglass after kill -9: restart to ready, s | | | {hg['kill9_restart_s']} "
                  f"({hg.get('kill9_replayed_samples', '?')} samples replayed, WAL {hg.get('kill9_wal_mb', '?')} MiB) | |")
        print()
PY
