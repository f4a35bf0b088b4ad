//! Reloads on SIGHUP for the managers that read files (rules, scrape).

use std::future::Future;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// Runs `reload` on every SIGHUP, handing it `target`, until the last
/// `Arc` to `target` is dropped. Call inside a Tokio runtime.
pub fn reload_on_sighup<T, F, Fut>(target: &Arc<T>, reload: F) -> std::io::Result<JoinHandle<()>>
where
    T: Send + Sync + 'static,
    F: Fn(Arc<T>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = signal(SignalKind::hangup())?;
    let weak = Arc::downgrade(target);
    Ok(tokio::spawn(async move {
        while hup.recv().await.is_some() {
            let Some(target) = weak.upgrade() else { return };
            reload(target).await;
        }
    }))
}
