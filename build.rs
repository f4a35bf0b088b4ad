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
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
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
