//! A real `hourglass serve` on a loopback port, stopped when dropped.

use crate::common::http::{Response, request};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_hourglass");

/// The header of a form-encoded POST body.
pub const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

/// A running server; terminated (SIGTERM, then SIGKILL) when dropped.
pub struct Server {
    pub child: Option<Child>,
    pub addr: SocketAddr,
    pub log: mpsc::Receiver<String>,
}

/// Flags that keep everything as written: no retention, no day merges.
/// A default server keeps fixtures stamped with fixed historical times
/// too (retention and day merges count back from the newest sample
/// stored, not the wall clock); tests that start with these keep them
/// where exact hour partitions or no expiry at all is wanted.
pub const KEEP_HISTORY: [&str; 4] = ["--retention", "0", "--compact-days-after", "0"];

/// `flags` followed by [`KEEP_HISTORY`].
pub fn keeping_history<'a>(flags: &[&'a str]) -> Vec<&'a str> {
    flags.iter().copied().chain(KEEP_HISTORY).collect()
}

impl Server {
    /// Starts `hourglass serve` on `data_dir` with a free loopback port and
    /// waits until it says where it listens.
    /// `HOURGLASS_BIN` replaces the binary under test (measurements of a
    /// release build).
    pub fn start(data_dir: &Path, extra: &[&str]) -> Server {
        let bin = std::env::var_os("HOURGLASS_BIN").unwrap_or_else(|| BIN.into());
        let mut cmd = Command::new(bin);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra);
        // Tests count the series they wrote; the server's own (self-scrape)
        // would join them. Tests of self-scrape build their command.
        cmd.env("HOURGLASS_NO_SELF_SCRAPE", "1");
        Server::spawn(cmd)
    }

    /// [`Server::start`] with `flags` on a fresh temporary directory,
    /// removed when the returned guard drops (after the server).
    pub fn fresh_with(flags: &[&str]) -> (tempfile::TempDir, Server) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let server = Server::start(tmp.path(), flags);
        (tmp, server)
    }

    /// [`Server::fresh_with`] with no flags.
    pub fn fresh() -> (tempfile::TempDir, Server) {
        Server::fresh_with(&[])
    }

    /// [`Server::fresh_with`] with [`KEEP_HISTORY`]: nothing expires, hours
    /// stay hours.
    pub fn fresh_keeping_history() -> (tempfile::TempDir, Server) {
        Server::fresh_with(&KEEP_HISTORY)
    }

    /// Two servers side by side in a fresh temporary directory, one
    /// started with `flags` and one without: a flag's effect on the same
    /// writes. The directory is removed when the guard drops.
    pub fn with_and_without(flags: &[&str]) -> (tempfile::TempDir, Server, Server) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (with, without) = (tmp.path().join("with"), tmp.path().join("without"));
        for d in [&with, &without] {
            std::fs::create_dir_all(d).expect("data dir");
        }
        let servers = (Server::start(&with, flags), Server::start(&without, &[]));
        (tmp, servers.0, servers.1)
    }

    pub fn spawn(mut cmd: Command) -> Server {
        let mut child = cmd
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn hourglass");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = rx.recv_timeout(left) else {
                break None;
            };
            if line.contains("listening")
                && let Some(addr) = line
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("addr="))
            {
                break addr.parse().ok();
            }
        };
        match addr {
            Some(addr) => Server {
                child: Some(child),
                addr,
                log: rx,
            },
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("server did not report its listen address in time");
            }
        }
    }

    /// One request to this server; see [`request`].
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        request(self.addr, method, path, headers, body)
    }

    pub fn get(&self, path: &str) -> Response {
        request(self.addr, "GET", path, &[], b"")
    }

    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        request(self.addr, "GET", path, headers, b"")
    }

    pub fn post(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        request(self.addr, "POST", path, headers, body)
    }

    /// Sends SIGTERM and waits for the exit; returns its success and the
    /// rest of the log.
    pub fn terminate(mut self) -> (bool, Vec<String>) {
        let mut child = self.child.take().expect("running");
        signal(&child, "TERM");
        let status = wait_with_timeout(&mut child, Duration::from_secs(20));
        // The reader thread forwards lines until stderr closes: drain until
        // it hangs up rather than taking only what has arrived so far.
        let mut log = Vec::new();
        while let Ok(line) = self.log.recv_timeout(Duration::from_secs(5)) {
            log.push(line);
        }
        (status, log)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(&child, "TERM");
            if !wait_with_timeout(&mut child, Duration::from_secs(10)) {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

pub fn signal(child: &Child, sig: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status();
}

/// Waits for the child; true when it exited successfully in time.
pub fn wait_with_timeout(child: &mut Child, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return status.success();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}

/// Runs `hourglass serve` on `data_dir` with `extra` flags, expecting it
/// to refuse to start; returns what it wrote to stderr.
pub fn refused_start(data_dir: &Path, extra: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .output()
        .expect("run hourglass serve");
    assert!(!out.status.success(), "serve started");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// [`refused_start`] on a fresh directory with `text` as the file `name`
/// given to `flag` (`--config`, `--scrape-config`); asserts that stderr
/// names every one of `needles`.
pub fn refused_naming(flag: &str, name: &str, text: &str, needles: &[&str]) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join(name);
    std::fs::write(&path, text).expect("write the file");
    let err = refused_start(
        &tmp.path().join("data"),
        &[flag, path.to_str().expect("UTF-8 path")],
    );
    for n in needles {
        assert!(
            err.contains(n),
            "{n:?} not in the refusal of {text:?}: {err}"
        );
    }
}

/// Writes `yaml` as `<dir>/prometheus.yml` and starts a server scraping
/// it, its data in `<dir>/data`; returns the file's path and the server.
pub fn start_scraping(dir: &Path, yaml: &str) -> (PathBuf, Server) {
    start_scraping_with(dir, yaml, &[])
}

/// [`start_scraping`] with more flags after `--scrape-config`.
pub fn start_scraping_with(dir: &Path, yaml: &str, flags: &[&str]) -> (PathBuf, Server) {
    let path = dir.join("prometheus.yml");
    std::fs::write(&path, yaml).expect("write prometheus.yml");
    let mut args = vec!["--scrape-config", path.to_str().expect("UTF-8 path")];
    args.extend_from_slice(flags);
    let server = Server::start(&dir.join("data"), &args);
    (path, server)
}

/// Writes `text` as `hourglass.toml` in `dir`; returns its path as an
/// argument of `--config`.
pub fn config_file(dir: &Path, text: &str) -> String {
    let path = dir.join("hourglass.toml");
    std::fs::write(&path, text).expect("write hourglass.toml");
    path.to_str().expect("UTF-8 path").to_string()
}

/// A server on a fresh temporary directory with `config` as its
/// `--config` file and `flags` after it; data lives in `<tmp>/data`.
pub fn start_with_config(config: &str, flags: &[&str]) -> (tempfile::TempDir, Server) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = config_file(tmp.path(), config);
    let mut args = vec!["--config", cfg.as_str()];
    args.extend_from_slice(flags);
    let server = Server::start(&tmp.path().join("data"), &args);
    (tmp, server)
}
