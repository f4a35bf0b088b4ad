//! A real process appending under group commit is killed with SIGKILL;
//! every record it was told was durable must replay.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{payload, payload_is_whole};
use hourglass_wal::{Lsn, Options, SyncPolicy, Wal};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "HOURGLASS_WAL_KILL9_DIR";

fn opts() -> Options {
    Options {
        segment_size: 256 << 10,
        sync: SyncPolicy::Group,
        ..Options::default()
    }
}

/// In the child: append from four threads, print each acknowledgement.
fn child(dir: &str) {
    let wal = Arc::new(Wal::open(dir, opts()).unwrap());
    let out = Arc::new(std::sync::Mutex::new(std::io::stdout()));
    let deadline = Instant::now() + Duration::from_secs(20);
    let threads: Vec<_> = (0..4u32)
        .map(|t| {
            let (wal, out) = (Arc::clone(&wal), Arc::clone(&out));
            std::thread::spawn(move || {
                let mut j = 0;
                while Instant::now() < deadline {
                    let lsn = wal.append(&payload(t, j)).unwrap();
                    let mut o = out.lock().unwrap();
                    writeln!(o, "ack {} {t} {j}", lsn.0).unwrap();
                    o.flush().unwrap();
                    j += 1;
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn kill_9_loses_no_acknowledged_record() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        child(&dir);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut acked: HashMap<u64, (u32, u32)> = HashMap::new();
    for round in 0..3 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "kill_9_loses_no_acknowledged_record",
                "--nocapture",
            ])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let target = 2000 * (round + 1);
        let started = Instant::now();
        while acked.len() < target && started.elapsed() < Duration::from_secs(15) {
            let Some(Ok(line)) = lines.next() else { break };
            let f: Vec<&str> = line.split(' ').collect();
            if let ["ack", lsn, t, j] = f[..] {
                acked.insert(
                    lsn.parse().unwrap(),
                    (t.parse().unwrap(), j.parse().unwrap()),
                );
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Whatever the pipe still held was acknowledged before the kill too.
        for line in lines.map_while(Result::ok) {
            let f: Vec<&str> = line.split(' ').collect();
            if let ["ack", lsn, t, j] = f[..] {
                acked.insert(
                    lsn.parse().unwrap(),
                    (t.parse().unwrap(), j.parse().unwrap()),
                );
            }
        }
        assert!(acked.len() >= 100, "child acknowledged too little to test");

        let wal = Wal::open(dir.path(), opts()).unwrap();
        assert!(wal.recovery_report().corruption.is_none());
        let replayed: HashMap<u64, Vec<u8>> = wal
            .replay(Lsn(0))
            .unwrap()
            .map(|r| r.unwrap())
            .map(|r| (r.lsn.0, r.data))
            .collect();
        for d in replayed.values() {
            assert!(payload_is_whole(d));
        }
        for (lsn, (t, j)) in &acked {
            assert_eq!(
                replayed.get(lsn),
                Some(&payload(*t, *j)),
                "round {round}: record {lsn} lost"
            );
        }
    }
}
