//! What every rule shares: its health, the in-process instant query it
//! runs, and writing its output through the normal append path with
//! staleness markers for series it stopped producing.

use super::alert::Alert;
use super::file::RuleSpec;
use hourglass_query::{Engine, QueryOptions, Value};
use hourglass_storage::{FloatHistogram, Labels, STALE_NAN_BITS, Sample, Storage, WriteBatch};
use std::collections::{BTreeMap, HashSet};
use std::time::SystemTime;

/// `ok`, `err` or `unknown` (never evaluated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Not evaluated yet.
    Unknown,
    /// The last evaluation worked.
    Ok,
    /// The last evaluation failed.
    Err,
}

impl Health {
    /// As the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Ok => "ok",
            Health::Err => "err",
        }
    }
}

/// One rule and what its evaluations left behind.
#[derive(Debug)]
pub struct RuleState {
    /// The rule as written.
    pub spec: RuleSpec,
    /// Of the last evaluation.
    pub health: Health,
    /// Why the last evaluation failed.
    pub last_error: Option<String>,
    /// Wall clock when the last evaluation started.
    pub last_evaluation: Option<SystemTime>,
    /// How long it took (s).
    pub evaluation_seconds: f64,
    /// Series written by the last successful evaluation (stale-marked when
    /// they disappear).
    pub series: HashSet<Labels>,
    /// Alerts by label set (alerting rules).
    pub alerts: BTreeMap<BTreeMap<String, String>, Alert>,
    /// Whether `ALERTS_FOR_STATE` was read back (or needs not be).
    pub restored: bool,
}

impl RuleState {
    /// A rule not evaluated yet.
    pub fn new(spec: RuleSpec) -> RuleState {
        RuleState {
            spec,
            health: Health::Unknown,
            last_error: None,
            last_evaluation: None,
            evaluation_seconds: 0.0,
            series: HashSet::new(),
            alerts: BTreeMap::new(),
            restored: false,
        }
    }
}

/// An instant query's samples: a vector, or a scalar as one sample with no
/// labels. Anything else is an error, as in Prometheus.
pub fn instant(
    engine: &Engine,
    storage: &Storage,
    expr: &hourglass_query::Expr,
    t_ms: i64,
) -> Result<Vec<(Labels, f64)>, String> {
    let rows = instant_rows(engine, storage, expr, t_ms)?;
    Ok(rows.into_iter().map(|(l, v, _)| (l, v)).collect())
}

/// One sample of a rule's result: its labels, its float value, and the
/// native histogram when the sample is one (the float is then NaN).
pub type Row = (Labels, f64, Option<Box<FloatHistogram>>);

/// As [`instant`], keeping native histogram samples.
pub fn instant_rows(
    engine: &Engine,
    storage: &Storage,
    expr: &hourglass_query::Expr,
    t_ms: i64,
) -> Result<Vec<Row>, String> {
    let q = storage.querier(i64::MIN, i64::MAX);
    let out = engine
        .instant_with(&q, expr, t_ms, &QueryOptions::default())
        .map_err(|e| e.to_string())?;
    match out.value {
        Value::Vector(v) => Ok(v.into_iter().map(|s| (s.labels, s.v, s.h)).collect()),
        Value::Scalar { v, .. } => Ok(vec![(Labels::from_pairs::<&str, &str>([]), v, None)]),
        Value::String { .. } => Err("rule result is not a vector or scalar: string".into()),
        Value::Matrix(_) => Err("rule result is not a vector or scalar: matrix".into()),
    }
}

/// A label set as a map.
pub fn to_map(l: &Labels) -> BTreeMap<String, String> {
    l.iter()
        .map(|x| (x.name.to_string(), x.value.to_string()))
        .collect()
}

/// Writes `out` at `t_ms` and stale markers for series of `previous` not
/// in it. Returns the samples refused (stale markers excepted) or the
/// storage failure.
pub fn write(
    storage: &Storage,
    out: &[(Labels, f64)],
    previous: &HashSet<Labels>,
    t_ms: i64,
) -> Result<u64, String> {
    let mut batch = WriteBatch::new();
    for (l, v) in out {
        batch.push(l.clone(), vec![Sample { t: t_ms, v: *v }]);
    }
    write_batch(storage, batch, out.iter().map(|(l, _)| l), previous, t_ms)
}

/// As [`write`] for rows that may be native histograms (stored as
/// histogram samples; their stale markers are float StaleNaNs, as in
/// Prometheus). An invalid histogram (a negative bucket, say) is not
/// stored and counts as refused.
pub fn write_rows(
    storage: &Storage,
    out: &[Row],
    previous: &HashSet<Labels>,
    t_ms: i64,
) -> Result<u64, String> {
    let mut batch = WriteBatch::new();
    let mut invalid = 0;
    for (l, v, h) in out {
        match h {
            Some(h) if h.validate().is_err() => invalid += 1,
            Some(h) => batch.push_histograms(l.clone(), vec![(t_ms, (**h).clone())]),
            None => batch.push(l.clone(), vec![Sample { t: t_ms, v: *v }]),
        }
    }
    let refused = write_batch(
        storage,
        batch,
        out.iter().map(|(l, _, _)| l),
        previous,
        t_ms,
    )?;
    Ok(refused + invalid)
}

/// Appends `batch` (the series `written`) and stale markers for the
/// series of `previous` not among them.
fn write_batch<'a>(
    storage: &Storage,
    batch: WriteBatch,
    written: impl Iterator<Item = &'a Labels>,
    previous: &HashSet<Labels>,
    t_ms: i64,
) -> Result<u64, String> {
    let stats = storage.append(&batch).map_err(|e| e.to_string())?;
    let now: HashSet<&Labels> = written.collect();
    let mut stale = WriteBatch::new();
    for l in previous.iter().filter(|l| !now.contains(l)) {
        stale.push(
            l.clone(),
            vec![Sample {
                t: t_ms,
                v: f64::from_bits(STALE_NAN_BITS),
            }],
        );
    }
    if !stale.is_empty() {
        // Out of order and duplicates are expected here and ignored.
        storage.append(&stale).map_err(|e| e.to_string())?;
    }
    Ok(stats.rejected.total())
}
