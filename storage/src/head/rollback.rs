//! Undoing an append whose WAL record was refused (a full disk, say): its
//! samples leave the head again, so a sample that was not acknowledged is
//! never readable.
//!
//! Samples are applied before their record is logged (see `append.rs`), so
//! between the two another batch may have written to the same series; the
//! undo removes exactly this batch's samples (same time, same value bits)
//! and leaves everything else in place.

use super::linked_records;
use super::series::SeriesData;
use super::{Head, lock};
use crate::chunk::{CutPolicy, XorAppender};
use crate::model::refs::HeadRef;
use crate::model::sample::Sample;
use std::collections::HashSet;
use std::sync::atomic::Ordering;

impl Head {
    /// Removes the samples of `record`, a batch record this head encoded
    /// (against `bases`) and the WAL refused.
    pub(super) fn roll_back(&self, record: &[u8], bases: &[(HeadRef, i64, u64)]) {
        let mut resolve = |id: HeadRef, t: i64| {
            bases
                .iter()
                .find(|&&(b, bt, _)| b == id && bt == t)
                .map(|&(_, _, bits)| bits)
        };
        let rec = match linked_records::decode_with(record, &mut resolve) {
            Ok(rec) => rec,
            Err(e) => {
                // Encoded by this process a moment ago: cannot happen.
                tracing::error!(
                    reason = e.reason,
                    "cannot decode a refused batch to undo it"
                );
                return;
            }
        };
        let mut removed = 0;
        for (id, samples) in &rec.groups {
            if let Some(s) = self.by_id(*id) {
                removed += lock(&s.data).remove(samples, self.opts.cut);
            }
        }
        for (id, hs) in &rec.histograms {
            if let Some(s) = self.by_id(*id) {
                removed += lock(&s.data).remove_histograms(hs);
            }
        }
        // Series this batch created and nobody else has written since: as
        // if they had never been named.
        let mut dropped = 0;
        for (id, _) in &rec.defs {
            let Some(s) = self.by_id(*id) else { continue };
            if s.def_durable.load(Ordering::Acquire) {
                continue;
            }
            {
                let mut d = lock(&s.data);
                if d.deleted || !d.idle_before(i64::MIN) {
                    continue;
                }
                d.deleted = true;
            }
            self.unlink(&s);
            dropped += 1;
        }
        if dropped > 0 {
            self.sent.forget();
        }
        tracing::debug!(removed, dropped, "refused batch taken back out of the head");
    }
}

impl SeriesData {
    /// Removes these samples wherever they sit (out-of-order map, open or
    /// sealed chunks); returns how many were found.
    pub(super) fn remove(&mut self, samples: &[Sample], cut: CutPolicy) -> usize {
        let mut found = 0;
        let mut in_order: HashSet<(i64, u64)> = HashSet::new();
        for x in samples {
            let bits = x.v.to_bits();
            if self.ooo.get(&x.t) == Some(&bits) {
                self.ooo.remove(&x.t);
                found += 1;
            } else {
                in_order.insert((x.t, bits));
            }
        }
        let Some(oldest) = in_order.iter().map(|&(t, _)| t).min() else {
            return found;
        };
        // Rebuild the chunks that may hold them: the sealed ones from the
        // first ending at or after the oldest, and the open one.
        let from = self.sealed.partition_point(|c| c.max_t < oldest);
        let mut kept: Vec<Sample> = Vec::new();
        for c in &self.sealed[from..] {
            kept.extend(c.chunk.iter());
        }
        kept.extend(self.open.to_chunk().iter());
        let before = kept.len();
        kept.retain(|x| !in_order.contains(&(x.t, x.v.to_bits())));
        found += before - kept.len();
        let mut index = 0;
        self.sealed.retain(|_| {
            index += 1;
            index <= from
        });
        self.open = XorAppender::new();
        let newest_removed = self
            .newest()
            .is_some_and(|(t, bits)| in_order.contains(&(t, bits)));
        for &x in &kept {
            if cut.should_cut(&self.open, x.t) {
                self.seal_open();
            }
            if self.open.append(x).is_err() {
                self.seal_open();
                let _ = self.open.append(x);
            }
        }
        if newest_removed {
            let newest = kept
                .last()
                .or(self
                    .sealed
                    .last()
                    .and_then(|c| c.chunk.iter().last())
                    .as_ref())
                .map(|x| (x.t, x.v.to_bits()));
            self.set_newest(newest);
        }
        found
    }
}
