//! The signals that stop the server.

use anyhow::Context;

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
///
/// The handlers are installed here, before the server reports ready, not when
/// the returned future is first polled: axum polls it on a spawned task, and a
/// SIGTERM arriving before that would take the default action and kill the
/// process without syncing the WAL.
pub(super) fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => tracing::info!("SIGINT received"),
            _ = term.recv() => tracing::info!("SIGTERM received"),
        }
    })
}
