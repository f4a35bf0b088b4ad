//! The `hourglass` binary run as a command (import, export, promql…), and
//! the files it reads.

use crate::common::server::BIN;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `hourglass <args>`: (success, stdout, stderr).
pub fn hourglass(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("run hourglass");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `hourglass import [extra] --data-dir <dir> <input>`.
pub fn import(dir: &Path, input: &Path, extra: &[&str]) -> (bool, String, String) {
    let (dir, input) = (dir.to_str().unwrap(), input.to_str().unwrap());
    hourglass(&[&["import", "--data-dir", dir, input], extra].concat())
}

/// Writes `contents` to `<dir>/<name>` and returns the path.
pub fn input_file(dir: &Path, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write input file");
    path
}

/// Bytes of the files in the partition directories below `<data>/parts`
/// (a directory or file a running compactor removes meanwhile counts 0).
pub fn parts_bytes(data: &Path) -> u64 {
    let mut total = 0;
    let Ok(parts) = std::fs::read_dir(data.join("parts")) else {
        return 0;
    };
    for e in parts.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir())
            && let Ok(files) = std::fs::read_dir(e.path())
        {
            total += files
                .flatten()
                .filter_map(|f| f.metadata().ok())
                .map(|m| m.len())
                .sum::<u64>();
        }
    }
    total
}

/// [`parts_bytes`] once two readings half a second apart agree (a
/// background compaction has finished its swap), or after a minute.
pub fn settled_parts_bytes(data: &Path) -> u64 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut last = parts_bytes(data);
    loop {
        std::thread::sleep(std::time::Duration::from_millis(500));
        let now = parts_bytes(data);
        if now == last || std::time::Instant::now() > deadline {
            return now;
        }
        last = now;
    }
}
