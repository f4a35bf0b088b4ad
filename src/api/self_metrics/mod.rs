//! `/metrics`: the server's own figures in Prometheus text format 0.0.4.

mod events_metrics;
mod exposition;
mod rule_metrics;
mod scrape_metrics;

use crate::build_info;
use crate::server::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use exposition::Exposition;

/// Clock ticks per second, the unit of CPU times in `/proc/self/stat`;
/// 100 when the system will not say.
fn clock_ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        // SAFETY: sysconf takes an integer name and returns an integer; it
        // touches no memory of ours. Listed in storage/UNSAFE.md.
        #[allow(unsafe_code)]
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        if ticks > 0 { ticks as f64 } else { 100.0 }
    })
}

/// Resident memory, CPU seconds and open descriptors from `/proc`.
fn process_figures() -> (Option<f64>, Option<f64>, Option<f64>) {
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
                .map(|kb| kb * 1024.0)
        });
    // Fields after the parenthesised command name; utime and stime are the
    // 12th and 13th of them, in clock ticks.
    let cpu = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
            Some(ticks / clock_ticks_per_second())
        });
    let fds = std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|d| d.count() as f64);
    (rss, cpu, fds)
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let storage = state.storage();
    let mut out = Exposition(String::with_capacity(4096));

    out.family(
        "hourglass_build_info",
        "gauge",
        "Build of this server; always 1.",
    );
    out.sample(
        "hourglass_build_info",
        &[
            ("version", build_info::VERSION),
            ("revision", build_info::REVISION),
            ("rustc", build_info::RUSTC),
        ],
        1.0,
    );
    out.single(
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since the Unix epoch in seconds.",
        state.start_time_unix(),
    );
    let (rss, cpu, fds) = process_figures();
    if let Some(v) = rss {
        out.single(
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            v,
        );
    }
    if let Some(v) = cpu {
        out.single(
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
            v,
        );
    }
    if let Some(v) = fds {
        out.single(
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
            v,
        );
    }

    let head = storage.stats();
    out.single(
        "hourglass_head_series",
        "gauge",
        "Series in the head.",
        head.series as f64,
    );
    out.single(
        "hourglass_head_samples_appended_total",
        "counter",
        "Samples stored since start, WAL replay included.",
        head.appended as f64,
    );
    out.single(
        "hourglass_head_samples_duplicate_total",
        "counter",
        "Exact duplicate samples (a sender's retry) accepted without storing twice.",
        head.duplicates as f64,
    );
    out.family(
        "hourglass_head_samples_rejected_total",
        "counter",
        "Samples refused, by reason.",
    );
    for (reason, n) in head.rejected.reasons() {
        out.sample(
            "hourglass_head_samples_rejected_total",
            &[("reason", reason)],
            n as f64,
        );
    }
    if let Some(t) = head.max_t {
        out.single(
            "hourglass_head_max_time_seconds",
            "gauge",
            "Timestamp of the newest sample stored.",
            t as f64 / 1000.0,
        );
    }
    out.family(
        "hourglass_push_samples_total",
        "counter",
        "Samples from Pushgateway and REST pushes, by endpoint and result.",
    );
    for (path, result, n) in state.push().sample_counts() {
        let labels = [("path", path), ("result", result)];
        out.sample("hourglass_push_samples_total", &labels, n as f64);
    }
    out.single(
        "hourglass_remote_write_samples_total",
        "counter",
        "Samples stored from remote write (exact duplicates included).",
        state.collection().remote_write_samples() as f64,
    );
    out.family(
        "hourglass_push_requests_refused_total",
        "counter",
        "Push requests refused as a whole (bad path, body or media type).",
    );
    for (path, n) in state.push().refused_counts() {
        out.sample(
            "hourglass_push_requests_refused_total",
            &[("path", path)],
            n as f64,
        );
    }
    let replay = storage.replay_stats();
    out.single(
        "hourglass_wal_replayed_records",
        "gauge",
        "WAL records replayed into the head at startup.",
        replay.records as f64,
    );
    out.single(
        "hourglass_wal_replayed_samples",
        "gauge",
        "Samples replayed from the WAL into the head at startup.",
        replay.samples as f64,
    );
    out.single(
        "hourglass_metadata_families",
        "gauge",
        "Metric families with metadata from senders.",
        state.metadata().len() as f64,
    );

    let parts = storage.partitions();
    let part_bytes: u64 = parts
        .iter()
        .map(|p| crate::data_dir::dir_bytes(p.dir()))
        .sum();
    let part_samples: u64 = parts.iter().map(|p| p.meta().samples).sum();
    out.single(
        "hourglass_partitions",
        "gauge",
        "Sealed partitions open.",
        parts.len() as f64,
    );
    out.single(
        "hourglass_partition_bytes",
        "gauge",
        "Bytes of sealed partitions on disk.",
        part_bytes as f64,
    );
    out.single(
        "hourglass_partition_samples",
        "gauge",
        "Samples in sealed partitions.",
        part_samples as f64,
    );
    let p = state.persist();
    out.counters(&[
        (
            "hourglass_persist_runs_total",
            "Persist rounds run.",
            &p.runs,
        ),
        (
            "hourglass_persist_failures_total",
            "Persist rounds that failed.",
            &p.failures,
        ),
        (
            "hourglass_persist_partitions_written_total",
            "Partitions written by persist rounds.",
            &p.partitions_written,
        ),
    ]);
    out.family(
        "hourglass_retention_partitions_removed_total",
        "counter",
        "Partitions removed by retention, by reason.",
    );
    for (reason, v) in [("age", &p.removed_by_age), ("size", &p.removed_by_size)] {
        out.sample(
            "hourglass_retention_partitions_removed_total",
            &[("reason", reason)],
            v.load(std::sync::atomic::Ordering::Relaxed) as f64,
        );
    }

    let w = storage.wal_stats();
    out.single(
        "hourglass_wal_appends_total",
        "counter",
        "Records appended to the write-ahead log.",
        w.appends as f64,
    );
    out.single(
        "hourglass_wal_written_bytes_total",
        "counter",
        "Bytes written to WAL segments, framing included.",
        w.bytes as f64,
    );
    out.single(
        "hourglass_wal_fsyncs_total",
        "counter",
        "Successful fsyncs of WAL segments.",
        w.fsyncs as f64,
    );
    out.single(
        "hourglass_wal_fsync_seconds_total",
        "counter",
        "Time spent in WAL fsyncs.",
        w.fsync_seconds,
    );
    out.single(
        "hourglass_wal_segments",
        "gauge",
        "WAL segment files on disk.",
        w.segments as f64,
    );
    out.single(
        "hourglass_wal_next_lsn",
        "gauge",
        "Sequence number the next WAL record gets.",
        w.next_lsn.0 as f64,
    );
    out.single(
        "hourglass_wal_poisoned",
        "gauge",
        "1 when an earlier write or fsync failure stopped WAL appends.",
        if w.poisoned { 1.0 } else { 0.0 },
    );
    out.single(
        "hourglass_wal_refusing_writes",
        "gauge",
        "1 while the WAL refuses writes after a failure (it recovers by itself; /-/ready says why).",
        if storage.wal_fault().is_some() {
            1.0
        } else {
            0.0
        },
    );
    let report = storage.wal_recovery();
    out.single(
        "hourglass_wal_recovery_torn_bytes",
        "gauge",
        "Bytes of a torn WAL tail cut off at startup.",
        report
            .torn_tail
            .as_ref()
            .map_or(0.0, |t| t.bytes_cut as f64),
    );
    out.single(
        "hourglass_wal_recovery_corruptions",
        "gauge",
        "1 when startup found WAL corruption and set the rest aside.",
        if report.corruption.is_some() {
            1.0
        } else {
            0.0
        },
    );
    out.single(
        "hourglass_wal_recovery_damaged_stretches",
        "gauge",
        "Damaged stretches of WAL segments and checkpoint skipped at startup (copies kept as *.corrupt).",
        report.damage.len() as f64,
    );
    let replay = storage.replay_stats();
    out.single(
        "hourglass_wal_replay_records_set_aside",
        "gauge",
        "WAL records set aside at startup: lost to damage or undecodable.",
        replay.records_set_aside() as f64,
    );
    out.single(
        "hourglass_wal_replay_samples_set_aside",
        "gauge",
        "Samples set aside at startup because the record defining their series, or holding the sample they were coded against, was lost.",
        replay.samples_set_aside() as f64,
    );

    out.family(
        "hourglass_refusals_total",
        "counter",
        "Requests refused before storage, by kind (auth, rate_limit, limit) and reason.",
    );
    let refusals = state.refusals();
    for ((kind, reason), n) in &refusals {
        out.sample(
            "hourglass_refusals_total",
            &[("kind", kind), ("reason", reason)],
            *n as f64,
        );
    }

    let http = state.http().snapshot();
    out.family(
        "hourglass_http_requests_total",
        "counter",
        "HTTP requests answered, by handler and status code.",
    );
    for ((handler, code), (count, _)) in &http {
        let code = code.to_string();
        out.sample(
            "hourglass_http_requests_total",
            &[("handler", handler), ("code", &code)],
            *count as f64,
        );
    }
    latency_histograms(&mut out, &state);
    out.single(
        "hourglass_inflight_body_bytes",
        "gauge",
        "Bytes request bodies in flight hold (received, decompressed, decoded).",
        state.bodies().used_bytes() as f64,
    );
    out.single(
        "hourglass_inflight_body_limit_bytes",
        "gauge",
        "The budget request bodies in flight share (--max-inflight-body-mib).",
        state.bodies().limit_bytes() as f64,
    );
    scrape_metrics::write(&mut out, state.scrape());
    rule_metrics::write(&mut out, state.rules());
    collection_latency(&mut out);
    events_metrics::write(&mut out);

    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out.0,
    )
}

/// The latency histograms and the slow-query count.
fn latency_histograms(out: &mut Exposition, state: &AppState) {
    let observe = state.observe();
    let name = "hourglass_http_request_duration_seconds";
    out.family(
        name,
        "histogram",
        "Time to answer HTTP requests, by route pattern, method and status class.",
    );
    for ((handler, method, code), snap) in observe.latency.http_snapshot() {
        let labels = [
            ("handler", handler.as_str()),
            ("method", method),
            ("code", code),
        ];
        out.histogram(name, &labels, &snap);
    }
    let name = "hourglass_query_duration_seconds";
    out.family(
        name,
        "histogram",
        "Time of PromQL queries by kind (instant, range) and slice: queue_time, prepare_time (selecting series), inner_eval, result_sort, encode_time (the JSON response), total.",
    );
    for ((kind, slice), snap) in observe.latency.query_snapshot() {
        out.histogram(name, &[("kind", kind), ("slice", slice)], &snap);
    }
    let name = "hourglass_wal_fsync_duration_seconds";
    out.family(name, "histogram", "Time of fsyncs of WAL segments.");
    out.histogram(name, &[], &state.storage().wal_fsync_latency());
    let name = "hourglass_persist_duration_seconds";
    out.family(
        name,
        "histogram",
        "Time of persist rounds, failed ones included.",
    );
    out.histogram(name, &[], &observe.latency.persist_snapshot());
    out.single(
        "hourglass_slow_queries_total",
        "counter",
        "Queries that took at least --query-slow-log-threshold, each logged.",
        observe.slow_queries.count() as f64,
    );
}

/// `hourglass_scrape_collection_latency_seconds`: scrape start to samples
/// queryable.
fn collection_latency(out: &mut Exposition) {
    const NAME: &str = "hourglass_scrape_collection_latency_seconds";
    out.family(
        NAME,
        "histogram",
        "Time from a scrape's start until its samples are queryable (appended to the head).",
    );
    out.histogram(
        NAME,
        &[],
        &crate::scrape::latency::COLLECTION_LATENCY.snapshot(),
    );
}
