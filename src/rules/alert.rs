//! An alert of an alerting rule, where it stands, and the form it is
//! sent to Alertmanager in.

use std::collections::BTreeMap;

/// How long a resolved alert is kept (and re-sent).
pub const RESOLVED_RETENTION_MS: i64 = 15 * 60 * 1000;

/// Where an alert stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AlertState {
    /// Resolved, kept for re-sends.
    Inactive,
    /// True, waiting out `for`.
    Pending,
    /// True for `for` (or held by `keep_firing_for`).
    Firing,
}

impl AlertState {
    /// As the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert of a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Final labels (with `alertname`).
    pub labels: BTreeMap<String, String>,
    /// Expanded annotations.
    pub annotations: BTreeMap<String, String>,
    /// Where it stands.
    pub state: AlertState,
    /// The query value at the last evaluation.
    pub value: f64,
    /// When it became pending (ms, a slot time).
    pub active_at: i64,
    /// When it began firing.
    pub fired_at: Option<i64>,
    /// When it resolved.
    pub resolved_at: Option<i64>,
    /// When it was last sent.
    pub last_sent: Option<i64>,
    /// `endsAt` of the last send while firing.
    pub valid_until: i64,
    /// When the condition ended while `keep_firing_for` holds it.
    pub keep_firing_since: Option<i64>,
}

/// An alert to send, as Alertmanager's API v2 takes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// Labels (external labels are added by the notifier).
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// `firedAt` (ms).
    pub starts_at: i64,
    /// Resolution or validity (ms).
    pub ends_at: i64,
    /// Link to the expression.
    pub generator_url: String,
}
