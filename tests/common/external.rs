//! Outside programs the tests run beside the server (Prometheus, the node
//! exporter, the Pushgateway, promtool, Python): whether they are installed, a port for
//! them, and stopping them.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

/// Whether the `CI` variable says this is a CI run.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Whether `cmd --version` runs; in CI its absence fails the test.
pub fn have(cmd: &str) -> bool {
    let found = Command::new(cmd)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        found || !in_ci(),
        "{cmd} is not installed; .ci/run installs it"
    );
    found
}

/// Whether every one of `cmds` runs (see [`have`]); when one is missing
/// outside CI, says that the test is skipped.
pub fn have_all(cmds: &[&str]) -> bool {
    let missing: Vec<&str> = cmds.iter().copied().filter(|c| !have(c)).collect();
    if !missing.is_empty() {
        eprintln!("skipped: {} not installed", missing.join(", "));
    }
    missing.is_empty()
}

/// Whether `python3 -c "import <modules>"` works; in CI it must (`.ci/run`
/// installs the packages), elsewhere a missing package skips the test
/// with a printed reason.
pub fn python_has(modules: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok || !in_ci(),
        "python3 with {modules} is required under CI"
    );
    if !ok {
        println!("skipped: python3 with {modules} not installed");
    }
    ok
}

/// Runs `tests/python/<script>` with `args`, which must succeed; returns
/// its standard output and standard error.
pub fn run_python(script: &str, args: &[&str]) -> (String, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(script);
    let out = Command::new("python3")
        .arg(&path)
        .args(args)
        .output()
        .expect("run python3");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{script} failed:\n{stdout}\n{stderr}");
    (stdout, stderr)
}

/// A loopback port free at the time of asking.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until the program at `addr` (Prometheus, Alertmanager) answers
/// 200 on `/-/ready`.
pub fn wait_ready(addr: SocketAddr) {
    crate::common::wait::wait_for(&format!("{addr} ready"), || {
        crate::common::http::try_request(addr, "GET", "/-/ready", &[], b"")
            .is_ok_and(|r| r.status == 200)
    });
}

/// Kills a helper process when the test ends, however it ends.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Wall-clock now in Unix seconds.
pub fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Debian's node exporter on a free loopback port with `flags` (e.g. the
/// collectors to run); returns it and its port.
pub fn node_exporter(flags: &[&str]) -> (Proc, u16) {
    let port = free_port();
    let mut c = Command::new("prometheus-node-exporter");
    c.arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .args(flags);
    (quiet(c), port)
}

/// Starts `c` with its output discarded.
fn quiet(mut c: Command) -> Proc {
    Proc(
        c.stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// The node exporter with only the CPU, load average and memory
/// collectors: a small, steady set of series to compare.
pub fn small_node_exporter() -> (Proc, u16) {
    node_exporter(&[
        "--collector.disable-defaults",
        "--collector.cpu",
        "--collector.loadavg",
        "--collector.meminfo",
    ])
}

/// Debian's Pushgateway (`prometheus-pushgateway`) on a free loopback
/// port, ready; returns it and its address.
pub fn pushgateway() -> (Proc, SocketAddr) {
    let port = free_port();
    let mut c = Command::new("prometheus-pushgateway");
    c.arg(format!("--web.listen-address=127.0.0.1:{port}"));
    let p = quiet(c);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    wait_ready(addr);
    (p, addr)
}

/// Prometheus with `config` written to `<dir>/prometheus.yml` and its TSDB
/// in `<dir>/prom`, on a free loopback port; returns it and its address.
pub fn prometheus(dir: &Path, config: &str) -> (Proc, SocketAddr) {
    prometheus_with(dir, config, &[])
}

/// [`prometheus`] in a fresh temporary directory (removed when the guard
/// drops), once it answers ready.
pub fn ready_prometheus(config: &str) -> (tempfile::TempDir, Proc, SocketAddr) {
    let dir = tempfile::tempdir().unwrap();
    let (prom, addr) = prometheus(dir.path(), config);
    wait_ready(addr);
    (dir, prom, addr)
}

/// [`prometheus`] with extra command-line `flags`.
pub fn prometheus_with(dir: &Path, config: &str, flags: &[&str]) -> (Proc, SocketAddr) {
    let config_path = dir.join("prometheus.yml");
    std::fs::write(&config_path, config).unwrap();
    let port = free_port();
    let mut c = Command::new("prometheus");
    c.arg(format!("--config.file={}", config_path.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("prom").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .args(flags);
    (quiet(c), SocketAddr::from(([127, 0, 0, 1], port)))
}

/// Prometheus (see [`prometheus`]) scraping `target` as job `job` every
/// second and remote-writing what it scrapes to Hourglass at `ours` in
/// 1 s batches; with `native_histograms`, scraping, storing and sending
/// them too.
pub fn prometheus_writing_to(
    dir: &Path,
    ours: SocketAddr,
    job: &str,
    target: &str,
    native_histograms: bool,
) -> (Proc, SocketAddr) {
    let send = if native_histograms {
        "    send_native_histograms: true\n"
    } else {
        ""
    };
    let config = format!(
        "global:\n  scrape_interval: 1s\n\
         scrape_configs:\n  - job_name: {job}\n    static_configs:\n      - targets: ['{target}']\n\
         remote_write:\n  - url: http://{ours}/api/v1/write\n{send}    queue_config:\n      batch_send_deadline: 1s\n      min_backoff: 100ms\n"
    );
    let flags: &[&str] = if native_histograms {
        &["--enable-feature=native-histograms"]
    } else {
        &[]
    };
    prometheus_with(dir, &config, flags)
}
