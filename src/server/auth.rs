//! Who is calling: bearer tokens and basic auth per route class, compared in
//! constant time, and each caller's samples/s budget. The router puts
//! [`require_write`] on the write routes and [`require_read`] on the read
//! routes (see `routes.rs`).

use super::AppState;
use crate::config::{CallerLimits, Credentials};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use hourglass_storage::{SeriesLimits, SeriesQuota};
use hourglass_wal::lock::lock;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Equal without leaking where two secrets first differ.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A samples/s budget. A request may overdraw it once: what it took beyond
/// the balance must be earned back before the next one is let through, so
/// the long-run rate holds whatever the request sizes.
#[derive(Debug)]
pub struct Budget {
    per_second: f64,
    state: Mutex<(f64, Instant)>,
}

impl Budget {
    /// A full budget of `per_second` samples.
    pub fn new(per_second: u64) -> Budget {
        Budget {
            per_second: per_second as f64,
            state: Mutex::new((per_second as f64, Instant::now())),
        }
    }

    /// Takes `n` samples, or says how many seconds to wait.
    pub fn take(&self, n: usize) -> Result<(), f64> {
        let mut s = lock(&self.state);
        let now = Instant::now();
        let earned = now.duration_since(s.1).as_secs_f64() * self.per_second;
        s.0 = (s.0 + earned).min(self.per_second);
        s.1 = now;
        if s.0 < 0.0 {
            return Err(-s.0 / self.per_second);
        }
        s.0 -= n as f64;
        Ok(())
    }
}

/// The authenticated caller, for handlers that meter writes.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Its configured name.
    pub name: String,
    /// Its samples/s budget, if it has one.
    pub budget: Option<Arc<Budget>>,
    /// Its series quota (active and new per minute), if it has limits.
    pub series: Option<Arc<SeriesQuota>>,
}

/// A write refused because its caller's samples/s budget is spent.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimited {
    /// Says who and when to retry.
    pub message: String,
    /// Whole seconds to wait, at least 1 (the `Retry-After` header).
    pub retry_after_s: u64,
}

impl RateLimited {
    /// Adds `Retry-After` to a response built from the message.
    pub fn with_retry_after(&self, mut r: Response) -> Response {
        r.headers_mut()
            .insert(header::RETRY_AFTER, self.retry_after_s.into());
        r
    }
}

/// Charges `samples` to the caller's budget (if it has one); a refusal is
/// counted on `/metrics` under the caller's name.
pub fn charge(
    state: &AppState,
    caller: Option<&Caller>,
    samples: usize,
) -> Result<(), RateLimited> {
    let Some(c) = caller else { return Ok(()) };
    let Some(budget) = &c.budget else {
        return Ok(());
    };
    budget.take(samples).map_err(|wait| {
        state.refused("rate_limit", &c.name);
        RateLimited {
            message: format!(
                "{}: samples/s limit reached; retry after {wait:.1} s",
                c.name
            ),
            retry_after_s: (wait.ceil() as u64).max(1),
        }
    })
}

/// Credentials with their budgets, built once at startup.
#[derive(Debug, Default)]
pub struct Gate {
    entries: Vec<Entry>,
}

#[derive(Debug)]
struct Entry {
    /// The exact `Authorization` header value that admits this caller.
    header: Vec<u8>,
    caller: Caller,
}

impl Gate {
    /// The gate for one path class.
    pub fn new(c: &Credentials) -> Gate {
        let caller = |name: &str, l: &CallerLimits| {
            let limits = SeriesLimits {
                max_active: l.max_active_series,
                max_new_per_minute: l.max_new_series_per_minute,
            };
            Caller {
                name: name.to_string(),
                budget: l.samples_per_second.map(|r| Arc::new(Budget::new(r))),
                series: (!limits.is_unlimited()).then(|| Arc::new(SeriesQuota::new(limits))),
            }
        };
        let mut entries = Vec::new();
        for t in &c.tokens {
            let who = caller(&t.name, &t.limits);
            // InfluxDB 2 clients send the same token as `Token <token>`.
            entries.push(Entry {
                header: format!("Token {}", t.token).into_bytes(),
                caller: who.clone(),
            });
            entries.push(Entry {
                header: format!("Bearer {}", t.token).into_bytes(),
                caller: who,
            });
        }
        for u in &c.basic {
            let pair = base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", u.username, u.password));
            entries.push(Entry {
                header: format!("Basic {pair}").into_bytes(),
                caller: caller(&u.username, &u.limits),
            });
        }
        Gate { entries }
    }

    fn is_open(&self) -> bool {
        self.entries.is_empty()
    }

    /// The caller an `Authorization` header admits. Every entry is compared
    /// so that timing says nothing about which one matched.
    fn admit(&self, auth: Option<&HeaderValue>) -> Option<Caller> {
        let given = auth.map_or(&[][..], HeaderValue::as_bytes);
        let mut found = None;
        for e in &self.entries {
            if ct_eq(&e.header, given) && found.is_none() {
                found = Some(e.caller.clone());
            }
        }
        found
    }
}

/// Refuses a write route's request without valid write credentials.
pub async fn require_write(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let gate = &state.inner.write_gate;
    require(&state, gate, "write", req, next).await
}

/// Refuses a read route's request without valid read credentials.
pub async fn require_read(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let gate = &state.inner.read_gate;
    require(&state, gate, "read", req, next).await
}

async fn require(
    state: &AppState,
    gate: &Gate,
    class: &str,
    mut req: Request,
    next: Next,
) -> Response {
    if gate.is_open() {
        return next.run(req).await;
    }
    match gate.admit(req.headers().get(header::AUTHORIZATION)) {
        Some(caller) => {
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        None => {
            state.refused("auth", class);
            (
                StatusCode::UNAUTHORIZED,
                [(
                    header::WWW_AUTHENTICATE,
                    "Bearer, Basic realm=\"hourglass\"",
                )],
                "401 Unauthorized: missing or invalid credentials\n",
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_equality() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }

    #[test]
    fn budget_allows_one_overdraw_then_waits() {
        let b = Budget::new(1000);
        assert!(b.take(1500).is_ok());
        let wait = b.take(1).unwrap_err();
        assert!(wait > 0.4 && wait <= 0.5, "{wait}");
    }
}
