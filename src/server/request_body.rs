//! Every routed request body, before any handler reads it: its bytes are
//! reserved from the shared [`BodyBudget`](super::inflight::BodyBudget) as
//! they arrive, and it must arrive within the body-read timeout. The [`Reservation`] rides in
//! the request's extensions so handlers add what they decompress and
//! decode to it.

use super::AppState;
use super::inflight::Reservation;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

/// Why a body stopped arriving.
#[derive(Debug, thiserror::Error)]
enum BodyError {
    #[error("request body not received within {0:?}")]
    TimedOut(std::time::Duration),
    #[error(transparent)]
    OverBudget(#[from] super::inflight::OverBudget),
}

/// The layer: reserves, meters and times the body; answers 503 (with
/// `Retry-After`) when the budget refused it and 408 when it was too slow.
pub async fn meter(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let res = Reservation::new(&state.inner.bodies);
    let timeout = state.inner.limits.body_read_timeout;
    let timed_out = Arc::new(AtomicBool::new(false));
    let body = std::mem::take(req.body_mut());
    *req.body_mut() = Body::new(Metered {
        inner: body,
        res: res.clone(),
        deadline: Box::pin(tokio::time::sleep(timeout)),
        timeout,
        timed_out: Arc::clone(&timed_out),
    });
    req.extensions_mut().insert(res.clone());
    let resp = next.run(req).await;
    if res.was_refused() {
        return over_budget(
            &state,
            "request bodies in flight are over the server's budget",
        );
    }
    if timed_out.load(Ordering::Acquire) {
        state.refused("limit", "body_read_timeout");
        let mut msg = BodyError::TimedOut(timeout).to_string();
        msg.push('\n');
        return (StatusCode::REQUEST_TIMEOUT, msg).into_response();
    }
    resp
}

/// 503 with `Retry-After`: the sender backs off and sends again.
pub fn over_budget(state: &AppState, msg: &str) -> Response {
    state.refused("limit", "inflight_body_budget");
    let mut r = (StatusCode::SERVICE_UNAVAILABLE, format!("{msg}\n")).into_response();
    r.headers_mut().insert(header::RETRY_AFTER, 1u64.into());
    r
}

/// A body metered against the budget and bounded in time. Each chunk is
/// reserved as it arrives, not the announced length up front, so a client
/// that announces much and sends slowly holds only what it sent; twice,
/// because the chunks and the one buffer a handler collects them into are
/// live together.
struct Metered {
    inner: Body,
    res: Reservation,
    deadline: Pin<Box<tokio::time::Sleep>>,
    timeout: std::time::Duration,
    timed_out: Arc<AtomicBool>,
}

impl http_body::Body for Metered {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        // Checked on every poll, not only when the client is silent: a body
        // dripped a byte at a time must not outlive the deadline either.
        if !this.inner.is_end_stream() && this.deadline.as_mut().poll(cx).is_ready() {
            this.timed_out.store(true, Ordering::Release);
            let e = BodyError::TimedOut(this.timeout);
            return Poll::Ready(Some(Err(axum::Error::new(e))));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref()
                    && let Err(e) = this.res.add(data.len().saturating_mul(2))
                {
                    return Poll::Ready(Some(Err(axum::Error::new(BodyError::from(e)))));
                }
                Poll::Ready(Some(Ok(frame)))
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
