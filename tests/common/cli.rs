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

/// Bytes of the files in the partition directories below `<data>/parts`.
pub fn parts_bytes(data: &Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(data.join("parts")).unwrap().flatten() {
        if e.file_type().unwrap().is_dir() {
            for f in std::fs::read_dir(e.path()).unwrap().flatten() {
                total += f.metadata().unwrap().len();
            }
        }
    }
    total
}
