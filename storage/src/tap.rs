//! A tap on stored samples: one process-wide observer (the server's live
//! stream) gets each append's accepted float samples, per series, after
//! the WAL acknowledged them. Every ingest path goes through the head's
//! append, so this is the one seam they share. While nobody wants the
//! samples, an append pays one atomic load.

use crate::model::labels::Labels;
use crate::model::sample::Sample;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// One series' samples that one append stored.
pub type Stored = (Labels, Vec<Sample>);

/// Receives each acknowledged append's stored samples (called on the
/// appending thread; keep it short and non-blocking).
pub type Observer = fn(&[Stored]);

static OBSERVER: OnceLock<Observer> = OnceLock::new();
static WANTED: AtomicBool = AtomicBool::new(false);

/// Makes `observer` the process's observer (only the first call counts).
pub fn install(observer: Observer) {
    let _ = OBSERVER.set(observer);
}

/// Turns collecting on (someone listens) or off.
pub fn want(on: bool) {
    WANTED.store(on, Ordering::Relaxed);
}

/// Whether appends should collect what they store.
pub(crate) fn wanted() -> bool {
    WANTED.load(Ordering::Relaxed)
}

/// Hands an acknowledged append's samples to the observer.
pub(crate) fn deliver(stored: &[Stored]) {
    if let (Some(observe), false) = (OBSERVER.get(), stored.is_empty()) {
        observe(stored);
    }
}
