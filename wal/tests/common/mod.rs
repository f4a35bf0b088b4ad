#![allow(dead_code)]

use hourglass_wal::fs::{FaultyFs, Fs};
use hourglass_wal::{Lsn, Options, Record, SyncPolicy, Wal};
use std::path::Path;
use std::sync::Arc;

pub const DIR: &str = "/wal";

pub fn opts(segment_size: u64, sync: SyncPolicy) -> Options {
    Options {
        segment_size,
        sync,
        ..Options::default()
    }
}

pub fn open(fs: &FaultyFs, o: Options) -> Wal {
    Wal::open_with(Arc::new(fs.clone()), DIR, o).unwrap()
}

pub fn replay_all(wal: &Wal) -> Vec<Record> {
    wal.replay(Lsn(0))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

pub fn data(records: &[Record]) -> Vec<Vec<u8>> {
    records.iter().map(|r| r.data.clone()).collect()
}

/// Segment files of the log, in order, with their bytes.
pub fn segments(fs: &FaultyFs) -> Vec<(String, Vec<u8>)> {
    let mut names: Vec<String> = fs
        .list_dir(Path::new(DIR))
        .unwrap()
        .into_iter()
        .filter(|e| !e.is_dir && e.name.len() == 8 && e.name.bytes().all(|b| b.is_ascii_digit()))
        .map(|e| e.name)
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let bytes = fs.file_bytes(&Path::new(DIR).join(&n)).unwrap();
            (n, bytes)
        })
        .collect()
}

/// A fresh file system holding exactly these segment files.
pub fn fs_with(files: &[(String, Vec<u8>)]) -> FaultyFs {
    let fs = FaultyFs::new();
    fs.create_dir_all(Path::new(DIR)).unwrap();
    for (name, bytes) in files {
        fs.write_file(&Path::new(DIR).join(name), bytes).unwrap();
    }
    fs
}

/// Deterministic payload for appender `t`'s `j`-th record, so a replayed
/// record can be checked byte for byte without remembering it.
pub fn payload(t: u32, j: u32) -> Vec<u8> {
    let mut p = format!("t{t}-{j}-").into_bytes();
    let len = ((t * 7 + j * 13) % 300) as usize;
    p.extend(std::iter::repeat_n(((t * 31 + j) % 251) as u8, len));
    p
}

/// Parses and re-derives a payload; false for anything half-written.
pub fn payload_is_whole(p: &[u8]) -> bool {
    let field = |bytes: &[u8]| -> Option<(u32, usize)> {
        let end = bytes.iter().position(|&b| b == b'-')?;
        let n = std::str::from_utf8(&bytes[..end]).ok()?.parse().ok()?;
        Some((n, end + 1))
    };
    let Some(rest) = p.strip_prefix(b"t") else {
        return false;
    };
    let Some((t, used)) = field(rest) else {
        return false;
    };
    match field(&rest[used..]) {
        Some((j, _)) => payload(t, j) == p,
        None => false,
    }
}
