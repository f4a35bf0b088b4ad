//! What the OTLP and InfluxDB handlers share: reading a body that may be
//! gzip-compressed (bounded by the body limit and reserved from the
//! in-flight budget before it is inflated), and storing the series a
//! translating decoder built, charged to the caller.

use crate::ingest::arena::SeriesArena;
use crate::server::AppState;
use crate::server::auth::{Caller, RateLimited, charge};
use crate::server::inflight::Reservation;
use axum::http::{HeaderMap, StatusCode, header};
use hourglass_storage::{AppendStats, StorageError};
use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::Read as _;

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    /// Inflates past the body limit (413).
    #[error("body inflates to more than {max} bytes, the body limit")]
    TooLarge { max: usize },
    /// Not valid gzip (400).
    #[error("invalid gzip body: {0}")]
    Gzip(String),
    /// An encoding we do not speak (415).
    #[error("unsupported Content-Encoding {0:?}: send gzip or no encoding")]
    Encoding(String),
    /// The in-flight budget cannot hold it (503).
    #[error("{0}")]
    OverBudget(String),
}

/// The body, inflated when `Content-Encoding: gzip`.
pub(crate) fn read_body<'b>(
    headers: &HeaderMap,
    body: &'b [u8],
    max: usize,
    res: &Reservation,
) -> Result<Cow<'b, [u8]>, BodyError> {
    let enc = headers.get(header::CONTENT_ENCODING).map(|v| {
        String::from_utf8_lossy(v.as_bytes())
            .trim()
            .to_ascii_lowercase()
    });
    match enc.as_deref() {
        None | Some("" | "identity") => Ok(Cow::Borrowed(body)),
        Some("gzip" | "x-gzip") => {
            let mut out = Vec::new();
            let mut reader = flate2::read::GzDecoder::new(body).take(max as u64 + 1);
            // Reserved as it grows, in steps, so a small body cannot
            // inflate past what the budget holds.
            let mut buf = [0u8; 64 * 1024];
            loop {
                let n = reader
                    .read(&mut buf)
                    .map_err(|e| BodyError::Gzip(e.to_string()))?;
                if n == 0 {
                    break;
                }
                if out.len() + n > max {
                    return Err(BodyError::TooLarge { max });
                }
                res.add(n)
                    .map_err(|e| BodyError::OverBudget(e.to_string()))?;
                out.extend_from_slice(buf.get(..n).unwrap_or_default());
            }
            Ok(Cow::Owned(out))
        }
        Some(other) => Err(BodyError::Encoding(other.to_string())),
    }
}

/// Whether a decoded body must be refused whole, as status and message:
/// the in-flight budget ran out while decoding (503), or the body holds
/// more than `max_series` series, counted as `unit` (400, and counted as a
/// `series_per_request` refusal).
pub(crate) fn refuse_decoded(
    state: &AppState,
    over_budget: bool,
    too_many_series: bool,
    max_series: usize,
    unit: &str,
) -> Option<(StatusCode, String)> {
    if over_budget {
        let msg = "in-flight body budget spent; retry later; nothing stored";
        return Some((StatusCode::SERVICE_UNAVAILABLE, msg.to_string()));
    }
    if too_many_series {
        state.refused("limit", "series_per_request");
        let msg = format!(
            "request has more than {max_series} {unit}, over the limit of series per request; nothing stored"
        );
        return Some((StatusCode::BAD_REQUEST, msg));
    }
    None
}

/// Why series were not stored.
#[derive(Debug)]
pub(crate) enum StoreError {
    /// The caller's samples/s budget is spent (429).
    RateLimited(RateLimited),
    /// Our failure; nothing of the request is acknowledged.
    Storage(StorageError),
}

/// Stores the arena's series, new series charged to the caller's quota.
pub(crate) fn store(
    state: &AppState,
    caller: Option<&Caller>,
    arena: &SeriesArena,
) -> Result<AppendStats, StoreError> {
    if arena.is_empty() {
        return Ok(AppendStats::default());
    }
    charge(state, caller, arena.len()).map_err(StoreError::RateLimited)?;
    let quota = caller.and_then(|c| c.series.as_ref());
    let stats = arena
        .with_batch(|batch| state.storage().append_borrowed_for(batch, quota))
        .map_err(StoreError::Storage)?;
    // After their samples: a start timestamp whose sample was refused is
    // never read. Not charged to the writer's quota, as in `write.rs`.
    let kept = arena.kept_start_times();
    if !kept.is_empty() {
        state
            .storage()
            .append_start_times(&kept, None)
            .map_err(StoreError::Storage)?;
    }
    Ok(stats)
}

/// What storage refused, in words; `None` when it refused nothing.
pub(crate) fn refusals(stats: &AppendStats) -> Option<String> {
    let r = &stats.rejected;
    if r.total() == 0 {
        return None;
    }
    let mut msg = format!("{} samples refused by storage: {r}", r.total());
    if let Some(first) = stats.invalid_series.first() {
        let _ = write!(msg, "; first invalid series: {first}");
    }
    Some(msg)
}
