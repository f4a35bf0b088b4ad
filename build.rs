//! Stamps the binary with its git revision, compiler and build date.

use std::process::Command;

fn output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

fn main() {
    // Watch the files that move with a commit. In a git worktree `.git` is
    // a file, so ask git where HEAD and the refs live; a path that does not
    // exist would make cargo rerun this script (and relink) on every build.
    println!("cargo:rerun-if-changed=build.rs");
    let git_dir = output("git", &["rev-parse", "--git-dir"]);
    let common = output("git", &["rev-parse", "--git-common-dir"]);
    let watched = [
        git_dir.as_ref().map(|d| format!("{d}/HEAD")),
        common.as_ref().map(|d| format!("{d}/refs/heads")),
        common.as_ref().map(|d| format!("{d}/packed-refs")),
    ];
    for path in watched.into_iter().flatten() {
        if std::path::Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    if let Some(rev) = output("git", &["rev-parse", "--short=12", "HEAD"]) {
        println!("cargo:rustc-env=HOURGLASS_GIT_REVISION={rev}");
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    if let Some(v) = output(&rustc, &["--version"]) {
        println!("cargo:rustc-env=HOURGLASS_RUSTC_VERSION={v}");
    }
    if let Some(d) = output("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]) {
        println!("cargo:rustc-env=HOURGLASS_BUILD_DATE={d}");
    }
}
