//! Replay's decoding side: reading the checkpoint and the log, unpacking
//! and decoding each record, on a thread of its own while the head applies
//! the records decoded before (`replay.rs`), in log order.
//!
//! A version 3 group is coded against its series' previous sample
//! (`linked_records`), which replay finds by its time. The head may not
//! hold it yet (it applies a few records behind), so the decoder keeps
//! each series' newest decoded sample and looks there first; the head
//! (the checkpoint, and records applied already) comes next. A base found
//! neither way is what sequential replay would not have found either,
//! except a sample older than its series' newest in a record the head has
//! not applied yet: such a group is reported unlinked and tried again once
//! every record is in, as any group waiting for its base.

use super::checkpoint_records::{self, SeriesEntry};
use super::intern::{Interner, SeriesLabels};
use super::linked_records;
use super::wal_records::{BatchRecord, RecordError};
use super::{Head, lock};
use crate::error::StorageError;
use crate::model::labels::StrHasher;
use crate::model::refs::{HeadRef, PostingId};
use hourglass_wal::{Lsn, Wal};
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

/// Series refs up to this many are remembered by the decoder (16 bytes
/// each); refs beyond it are looked up in the head only.
const SHADOW_MAX: usize = 1 << 24;

/// A record's contents.
pub(super) enum Decoded {
    /// With each series' labels as the head's numbers, found here on the
    /// decoding thread rather than by the head as it applies them.
    Series(Vec<(SeriesEntry, SeriesLabels)>),
    Batch(BatchRecord),
}

/// One record as the decoder hands it over.
pub(super) struct Item {
    pub(super) lsn: u64,
    /// Whether it is a checkpoint's (whose samples never wait).
    pub(super) checkpoint: bool,
    /// Its bytes, to decode again against the head (empty for series
    /// records, which need no base).
    pub(super) data: Vec<u8>,
    pub(super) decoded: Result<Decoded, StorageError>,
    /// The bases taken from the decoder's own memory (series ref, time,
    /// value bits): the head must hold them too when the record is
    /// applied, else the record is decoded again against the head.
    pub(super) bases: Vec<(HeadRef, i64, u64)>,
}

impl Item {
    /// Whether decoding ahead of the head may have decided otherwise
    /// than decoding against the head would now: a group without its
    /// base, or a base the head does not hold.
    pub(super) fn decode_again(&self, head: &Head) -> bool {
        let unlinked = matches!(&self.decoded, Ok(Decoded::Batch(r)) if !r.unlinked.is_empty());
        if unlinked {
            return true;
        }
        // One look at the series table for the whole record.
        let by_id = super::read(&head.by_id);
        self.bases.iter().any(|&(id, t, bits)| {
            by_id
                .get(id.index())
                .and_then(Option::as_ref)
                .and_then(|s| lock(&s.data).stored_at(t))
                .is_none_or(|b| b != bits)
        })
    }
}

/// Decodes a record; `resolve` finds a linked group's base sample, a
/// series record's label strings come from `interner`.
pub(super) fn decode_record(
    lsn: u64,
    data: &[u8],
    resolve: &mut dyn FnMut(HeadRef, i64) -> Option<u64>,
    interner: &Interner,
) -> Result<Decoded, StorageError> {
    let bad = |e: RecordError| StorageError::BadWalRecord {
        lsn,
        offset: e.offset,
        reason: e.reason,
    };
    if checkpoint_records::is_series_record(data) {
        // The record's strings by the address of their shared copy.
        let mut numbers: HashMap<usize, u32, BuildHasherDefault<StrHasher>> = HashMap::default();
        let entries = checkpoint_records::decode_with(data, &mut |s| {
            let (n, x) = interner.intern_str(s);
            numbers.insert(x.as_ptr().cast::<u8>() as usize, n);
            x
        })
        .map_err(bad)?;
        let known = |s: &Arc<str>| numbers.get(&(s.as_ptr().cast::<u8>() as usize)).copied();
        return Ok(Decoded::Series(
            entries
                .into_iter()
                .map(|e| {
                    let l = interner.series_labels_with(&e.labels, known);
                    (e, l)
                })
                .collect(),
        ));
    }
    linked_records::decode_with(data, resolve)
        .map(Decoded::Batch)
        .map_err(bad)
}

/// Each series' newest sample decoded so far (time, value bits), by ref.
#[derive(Default)]
struct Shadow {
    newest: Vec<(i64, u64)>,
}

impl Shadow {
    fn get(&self, id: HeadRef, t: i64) -> Option<u64> {
        match self.newest.get(id.index()) {
            Some(&(nt, bits)) if nt == t && t != i64::MIN => Some(bits),
            _ => None,
        }
    }

    fn note(&mut self, id: HeadRef, t: i64, bits: u64) {
        let i = id.index();
        if i >= SHADOW_MAX {
            return;
        }
        if self.newest.len() <= i {
            self.newest.resize(i + 1, (i64::MIN, 0));
        }
        // The first value stored at a time is the one kept.
        if t > self.newest[i].0 {
            self.newest[i] = (t, bits);
        }
    }

    fn note_decoded(&mut self, d: &Decoded) {
        match d {
            Decoded::Batch(rec) => {
                for (id, samples) in &rec.groups {
                    if let Some(last) = samples.iter().max_by_key(|s| s.t) {
                        self.note(*id, last.t, last.v.to_bits());
                    }
                }
            }
            // The checkpoint's newest samples: the bases of the records
            // after it, before the head has adopted them.
            Decoded::Series(entries) => {
                for (e, _) in entries {
                    if let Some((t, bits)) = e.newest {
                        self.note(e.id, t, bits);
                    }
                    if let Some(last) = e.chunks.last()
                        && e.newest.is_none_or(|(t, _)| t < last.max_t)
                        && let Some(x) = last.chunk.iter().last()
                    {
                        self.note(e.id, x.t, x.v.to_bits());
                    }
                }
            }
        }
    }
}

impl Head {
    /// The value bits series `id` holds at `t`, if any.
    pub(super) fn stored_value(&self, id: HeadRef, t: i64) -> Option<u64> {
        self.by_id(id).and_then(|s| lock(&s.data).stored_at(t))
    }

    /// Reads and decodes the checkpoint, then the records after it, in
    /// log order, handing each to `send` until it returns false. A failure
    /// to read the log is handed over as an `Err` and ends reading.
    pub(super) fn decode_log(
        &self,
        wal: &Wal,
        send: &mut dyn FnMut(Result<Item, StorageError>) -> bool,
    ) {
        let mut shadow = Shadow::default();
        let mut from = Lsn(0);
        match wal.read_checkpoint() {
            Err(e) => {
                send(Err(e.into()));
                return;
            }
            Ok(None) => {}
            Ok(Some((upto, recs))) => {
                for r in recs {
                    let item = r
                        .map_err(StorageError::from)
                        .map(|data| self.decode_item(upto.0, true, data, &mut shadow));
                    if !send(item) {
                        return;
                    }
                }
                from = upto;
            }
        }
        let records = match wal.replay(from) {
            Ok(r) => r,
            Err(e) => {
                send(Err(e.into()));
                return;
            }
        };
        for r in records {
            let item = r
                .map_err(StorageError::from)
                .map(|r| self.decode_item(r.lsn.0, false, r.data, &mut shadow));
            if !send(item) {
                return;
            }
        }
    }

    /// Decodes a record against the shadow, then the head, and notes its
    /// samples in the shadow.
    fn decode_item(&self, lsn: u64, checkpoint: bool, data: Vec<u8>, shadow: &mut Shadow) -> Item {
        let mut bases = Vec::new();
        let mut resolve = |id: HeadRef, t| match shadow.get(id, t) {
            Some(bits) => {
                bases.push((id, t, bits));
                Some(bits)
            }
            None => self.stored_value(id, t),
        };
        let decoded = decode_record(lsn, &data, &mut resolve, &self.interner);
        if let Ok(d) = &decoded {
            shadow.note_decoded(d);
        }
        let series = matches!(decoded, Ok(Decoded::Series(_)));
        Item {
            lsn,
            checkpoint,
            data: if series { Vec::new() } else { data },
            decoded,
            bases,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::HeadOptions;
    use super::super::linked_records::RecordWriter;
    use super::*;
    use crate::model::labels::Labels;
    use crate::model::sample::Sample;

    fn record(f: impl FnOnce(&mut RecordWriter)) -> Vec<u8> {
        let mut w = RecordWriter::with_capacity(4);
        f(&mut w);
        w.finish()
    }

    /// A record set aside when applied was still decoded, and remembered
    /// by the decoder: a later group coded against one of its samples
    /// must not be linked to it, as replay against the head would not.
    #[test]
    fn a_base_only_the_decoder_saw_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let wal = Wal::open(dir.path(), hourglass_wal::Options::default()).unwrap();
        let id = HeadRef::from_raw(0);
        let x = Labels::from_pairs([("__name__", "x")]);
        let y = Labels::from_pairs([("__name__", "y")]);
        let (t1, t2, t3) = (1_000, 2_000, 3_000);
        wal.append(&record(|w| {
            w.def(id, &x);
            w.group(id, &[Sample::new(t1, 5.0)], None);
        }))
        .unwrap();
        // Redefines the ref: set aside when applied.
        wal.append(&record(|w| {
            w.def(id, &y);
            w.group(id, &[Sample::new(t2, 7.0)], Some((t1, 5.0f64.to_bits())));
        }))
        .unwrap();
        wal.append(&record(|w| {
            w.group(id, &[Sample::new(t3, 8.0)], Some((t2, 7.0f64.to_bits())));
        }))
        .unwrap();
        let head = Head::new(HeadOptions::default());
        let stats = head.replay(&wal).unwrap();
        assert_eq!(stats.undecodable_records, 1);
        assert_eq!(stats.samples, 1);
        assert_eq!(stats.unlinked_samples, 1);
        let s = head.by_id(id).unwrap();
        assert_eq!(lock(&s.data).max_t(), Some(t1));
    }

    /// Bases in the decoder's memory that the head holds too are used:
    /// a scrape-aligned log replays whole, every group linked.
    #[test]
    fn linked_groups_replay_whole_through_the_decoder() {
        let dir = tempfile::tempdir().unwrap();
        let wal = Wal::open(dir.path(), hourglass_wal::Options::default()).unwrap();
        let ids: Vec<HeadRef> = (0..50).map(HeadRef::from_raw).collect();
        let mut newest = vec![None; ids.len()];
        for round in 0..200i64 {
            wal.append(&record(|w| {
                for (i, &id) in ids.iter().enumerate() {
                    if round == 0 {
                        w.def(
                            id,
                            &Labels::from_pairs([("__name__", format!("m{i}").as_str())]),
                        );
                    }
                    let s = Sample::new(round * 15_000, (round * i as i64) as f64 / 100.0);
                    w.group(id, &[s], newest[i]);
                    newest[i] = Some((s.t, s.v.to_bits()));
                }
            }))
            .unwrap();
        }
        let head = Head::new(HeadOptions::default());
        let stats = head.replay(&wal).unwrap();
        assert_eq!(stats.samples, 200 * 50);
        assert_eq!(stats.samples_set_aside(), 0);
        for (i, &id) in ids.iter().enumerate() {
            let s = head.by_id(id).unwrap();
            assert_eq!(lock(&s.data).newest(), newest[i]);
        }
    }
}
