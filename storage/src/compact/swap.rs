//! Replacing partitions by their compacted copy, crash-safe:
//!
//! 1. the new partition is written to `.tmp-<out>/`, every file and the
//!    directory fsynced;
//! 2. the journal (inputs → output) is written and fsynced, `parts/` too;
//! 3. `.tmp-<out>` is renamed to `<out>`, `parts/` fsynced: the commit;
//! 4. each input is renamed to `.del-<name>` and removed;
//! 5. the journal is removed.
//!
//! [`recover`] runs at open and before each compaction: a journal whose
//! output exists (or that names no output) is finished (step 4); one whose
//! output never appeared is undone (the temp copy goes); a torn journal
//! was never committed. So a crash at any step leaves either the inputs or
//! the output, never both, never neither.

use super::journal::{JOURNAL, Journal};
use crate::error::StorageError;
use crate::partition::{Encoded, Partition, publish, write_tmp};
use crate::retention::delete_dir;
use hourglass_wal::fs::Fs;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

fn io(path: &Path) -> impl Fn(std::io::Error) -> StorageError + '_ {
    move |source| StorageError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn name_of(p: &Partition) -> String {
    p.dir()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Writes `enc` (none: the inputs held nothing that stays) as `out_name`
/// and swaps it in for `inputs`. Returns the opened output. `stop` set
/// once the copy is written gives up before the journal: the copy goes,
/// [`StorageError::Interrupted`].
pub(crate) fn swap(
    fs: &dyn Fs,
    parts: &Path,
    inputs: &[Arc<Partition>],
    enc: Option<(&Encoded, &str)>,
    stop: &AtomicBool,
) -> Result<Option<Arc<Partition>>, StorageError> {
    let tmp = match enc {
        Some((enc, name)) => Some((write_tmp(fs, parts, name, enc)?, name)),
        None => None,
    };
    if stop.load(Ordering::Relaxed) {
        if let Some((t, _)) = &tmp {
            let _ = fs.remove_dir_all(t);
        }
        return Err(StorageError::Interrupted);
    }
    let journal = Journal {
        inputs: inputs.iter().map(|p| name_of(p)).collect(),
        output: tmp.as_ref().map(|(_, n)| n.to_string()),
    };
    let jpath = parts.join(JOURNAL);
    let logged = (|| {
        let f = fs.create(&jpath)?;
        f.write_all(&journal.encode())?;
        f.sync()?;
        fs.sync_dir(parts)
    })();
    if let Err(e) = logged {
        // Nothing is committed: the inputs stay, the copy goes.
        let _ = fs.remove_file(&jpath);
        if let Some((t, _)) = &tmp {
            let _ = fs.remove_dir_all(t);
        }
        return Err(io(&jpath)(e));
    }
    let out = match &tmp {
        Some((t, name)) => {
            if let Err(e) = publish(fs, parts, t, name) {
                if !fs.exists(&parts.join(name)) {
                    let _ = fs.remove_dir_all(t);
                    let _ = fs.remove_file(&jpath);
                    return Err(e.into());
                }
                // Renamed, only its fsync failed: committed all the same.
                tracing::warn!(error = %e, "compacted partition visible; syncing parts/ failed");
            }
            Some(Arc::new(Partition::open_with(fs, parts.join(name))?))
        }
        None => None,
    };
    // Committed. A failure from here on leaves the journal for
    // `recover`, and the caller serves the output alone meanwhile.
    if let Err(e) = finish(fs, parts, &journal) {
        tracing::warn!(error = %e, "compaction committed; removing its inputs failed, retried later");
    }
    Ok(out)
}

/// Step 4 and 5: removes the inputs still present, then the journal.
fn finish(fs: &dyn Fs, parts: &Path, j: &Journal) -> Result<(), StorageError> {
    for n in &j.inputs {
        let dir = parts.join(n);
        if fs.exists(&dir) {
            delete_dir(fs, &dir).map_err(io(&dir))?;
        }
    }
    let jpath = parts.join(JOURNAL);
    fs.remove_file(&jpath).map_err(io(&jpath))?;
    fs.sync_dir(parts).map_err(io(parts))
}

/// Finishes or undoes a swap a crash (or an error) interrupted.
pub(crate) fn recover(fs: &dyn Fs, parts: &Path) -> Result<(), StorageError> {
    let jpath = parts.join(JOURNAL);
    if !fs.exists(&jpath) {
        return Ok(());
    }
    let bytes = fs.read(&jpath).map_err(io(&jpath))?;
    match Journal::decode(&bytes) {
        Ok(j) if j.output.as_ref().is_none_or(|o| fs.exists(&parts.join(o))) => {
            tracing::info!(inputs = ?j.inputs, output = ?j.output, "finishing an interrupted compaction");
            finish(fs, parts, &j)
        }
        Ok(j) => {
            tracing::info!(inputs = ?j.inputs, "undoing a compaction that never committed");
            if let Some(o) = &j.output {
                let tmp = parts.join(format!(".tmp-{o}"));
                if fs.exists(&tmp) {
                    fs.remove_dir_all(&tmp).map_err(io(&tmp))?;
                }
            }
            fs.remove_file(&jpath).map_err(io(&jpath))?;
            fs.sync_dir(parts).map_err(io(parts))
        }
        Err(e) => {
            // Torn before its fsync completed: step 3 never ran.
            tracing::info!(error = %e, "dropping a compaction journal that never committed");
            fs.remove_file(&jpath).map_err(io(&jpath))?;
            fs.sync_dir(parts).map_err(io(parts))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::labels::Labels;
    use crate::model::sample::Sample;
    use crate::partition::{HOUR_MS, PartSeries, encode};
    use hourglass_wal::fs::FaultyFs;

    #[test]
    fn a_stop_once_the_copy_is_written_removes_it_and_commits_nothing() {
        let fs = FaultyFs::new();
        let parts = Path::new("/data/parts");
        fs.create_dir_all(parts).unwrap();
        let samples = [Sample::new(0, 1.0), Sample::new(15_000, 2.0)];
        let series = vec![PartSeries {
            labels: Labels::from_pairs([("__name__", "m")]),
            chunks: crate::chunk::encode_cold_runs(&samples),
            histograms: Vec::new(),
        }];
        let enc = encode(0, HOUR_MS, 1, series, "job").unwrap();
        let r = swap(&fs, parts, &[], Some((&enc, "out")), &AtomicBool::new(true));
        assert!(matches!(r, Err(StorageError::Interrupted)), "{r:?}");
        assert!(
            fs.list_dir(parts).unwrap().is_empty(),
            "no copy, no journal"
        );
        let done = swap(
            &fs,
            parts,
            &[],
            Some((&enc, "out")),
            &AtomicBool::new(false),
        );
        assert!(done.unwrap().is_some());
        let names: Vec<String> = fs
            .list_dir(parts)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["out"]);
    }
}
