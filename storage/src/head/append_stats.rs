//! What one append did: samples stored, duplicates, and refusals by
//! reason, as the write APIs report them.

use super::series::Outcome;
use crate::model::labels::LabelError;

/// Samples refused, by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rejected {
    /// Older than the series' newest sample by more than the out-of-order
    /// window.
    pub out_of_window: u64,
    /// Older than retention allows.
    pub past_retention: u64,
    /// Same timestamp as a stored sample with a different value.
    pub duplicate_conflict: u64,
    /// Samples of series whose labels failed validation.
    pub invalid_series: u64,
    /// Newer than the wall clock plus the future grace.
    pub too_far_in_future: u64,
    /// Samples of new series refused because the active-series cap (the
    /// server's or the writer's) is reached.
    pub active_series_limit: u64,
    /// Samples of new series refused because this minute's new-series
    /// budget (the server's or the writer's) is spent.
    pub new_series_rate_limit: u64,
}

impl Rejected {
    /// All refusals.
    pub fn total(&self) -> u64 {
        self.reasons().iter().map(|(_, n)| n).sum()
    }

    /// Each reason's name (as reported to senders and on `/metrics`) and
    /// count, in a fixed order.
    pub fn reasons(&self) -> [(&'static str, u64); 7] {
        [
            ("out_of_window", self.out_of_window),
            ("past_retention", self.past_retention),
            (
                "duplicate_timestamp_different_value",
                self.duplicate_conflict,
            ),
            ("invalid_series", self.invalid_series),
            ("too_far_in_future", self.too_far_in_future),
            ("active_series_limit", self.active_series_limit),
            ("new_series_rate_limit", self.new_series_rate_limit),
        ]
    }

    /// True when every refusal is for the new-series rate: waiting for the
    /// next minute and sending again would store them.
    pub fn only_rate_limited(&self) -> bool {
        self.new_series_rate_limit > 0 && self.total() == self.new_series_rate_limit
    }

    pub(super) fn add(&mut self, o: Outcome) {
        match o {
            Outcome::Appended | Outcome::Duplicate => {}
            Outcome::OutOfWindow => self.out_of_window += 1,
            Outcome::PastRetention => self.past_retention += 1,
            Outcome::DuplicateConflict => self.duplicate_conflict += 1,
            Outcome::TooFarInFuture => self.too_far_in_future += 1,
        }
    }
}

/// `reason=count` for each reason, space-separated.
impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (reason, n)) in self.reasons().iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{reason}={n}")?;
        }
        Ok(())
    }
}

/// What one `append` did. Refusals never abort the rest of the batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppendStats {
    /// Samples stored.
    pub appended: u64,
    /// Exact duplicates (same time and value bits) accepted silently.
    pub duplicates: u64,
    /// Samples refused, by reason.
    pub rejected: Rejected,
    /// Zeros stored at start timestamps (not counted in `appended`).
    pub start_zeros: u64,
    /// Native histogram samples stored (counted in `appended` too).
    pub histograms: u64,
    /// Series refused by validation (at most [`MAX_REPORTED_ERRORS`]).
    pub invalid_series: Vec<LabelError>,
}

/// How many validation errors one `AppendStats` reports in full.
pub const MAX_REPORTED_ERRORS: usize = 16;
