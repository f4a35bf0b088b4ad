//! `hourglass serve`: open the data directory, then answer HTTP until
//! SIGINT or SIGTERM.

use crate::config::Config;
use crate::data_dir::DataDir;
use crate::scrape::ScrapeManager;
use crate::server::{self, AppState};
use anyhow::Context;
use clap::builder::BoolishValueParser;
use hourglass_query::{Engine, EngineOptions};
use hourglass_storage::HeadOptions;
use hourglass_storage::compact::CompactOptions;
use hourglass_storage::{LabelLimits, Options as StorageOptions, SeriesLimits, Storage};
use hourglass_wal::{Options as WalOptions, SyncPolicy};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

mod flag_list;
mod flag_values;
mod persister;
mod shutdown;
pub use flag_list::record as record_flags;
use flag_values::{
    humanize, millis, parse_duration, parse_positive_duration, parse_size, parse_sync_policy,
};
use persister::persist_loop;
use shutdown::shutdown_signal;

/// Flags of `hourglass serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Configuration file (TOML): credentials and request limits.
    #[arg(long, env = "HOURGLASS_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on (`host:port`; port 0 picks a free one).
    #[arg(long, env = "HOURGLASS_LISTEN", default_value = "127.0.0.1:9201")]
    listen: String,
    /// Directory for all data; created if missing, locked while running.
    #[arg(long, env = "HOURGLASS_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// When WAL appends are fsynced: `group` (group commit), `always`,
    /// `never`, or an interval such as `100ms`.
    #[arg(long, default_value = "group", value_parser = parse_sync_policy)]
    wal_sync: SyncPolicy,
    /// WAL segment size in MiB.
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u64).range(1..=4095))]
    wal_segment_mib: u64,
    /// How long samples are kept, measured back from the newest sample
    /// stored (capped at the wall clock plus the future grace); older
    /// samples are refused; `0` keeps everything.
    #[arg(long, default_value = "15d", value_parser = parse_duration)]
    retention: Duration,
    /// Largest total size of partitions on disk; the oldest are removed
    /// beyond it (`512MB`, `10GB`, units of 1024 as Prometheus counts them;
    /// `0` for no limit).
    #[arg(long, default_value = "0", value_parser = parse_size)]
    retention_size: u64,
    /// How far behind its newest sample a series still accepts samples.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    out_of_order_window: Duration,
    /// How far past the wall clock a sample may be stamped; newer samples
    /// are refused per series (`too_far_in_future`), so none can move the
    /// out-of-order cutoff past the present.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    future_grace: Duration,
    /// Tests and benchmarks only: the store's clock (the future bound,
    /// the "now" of retention, downsampling and day merges, series per
    /// minute) runs this many times faster than the wall clock from the
    /// start, so days pass in seconds; queries, scrapes and events keep the
    /// wall clock. `1`: the wall clock.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000_000))]
    test_clock_speed: u32,
    /// How often hours that can no longer receive samples are written out
    /// as partitions (and retention applied).
    #[arg(long, default_value = "1m", value_parser = parse_duration)]
    persist_interval: Duration,
    /// Longest a query may run (a query's own `timeout` can only shorten it).
    #[arg(long, default_value = "2m", value_parser = parse_duration)]
    query_timeout: Duration,
    /// Most samples one query may hold in memory at once (as Prometheus's
    /// --query.max-samples): each series' samples while it is evaluated,
    /// and the points of the result.
    #[arg(long, default_value_t = 50_000_000)]
    query_max_samples: usize,
    /// Most queries (and series, label and TSDB-status lookups) running at
    /// once (as Prometheus's --query.max-concurrency); more wait in line.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    query_max_concurrency: u64,
    /// Longest a request waits in line for a query slot before a 503.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    query_queue_timeout: Duration,
    /// Samples (16 bytes each) all running queries together may hold in
    /// memory; every query's count is drawn from it, and a query that
    /// cannot draw stops with a 503.
    #[arg(long, default_value_t = 100_000_000)]
    query_memory_budget: usize,
    /// How far back an instant selector looks for a sample.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    query_lookback_delta: Duration,
    /// Queries taking at least this long are logged (one `warn` line with
    /// the query, its parameters, duration, samples and caller) and counted
    /// in `hourglass_slow_queries_total`; `0` logs none.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    query_slow_log_threshold: Duration,
    /// OTLP resource attributes (comma-separated, as sent, e.g.
    /// `k8s.namespace.name,k8s.pod.name`) copied as labels onto every
    /// series of their resource; the others go on `target_info` only.
    #[arg(long, value_delimiter = ',')]
    otlp_promote_resource_attributes: Vec<String>,
    /// Store OTLP explicit-bucket histograms as native histograms with
    /// custom buckets (one series instead of `_bucket`/`_sum`/`_count`), as
    /// Prometheus's `otlp: convert_histograms_to_nhcb: true`.
    #[arg(long, env = "HOURGLASS_OTLP_CONVERT_HISTOGRAMS_TO_NHCB", value_parser = BoolishValueParser::new())]
    otlp_convert_histograms_to_nhcb: bool,
    /// Give remote write 2.0 series their metric family's type and unit as
    /// the labels `__type__` and `__unit__`, as Prometheus's
    /// --enable-feature=type-and-unit-labels (changes those series' labels).
    #[arg(long, env = "HOURGLASS_TYPE_AND_UNIT_LABELS", value_parser = BoolishValueParser::new())]
    type_and_unit_labels: bool,
    /// Store a zero sample at a counter's, summary's or histogram's
    /// created (start) timestamp when it is newer than the series' last
    /// sample and older than the sample (remote write 2.0 start
    /// timestamps, OpenMetrics `_created` lines, protobuf scrapes and
    /// Pushgateway pushes, OTLP start times), as Prometheus's
    /// --enable-feature=created-timestamp-zero-ingestion.
    #[arg(long, env = "HOURGLASS_CREATED_TIMESTAMP_ZERO_INGESTION")]
    created_timestamp_zero_ingestion: bool,
    /// PromQL drops the metric name only when a query ends (so
    /// label_replace, on(__name__) and by (__name__) still see it), as
    /// Prometheus's --enable-feature=promql-delayed-name-removal.
    #[arg(long, env = "HOURGLASS_ENABLE_DELAYED_NAME_REMOVAL", value_parser = BoolishValueParser::new())]
    enable_delayed_name_removal: bool,
    /// Label whose value groups series inside a partition, after the
    /// metric name (the "source").
    #[arg(long, default_value = "job")]
    source_label: String,
    /// Largest remote-write body accepted, in MiB (compressed and
    /// decompressed alike).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=1024))]
    max_body_mib: u64,
    /// Most MiB all request bodies in flight may hold together (received,
    /// decompressed and decoded); a request beyond it gets 503 with
    /// Retry-After.
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
    max_inflight_body_mib: u64,
    /// Longest wait for a request's head (request line and headers); also
    /// how long an idle keep-alive connection stays open.
    #[arg(long, default_value = "30s", value_parser = parse_positive_duration)]
    http_header_read_timeout: Duration,
    /// Longest a request body may take to arrive (408 beyond it).
    #[arg(long, default_value = "60s", value_parser = parse_positive_duration)]
    http_body_read_timeout: Duration,
    /// Most open connections; at the cap the oldest connection with no
    /// request in progress is closed for a new one. 0: the open-files limit
    /// (raised to its hard limit at startup) less 256, at least half of it.
    #[arg(long, default_value_t = 0)]
    max_connections: usize,
    /// Prometheus configuration file whose `global` and `scrape_configs`
    /// sections are scraped into this server; re-read on SIGHUP.
    #[arg(long, env = "HOURGLASS_SCRAPE_CONFIG")]
    scrape_config: Option<PathBuf>,
    /// DNS server (`ip:port`) for `dns_sd_configs` instead of those in
    /// /etc/resolv.conf.
    #[arg(long)]
    scrape_dns_server: Option<std::net::SocketAddr>,
    /// Let `POST /-/reload` (and PUT) reload the scrape configuration, as
    /// Prometheus's --web.enable-lifecycle; off, it answers 403. SIGHUP
    /// reloads either way.
    #[arg(long, env = "HOURGLASS_ENABLE_LIFECYCLE", value_parser = BoolishValueParser::new())]
    enable_lifecycle: bool,
    /// Do not scrape this server's own /metrics (job `hourglass`).
    #[arg(long, env = "HOURGLASS_NO_SELF_SCRAPE", value_parser = BoolishValueParser::new())]
    no_self_scrape: bool,
    /// Also write scrape_timeout_seconds, scrape_sample_limit and
    /// scrape_body_size_bytes per target, as Prometheus's
    /// --enable-feature=extra-scrape-metrics (on with the ready-made rules).
    #[arg(long, env = "HOURGLASS_EXTRA_SCRAPE_METRICS", value_parser = BoolishValueParser::new())]
    extra_scrape_metrics: bool,
    /// How often the server scrapes its own /metrics.
    #[arg(long, default_value = "15s", value_parser = parse_positive_duration)]
    self_scrape_interval: Duration,
    /// Evaluate the ready-made rules shipped in `rules/` (collection
    /// health, missing metrics, node-exporter rollups).
    #[arg(long, env = "HOURGLASS_RULES_READY_MADE", value_parser = BoolishValueParser::new())]
    rules_ready_made: bool,
    /// How often a firing alert is sent to Alertmanager again.
    #[arg(long, default_value = "1m", value_parser = parse_positive_duration)]
    rules_alert_resend_delay: Duration,
    /// Longest outage after which alerts' `for` state is still restored.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    rules_alert_for_outage_tolerance: Duration,
    /// Least time a restored alert waits before it fires again.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    rules_alert_for_grace_period: Duration,
    /// URL under which this server is reached (alerts' generator URLs,
    /// `$externalURL`).
    #[arg(long, default_value = "")]
    web_external_url: String,
    /// Most targets registered over `POST /api/v1/metrics/targets`; more
    /// are refused with 409 until some are deleted.
    #[arg(long, default_value_t = crate::scrape::registry::DEFAULT_MAX_TARGETS)]
    max_registered_targets: usize,
    /// Once a UTC day ended this long before the newest sample stored
    /// (capped at the wall clock), the
    /// background compactor merges its hourly partitions into one day
    /// partition; `0` keeps hours as hours.
    #[arg(long, default_value = "2d", value_parser = parse_duration)]
    compact_days_after: Duration,
    /// Switch on the admin API (`/api/v1/admin/tsdb/*`: snapshot, delete_series,
    /// clean_tombstones; it needs the write credentials when they are set).
    /// Off by default, as Prometheus's: a request cannot delete what is stored
    /// unless the operator asked for it.
    #[arg(long, env = "HOURGLASS_ENABLE_ADMIN_API", value_parser = BoolishValueParser::new())]
    enable_admin_api: bool,
    /// How long the event outbox keeps events (`0` keeps them until
    /// --events-retention-size removes them).
    #[arg(long, default_value = "24h", value_parser = parse_duration)]
    events_retention: Duration,
    /// Largest size of the event outbox on disk (`0`: no limit).
    #[arg(long, default_value = "1GB", value_parser = parse_size)]
    events_retention_size: u64,
    /// Events an SSE/WebSocket consumer may fall behind while not reading
    /// before it is told how many it missed and skipped to the newest.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    events_consumer_buffer: u64,
    /// Build no `metrics_collected` events (the endpoints answer 503): for
    /// measuring what events cost.
    #[arg(long)]
    no_events: bool,
}

/// Runs the server until a shutdown signal.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("hourglass")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = match &args.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    tracing::info!(
        write_auth = !config.auth.write.is_open(),
        read_auth = !config.auth.read.is_open(),
        "credentials"
    );
    let data = DataDir::open(&args.data_dir)?;
    let retention_rules = config.retention_rules()?;
    let downsample_rules = config.downsample_rules()?;
    let compact = CompactOptions {
        day_after_ms: (!args.compact_days_after.is_zero()).then(|| millis(args.compact_days_after)),
    };
    let opts = StorageOptions {
        head: HeadOptions {
            ooo_window_ms: millis(args.out_of_order_window),
            retention_ms: (!args.retention.is_zero()).then(|| millis(args.retention)),
            retention_bytes: (args.retention_size > 0).then_some(args.retention_size),
            limits: LabelLimits {
                max_labels: config.limits.max_labels_per_series,
                max_name_bytes: config.limits.max_label_name_bytes,
                max_value_bytes: config.limits.max_label_value_bytes,
                ..LabelLimits::default()
            },
            future_grace_ms: millis(args.future_grace),
            clock: if args.test_clock_speed > 1 {
                tracing::warn!(
                    speed = args.test_clock_speed,
                    "the store's clock runs fast (--test-clock-speed)"
                );
                hourglass_storage::Clock::fast(args.test_clock_speed)
            } else {
                hourglass_storage::Clock::system()
            },
            series_limits: SeriesLimits {
                max_active: config.limits.max_active_series,
                max_new_per_minute: config.limits.max_new_series_per_minute,
            },
            ..HeadOptions::default()
        },
        wal: WalOptions {
            segment_size: args.wal_segment_mib << 20,
            sync: args.wal_sync,
            ..WalOptions::default()
        },
        source_label: Some(args.source_label.clone()),
        retention_rules: retention_rules.clone(),
    };
    let dir = data.path().to_path_buf();
    let storage = tokio::task::spawn_blocking(move || Storage::open(&dir, opts))
        .await
        .context("storage open task failed")?
        .with_context(|| format!("cannot open storage in {}", data.path().display()))?;
    storage.set_downsample_rules(downsample_rules);
    let report = storage.wal_recovery();
    tracing::info!(
        records = report.records,
        next_lsn = %report.next_lsn,
        torn_tail = report.torn_tail.is_some(),
        corruption = report.corruption.is_some(),
        damaged_stretches = report.damage.len(),
        records_set_aside = storage.replay_stats().records_set_aside(),
        samples_set_aside = storage.replay_stats().samples_set_aside(),
        series = storage.stats().series,
        "storage recovered"
    );
    let storage = Arc::new(storage);
    let limits = server::Limits {
        max_body_bytes: usize::try_from(args.max_body_mib << 20).unwrap_or(usize::MAX),
        retention: if args.retention.is_zero() {
            "0 (keep everything)".to_string()
        } else {
            humanize(args.retention)
        },
        max_series_per_request: config.limits.max_series_per_request,
        max_inflight_body_bytes: usize::try_from(args.max_inflight_body_mib << 20)
            .unwrap_or(usize::MAX),
        body_read_timeout: args.http_body_read_timeout,
        metadata: crate::metadata::MetadataLimits {
            max_families: config.limits.max_metadata_families,
            max_entry_bytes: config.limits.max_metadata_bytes,
        },
        max_registered_targets: args.max_registered_targets,
        slow_query_threshold: args.query_slow_log_threshold,
        disable_admin_api: !args.enable_admin_api,
        compact: compact.clone(),
        otlp_promote_resource_attributes: args.otlp_promote_resource_attributes.clone(),
        type_and_unit_labels: args.type_and_unit_labels,
        created_timestamp_zero_ingestion: args.created_timestamp_zero_ingestion,
        otlp_convert_histograms_to_nhcb: args.otlp_convert_histograms_to_nhcb,
    };
    let engine = Engine::new(EngineOptions {
        lookback_delta_ms: millis(args.query_lookback_delta).max(1),
        timeout: args.query_timeout,
        max_samples: args.query_max_samples,
        max_concurrency: usize::try_from(args.query_max_concurrency).unwrap_or(usize::MAX),
        queue_timeout: args.query_queue_timeout,
        memory_budget_samples: args.query_memory_budget,
        delayed_name_removal: args.enable_delayed_name_removal,
        ..EngineOptions::default()
    });
    let scraper = start_scraping(
        Arc::clone(&storage),
        args.scrape_config.as_deref(),
        args.scrape_dns_server,
        // The ready-made ScrapeNearTimeout rule reads scrape_timeout_seconds.
        args.extra_scrape_metrics || args.rules_ready_made || config.rules.ready_made,
        crate::scrape::manager::LoopFeatures {
            type_and_unit_labels: args.type_and_unit_labels,
            created_timestamp_zero: args.created_timestamp_zero_ingestion,
        },
    )?;
    let state = AppState::new(
        Arc::clone(&storage),
        engine,
        scraper.0.clone(),
        limits,
        &config.auth,
    );

    let rules = crate::rules::RuleManager::start(
        Arc::clone(&storage),
        state.engine(),
        crate::rules::RulesOptions {
            prometheus_config: args.scrape_config.clone(),
            extra_files: config.rules.files.clone(),
            ready_made: args.rules_ready_made || config.rules.ready_made,
            external_url: args.web_external_url.trim_end_matches('/').to_string(),
            resend_delay: args.rules_alert_resend_delay,
            restore: crate::rules::restore::RestoreOptions {
                outage_tolerance: args.rules_alert_for_outage_tolerance,
                grace: args.rules_alert_for_grace_period,
            },
        },
    )
    .context("invalid rules")?;
    let rules_hup = rules
        .reload_on_sighup()
        .context("cannot listen for SIGHUP")?;
    state.set_rules(rules.clone());
    let bus = open_events(data.path(), &args)?;
    if !args.no_events {
        crate::events::install(bus.clone());
    }
    let streaming = tokio::spawn(crate::events::streaming::flush_loop());
    let sink = match &config.events.nats {
        Some(nats) => {
            nats.validate().map_err(anyhow::Error::msg)?;
            let stats = std::sync::Arc::new(crate::events::sink::SinkStats::default());
            crate::events::add_sink("nats", Arc::clone(&stats));
            let pos = crate::events::sink::Position::new(
                Arc::new(hourglass_wal::fs::StdFs),
                &data.path().join(crate::events::DIR),
                "nats",
            );
            Some(tokio::spawn(crate::events::sink::run(
                bus.clone(),
                Box::new(crate::events::nats_sink::NatsSink::new(nats.clone())),
                pos,
                stats,
            )))
        }
        None => None,
    };
    let sampler = tokio::spawn(server::sample_loop(state.clone()));
    let persister = tokio::spawn(persist_loop(
        state.clone(),
        args.persist_interval.max(Duration::from_secs(1)),
        compact,
        retention_rules,
    ));

    let shutdown = {
        let signal = shutdown_signal()?;
        let bus = bus.clone();
        // Open event streams end, so connections can finish.
        async move {
            signal.await;
            bus.close();
        }
    };
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr().context("listener has no address")?;
    let fd_limit = server::connections::raise_fd_limit();
    let conn_limits = server::connections::ConnLimits {
        header_read_timeout: args.http_header_read_timeout,
        max_connections: match args.max_connections {
            0 => server::connections::default_max_connections(fd_limit),
            n => n,
        },
    };
    tracing::info!(
        fd_limit,
        max_connections = conn_limits.max_connections,
        "connections"
    );
    state.set_lifecycle(args.enable_lifecycle);
    if !args.no_self_scrape {
        let job = crate::scrape::self_scrape::job(addr, args.self_scrape_interval)
            .context("cannot build the self-scrape job")?;
        state
            .scrape()
            .set_source_jobs(crate::scrape::self_scrape::SOURCE, vec![job]);
    }
    tracing::info!(%addr, data_dir = %data.path().display(), "listening");
    state.set_ready(true);

    server::connections::serve(
        listener,
        crate::api::router(state.clone()),
        conn_limits,
        shutdown,
    )
    .await;

    state.set_ready(false);
    let (m, hup) = scraper;
    hup.abort();
    rules_hup.abort();
    rules.shutdown();
    m.shutdown().await;
    drop(m);
    sampler.abort();
    streaming.abort();
    if let Some(s) = sink {
        s.abort();
    }
    crate::events::streaming::flush();
    let flushing = bus.clone();
    let _ = tokio::task::spawn_blocking(move || flushing.flush()).await;
    // A day merge in progress gives up (the next start merges again): the
    // stop below waits for nothing but its own checkpoint.
    storage.interrupt_compaction();
    persister.abort();
    let _ = sampler.await;
    let _ = persister.await;
    let side = state.clone();
    let _ = tokio::task::spawn_blocking(move || side.save_side_state()).await;
    drop(state);
    tracing::info!("shutting down: persisting and checkpointing the head");
    tokio::task::spawn_blocking(move || match Arc::try_unwrap(storage) {
        Ok(storage) => storage.stop(),
        Err(shared) => {
            shared.checkpoint_for_stop();
            shared.flush()
        }
    })
    .await
    .context("storage close task failed")?
    .context("final WAL sync failed")?;
    drop(data);
    tracing::info!("stopped");
    Ok(())
}

/// Opens the event outbox in `<data>/events` and starts its bus.
fn open_events(data: &std::path::Path, args: &ServeArgs) -> anyhow::Result<crate::events::Bus> {
    use crate::events::outbox::{Outbox, Retention};
    let retention = Retention {
        max_age_ms: millis(args.events_retention),
        max_bytes: args.events_retention_size,
        ..Retention::default()
    };
    let dir = data.join(crate::events::DIR);
    let (outbox, recovered) = Outbox::open(Arc::new(hourglass_wal::fs::StdFs), &dir, retention)
        .with_context(|| format!("cannot open the event outbox in {}", dir.display()))?;
    Ok(crate::events::Bus::start(
        outbox,
        &recovered,
        args.events_consumer_buffer,
    ))
}

/// Starts the scrape manager, on `path` when given, and its SIGHUP
/// reloader.
fn start_scraping(
    storage: Arc<Storage>,
    path: Option<&std::path::Path>,
    dns_server: Option<std::net::SocketAddr>,
    extra_metrics: bool,
    features: crate::scrape::manager::LoopFeatures,
) -> anyhow::Result<(ScrapeManager, tokio::task::JoinHandle<()>)> {
    let m = ScrapeManager::new(storage);
    m.set_dns_server(dns_server);
    m.set_extra_metrics(extra_metrics);
    m.set_features(features);
    if let Some(path) = path {
        m.load_file(path)
            .with_context(|| format!("invalid scrape config {}", path.display()))?;
        let jobs = m.config().map_or(0, |c| c.jobs.len());
        tracing::info!(file = %path.display(), jobs, "scraping");
    }
    let hup = m.reload_on_sighup().context("cannot listen for SIGHUP")?;
    Ok((m, hup))
}
