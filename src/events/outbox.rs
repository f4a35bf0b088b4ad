//! The durable outbox: events appended to segment files in
//! `<data-dir>/events/` before anything delivers them, numbered in order,
//! kept for a configured time and size, recovered after a crash (a torn
//! tail is cut off). Everything goes through the WAL's file-system seam,
//! so tests can drop unsynced writes and fill the disk.

use super::segment::{self, Record};
use hourglass_wal::fs::{Fs, WalFile};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Segment file suffix.
const SUFFIX: &str = ".seg";

/// How much the outbox keeps.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Segments whose newest event is older than this are removed (ms; 0
    /// keeps them).
    pub max_age_ms: i64,
    /// Oldest segments are removed while all together are larger (0: no
    /// limit).
    pub max_bytes: u64,
    /// A segment is closed and a new one started past this size.
    pub segment_bytes: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_age_ms: 24 * 3_600_000,
            max_bytes: 1 << 30,
            segment_bytes: 16 << 20,
        }
    }
}

/// An outbox failure.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// A file operation failed.
    #[error("event outbox {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OutboxError + '_ {
    move |source| OutboxError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One segment's bookkeeping.
#[derive(Debug, Clone)]
struct Meta {
    first_seq: u64,
    /// One past its last record.
    end_seq: u64,
    bytes: u64,
    newest_ms: i64,
    path: PathBuf,
}

/// What recovery found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Records kept.
    pub records: u64,
    /// Bytes cut from the end of the last segment (a torn write).
    pub torn_bytes: u64,
    /// Segments that could not be read and were set aside.
    pub damaged_segments: Vec<String>,
}

/// The outbox.
#[derive(Debug)]
pub struct Outbox {
    fs: Arc<dyn Fs>,
    dir: PathBuf,
    retention: Retention,
    segments: Vec<Meta>,
    file: Option<Arc<dyn WalFile>>,
    next_seq: u64,
}

fn name(first_seq: u64) -> String {
    format!("{first_seq:020}{SUFFIX}")
}

impl Outbox {
    /// Opens (or creates) the outbox in `dir`, cutting a torn tail off.
    pub fn open(
        fs: Arc<dyn Fs>,
        dir: &Path,
        retention: Retention,
    ) -> Result<(Outbox, Recovered), OutboxError> {
        fs.create_dir_all(dir).map_err(io(dir))?;
        let mut firsts: Vec<(u64, String)> = fs
            .list_dir(dir)
            .map_err(io(dir))?
            .into_iter()
            .filter(|e| !e.is_dir)
            .filter_map(|e| {
                let n: u64 = e.name.strip_suffix(SUFFIX)?.parse().ok()?;
                Some((n, e.name))
            })
            .collect();
        firsts.sort_unstable();
        let mut rec = Recovered::default();
        let mut segments = Vec::new();
        let count = firsts.len();
        for (i, (first, file)) in firsts.into_iter().enumerate() {
            let path = dir.join(&file);
            let bytes = fs.read(&path).map_err(io(&path))?;
            let last = i + 1 == count;
            let d = match segment::decode(&bytes) {
                Ok(d) if d.first_seq == first => d,
                Ok(_) | Err(_) if last && bytes.len() < segment::HEADER_LEN => {
                    // A segment created just before a crash: start it again.
                    fs.remove_file(&path).map_err(io(&path))?;
                    continue;
                }
                other => {
                    tracing::error!(segment = %path.display(), result = ?other.err(), "event segment unreadable; set aside");
                    let aside = dir.join(format!("{file}.damaged"));
                    fs.rename(&path, &aside).map_err(io(&path))?;
                    rec.damaged_segments.push(file);
                    continue;
                }
            };
            if let Some(stop) = &d.stop {
                if last {
                    rec.torn_bytes = (bytes.len() - d.valid_len) as u64;
                    tracing::warn!(segment = %path.display(), offset = stop.offset, reason = stop.reason, "event outbox: torn tail cut off");
                    let f = fs.open_append(&path).map_err(io(&path))?;
                    f.truncate(d.valid_len as u64).map_err(io(&path))?;
                    f.sync().map_err(io(&path))?;
                } else {
                    tracing::error!(segment = %path.display(), offset = stop.offset, reason = stop.reason, "event segment damaged; records after the damage are lost");
                }
            }
            rec.records += d.records.len() as u64;
            segments.push(Meta {
                first_seq: first,
                end_seq: first + d.records.len() as u64,
                bytes: d.valid_len as u64,
                newest_ms: d.records.last().map_or(0, |r| r.at_ms),
                path,
            });
        }
        let next_seq = segments.last().map_or(1, |m| m.end_seq);
        let mut outbox = Outbox {
            fs,
            dir: dir.to_path_buf(),
            retention,
            segments,
            file: None,
            next_seq,
        };
        if let Some(m) = outbox.segments.last() {
            let f = outbox.fs.open_append(&m.path).map_err(io(&m.path))?;
            outbox.file = Some(f);
        }
        Ok((outbox, rec))
    }

    /// The number the next appended event gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The oldest number still kept (`next_seq` when empty).
    pub fn oldest_seq(&self) -> u64 {
        self.segments
            .iter()
            .find(|m| m.end_seq > m.first_seq)
            .map_or(self.next_seq, |m| m.first_seq)
    }

    /// Bytes on disk.
    pub fn bytes(&self) -> u64 {
        self.segments.iter().map(|m| m.bytes).sum()
    }

    /// Appends `payloads` as one write and one fsync; returns the first
    /// number given. On failure nothing is numbered and the file is cut
    /// back, so a later append continues a clean tail.
    pub fn append(&mut self, at_ms: i64, payloads: &[Vec<u8>]) -> Result<u64, OutboxError> {
        let first = self.next_seq;
        let mut buf = Vec::new();
        let mut seq = first;
        for p in payloads {
            if segment::encode_record(&mut buf, seq, at_ms, p).is_some() {
                seq += 1;
            } else {
                tracing::error!(len = p.len(), "event too large for the outbox; dropped");
            }
        }
        if seq == first {
            return Ok(first);
        }
        let roll = self
            .segments
            .last()
            .is_none_or(|m| m.bytes >= self.retention.segment_bytes);
        if roll || self.file.is_none() {
            self.start_segment(first)?;
        }
        let (Some(file), Some(meta)) = (self.file.clone(), self.segments.last_mut()) else {
            return Ok(first);
        };
        let path = meta.path.clone();
        let wrote = file.write_all(&buf).and_then(|()| file.sync());
        if let Err(e) = wrote {
            // Best effort: the next open cuts whatever is left anyway.
            let _ = file.truncate(meta.bytes);
            return Err(io(&path)(e));
        }
        meta.bytes += buf.len() as u64;
        meta.end_seq = seq;
        meta.newest_ms = at_ms;
        self.next_seq = seq;
        Ok(first)
    }

    fn start_segment(&mut self, first: u64) -> Result<(), OutboxError> {
        let path = self.dir.join(name(first));
        let file = self.fs.create(&path).map_err(io(&path))?;
        let h = segment::header(first);
        file.write_all(&h)
            .and_then(|()| file.sync())
            .map_err(io(&path))?;
        self.fs.sync_dir(&self.dir).map_err(io(&self.dir))?;
        self.segments.push(Meta {
            first_seq: first,
            end_seq: first,
            bytes: h.len() as u64,
            newest_ms: 0,
            path,
        });
        self.file = Some(file);
        Ok(())
    }

    /// Removes closed segments past the retention (never the one being
    /// written); returns the events removed.
    pub fn apply_retention(&mut self, now_ms: i64) -> u64 {
        let mut removed = 0;
        while self.segments.len() > 1 {
            let total = self.bytes();
            let old = &self.segments[0];
            let too_old =
                self.retention.max_age_ms > 0 && old.newest_ms < now_ms - self.retention.max_age_ms;
            let too_big = self.retention.max_bytes > 0 && total > self.retention.max_bytes;
            if !too_old && !too_big {
                break;
            }
            if let Err(e) = self.fs.remove_file(&old.path) {
                tracing::error!(segment = %old.path.display(), error = %e, "cannot remove an event segment");
                break;
            }
            removed += old.end_seq - old.first_seq;
            self.segments.remove(0);
        }
        removed
    }

    /// Up to `max` records from `from` on, read from disk (`from` older
    /// than the oldest kept starts at the oldest).
    pub fn read(&self, from: u64, max: usize) -> Result<Vec<Record>, OutboxError> {
        let mut out = Vec::new();
        for m in &self.segments {
            if m.end_seq <= from || out.len() >= max {
                continue;
            }
            let bytes = self.fs.read(&m.path).map_err(io(&m.path))?;
            // Only the records asked for are copied out of the segment.
            if let Ok(records) = segment::decode_range(&bytes, from, max - out.len()) {
                out.extend(records.into_iter().filter(|r| r.seq < m.end_seq));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hourglass_wal::fs::FaultyFs;

    fn open(fs: &Arc<FaultyFs>, r: Retention) -> (Outbox, Recovered) {
        let fs: Arc<dyn Fs> = Arc::clone(fs) as Arc<dyn Fs>;
        Outbox::open(fs, Path::new("/d/events"), r).unwrap()
    }

    fn payloads(from: u64, n: u64) -> Vec<Vec<u8>> {
        (from..from + n)
            .map(|i| format!("e{i}").into_bytes())
            .collect()
    }

    #[test]
    fn appended_events_survive_a_restart_numbered_in_order() {
        let fs = Arc::new(FaultyFs::new());
        let (mut o, _) = open(&fs, Retention::default());
        assert_eq!(o.append(10, &payloads(1, 3)).unwrap(), 1);
        assert_eq!(o.append(11, &payloads(4, 2)).unwrap(), 4);
        drop(o);
        fs.crash();
        fs.restart();
        let (o, rec) = open(&fs, Retention::default());
        assert_eq!(rec.records, 5);
        assert_eq!(o.next_seq(), 6);
        let got = o.read(2, 10).unwrap();
        assert_eq!(got.len(), 4);
        assert_eq!(got[0].payload, b"e2");
        assert_eq!(got[3].seq, 5);
    }

    #[test]
    fn unsynced_torn_tail_is_cut_and_numbering_continues() {
        let fs = Arc::new(FaultyFs::new());
        let (mut o, _) = open(&fs, Retention::default());
        o.append(10, &payloads(1, 3)).unwrap();
        // A write that never reached its fsync: half of it is on disk.
        fs.fail_next_syncs(1);
        assert!(o.append(11, &payloads(4, 3)).is_err());
        drop(o);
        fs.crash_torn(7);
        fs.restart();
        let (mut o, _) = open(&fs, Retention::default());
        assert_eq!(o.next_seq(), 4);
        assert_eq!(o.append(12, &payloads(4, 1)).unwrap(), 4);
        let got: Vec<u64> = o.read(1, 10).unwrap().iter().map(|r| r.seq).collect();
        assert_eq!(got, [1, 2, 3, 4]);
    }

    #[test]
    fn disk_full_refuses_the_append_and_recovers_after() {
        let fs = Arc::new(FaultyFs::new());
        let (mut o, _) = open(&fs, Retention::default());
        o.append(10, &payloads(1, 2)).unwrap();
        fs.set_disk_full(true);
        let e = o.append(11, &payloads(3, 2)).unwrap_err().to_string();
        assert!(e.contains("events"), "{e}");
        fs.set_disk_full(false);
        assert_eq!(o.append(12, &payloads(3, 2)).unwrap(), 3);
        let (o2, rec) = open(&fs, Retention::default());
        assert_eq!(rec.records, 4);
        assert_eq!(o2.read(1, 10).unwrap().len(), 4);
    }

    #[test]
    fn retention_removes_old_and_oversized_segments_but_not_the_current() {
        let fs = Arc::new(FaultyFs::new());
        let r = Retention {
            max_age_ms: 1000,
            max_bytes: 0,
            segment_bytes: 64,
        };
        let (mut o, _) = open(&fs, r);
        for i in 0..6 {
            o.append(i * 100, &payloads(i as u64 * 4 + 1, 4)).unwrap();
        }
        assert_eq!(o.segments.len(), 6);
        let removed = o.apply_retention(1150);
        assert_eq!(removed, 8, "segments with newest 0 and 100 are past 1 s");
        assert_eq!(o.oldest_seq(), 9);
        assert_eq!(o.read(1, 100).unwrap()[0].seq, 9);
        o.retention.max_bytes = 1;
        o.apply_retention(1150);
        assert_eq!(o.segments.len(), 1);
        let (o2, _) = open(&fs, r);
        assert_eq!(o2.oldest_seq(), 21);
        assert_eq!(o2.next_seq(), 25);
    }

    #[test]
    fn a_damaged_closed_segment_is_set_aside_and_the_rest_kept() {
        let fs = Arc::new(FaultyFs::new());
        let r = Retention {
            segment_bytes: 32,
            ..Retention::default()
        };
        let (mut o, _) = open(&fs, r);
        for i in 0..3 {
            o.append(i, &payloads(i as u64 * 2 + 1, 2)).unwrap();
        }
        let first = Path::new("/d/events").join(name(1));
        let mut b = fs.file_bytes(&first).unwrap();
        b[0] = b'X';
        Arc::clone(&fs).write_file(&first, &b).unwrap();
        fs.sync_dir(Path::new("/d/events")).unwrap();
        let (o, rec) = open(&fs, r);
        assert_eq!(rec.damaged_segments, [name(1)]);
        assert_eq!(o.oldest_seq(), 3);
        assert_eq!(o.next_seq(), 7);
    }
}
