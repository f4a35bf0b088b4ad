//! Sending a stream: one keep-alive connection per sender, each sender
//! posting its requests of a scrape; in lockstep the senders move from
//! scrape to scrape together, as a scraper's shards do.

use super::profile::{Request, Scrape};
use anyhow::{Context, bail};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A parsed `http://host:port/path`.
pub struct Target {
    host_port: String,
    path: String,
}

pub fn parse_url(url: &str) -> anyhow::Result<Target> {
    let rest = url
        .strip_prefix("http://")
        .context("only http:// URLs are supported")?;
    let (host_port, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    Ok(Target {
        host_port: host_port.to_string(),
        path: path.to_string(),
    })
}

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    content_type: &'static str,
}

impl Conn {
    fn open(t: &Target, protocol: u8) -> anyhow::Result<Conn> {
        let s =
            TcpStream::connect(&t.host_port).with_context(|| format!("connect {}", t.host_port))?;
        s.set_nodelay(true)?;
        Ok(Conn {
            reader: BufReader::new(s.try_clone()?),
            writer: s,
            content_type: if protocol == 2 {
                "application/x-protobuf;proto=io.prometheus.write.v2.Request"
            } else {
                "application/x-protobuf"
            },
        })
    }

    /// POSTs a remote-write body; returns the status code.
    fn post(&mut self, t: &Target, body: &[u8]) -> anyhow::Result<u16> {
        write!(
            self.writer,
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: {}\r\n\
             Content-Encoding: snappy\r\nUser-Agent: hourglass-bench\r\n\
             Content-Length: {}\r\n\r\n",
            t.path,
            t.host_port,
            self.content_type,
            body.len()
        )?;
        self.writer.write_all(body)?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .with_context(|| format!("bad status line {line:?}"))?;
        let mut len = 0usize;
        let mut chunked = false;
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let lower = l.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
            if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            }
        }
        if chunked {
            loop {
                line.clear();
                self.reader.read_line(&mut line)?;
                let n = usize::from_str_radix(line.trim(), 16).unwrap_or(0);
                let mut skip = vec![0u8; n + 2];
                self.reader.read_exact(&mut skip)?;
                if n == 0 {
                    break;
                }
            }
        } else {
            let mut skip = vec![0u8; len];
            self.reader.read_exact(&mut skip)?;
        }
        Ok(status)
    }
}

/// What a run delivered.
pub struct Outcome {
    /// Every request's latency, in no particular order.
    pub latencies: Vec<Duration>,
    pub failures: u64,
    pub samples: usize,
    /// Samples in the first scrape: one per series.
    pub series: usize,
    /// Seconds from the first request to the last answer.
    pub seconds: f64,
}

/// How to send.
pub struct Plan<'a> {
    pub target: &'a Target,
    pub protocol: u8,
    pub senders: usize,
    pub lockstep: bool,
    /// Cap on samples/s over all senders (0: none); each sender gets its
    /// share of the first scrape's samples.
    pub rate: u64,
}

/// Sends every scrape; the next one is built (or read) while the senders
/// post the current one.
pub fn send(
    plan: &Plan<'_>,
    mut scrapes: impl Iterator<Item = anyhow::Result<Scrape>>,
) -> anyhow::Result<Outcome> {
    let mut next = scrapes.next().transpose()?;
    let first_total: usize = next.iter().flatten().flatten().map(|r| r.samples).sum();
    let rates: Vec<Option<f64>> = (0..plan.senders)
        .map(|i| {
            let mine: usize = next
                .as_ref()
                .and_then(|s| s.get(i))
                .map_or(0, |reqs| reqs.iter().map(|r| r.samples).sum());
            (plan.rate > 0).then(|| plan.rate as f64 * mine as f64 / first_total.max(1) as f64)
        })
        .collect();
    std::thread::scope(|scope| {
        let (done_tx, done_rx) = mpsc::channel::<bool>();
        let mut txs = Vec::with_capacity(plan.senders);
        let mut handles = Vec::with_capacity(plan.senders);
        for rate in rates {
            let (tx, rx) = mpsc::sync_channel::<Vec<Request>>(if plan.lockstep { 1 } else { 4 });
            txs.push(tx);
            let done = done_tx.clone();
            handles.push(scope.spawn(move || sender(plan, rate, &rx, &done)));
        }
        drop(done_tx);
        let t0 = Instant::now();
        let mut samples = 0usize;
        let mut stopped = false;
        while let Some(scrape) = next.take() {
            if scrape.len() != plan.senders {
                stopped = true;
                break;
            }
            let mut outstanding = 0;
            for (tx, reqs) in txs.iter().zip(scrape) {
                samples += reqs.iter().map(|r| r.samples).sum::<usize>();
                if tx.send(reqs).is_err() {
                    stopped = true;
                    break;
                }
                outstanding += 1;
            }
            next = match scrapes.next().transpose() {
                Ok(n) => n,
                Err(e) => {
                    drop(txs);
                    return Err(e);
                }
            };
            if plan.lockstep && !stopped {
                for _ in 0..outstanding {
                    if !done_rx.recv().unwrap_or(false) {
                        stopped = true;
                        break;
                    }
                }
            }
            if stopped {
                break;
            }
        }
        drop(txs);
        let mut latencies = Vec::new();
        let mut failures = 0;
        for h in handles {
            let (lat, failed) = h
                .join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("sender panicked")))?;
            latencies.extend(lat);
            failures += failed;
        }
        if stopped {
            bail!("a scrape did not have one request list per sender");
        }
        Ok(Outcome {
            latencies,
            failures,
            samples,
            series: first_total,
            seconds: t0.elapsed().as_secs_f64(),
        })
    })
}

/// One sender: posts each batch it is handed, reports each as done.
fn sender(
    plan: &Plan<'_>,
    rate: Option<f64>,
    rx: &mpsc::Receiver<Vec<Request>>,
    done: &mpsc::Sender<bool>,
) -> anyhow::Result<(Vec<Duration>, u64)> {
    let run = || -> anyhow::Result<(Vec<Duration>, u64)> {
        let mut conn = Conn::open(plan.target, plan.protocol)?;
        let mut lat = Vec::new();
        let mut failures = 0;
        let started = Instant::now();
        let mut sent = 0usize;
        for batch in rx {
            for r in batch {
                if let Some(rate) = rate {
                    let due = Duration::from_secs_f64(sent as f64 / rate);
                    if let Some(wait) = due.checked_sub(started.elapsed()) {
                        std::thread::sleep(wait);
                    }
                }
                let t = Instant::now();
                let status = match conn.post(plan.target, &r.body) {
                    Ok(s) => s,
                    Err(_) => {
                        conn = Conn::open(plan.target, plan.protocol)?;
                        conn.post(plan.target, &r.body)?
                    }
                };
                lat.push(t.elapsed());
                if !(200..300).contains(&status) {
                    failures += 1;
                }
                sent += r.samples;
            }
            let _ = done.send(true);
        }
        Ok((lat, failures))
    };
    let out = run();
    if out.is_err() {
        let _ = done.send(false);
    }
    out
}
