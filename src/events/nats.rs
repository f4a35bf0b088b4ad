//! A small NATS client for publishing to JetStream: the text protocol
//! (INFO, CONNECT, PING/PONG, SUB, HPUB, MSG/HMSG, +OK/-ERR) over one TCP
//! connection, publishes pipelined with a reply inbox each, and JetStream
//! publish acknowledgements matched to them. Only what the sink needs;
//! `async-nats` would bring its own TLS, websocket and nkeys stacks.

use serde::Deserialize;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// Longest message the client reads (acks and API replies are small).
const MAX_READ: usize = 1 << 20;
/// Longest protocol line read.
const MAX_LINE: usize = 4096;

/// How to reach and log in to the server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Login {
    /// User name (with `password`).
    pub user: Option<String>,
    /// Password.
    pub password: Option<String>,
    /// Token authentication instead.
    pub token: Option<String>,
}

/// A client failure.
#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    /// The connection failed.
    #[error("nats {addr}: {source}")]
    Io {
        /// Server address.
        addr: String,
        /// What failed.
        source: std::io::Error,
    },
    /// The server said something we do not understand or refused.
    #[error("nats {addr}: {what}")]
    Protocol {
        /// Server address.
        addr: String,
        /// What.
        what: String,
    },
    /// No answer in time.
    #[error("nats {addr}: no answer within {after:?} ({what})")]
    Timeout {
        /// Server address.
        addr: String,
        /// How long we waited.
        after: Duration,
        /// For what.
        what: &'static str,
    },
}

/// One message received on our inbox.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The token after the inbox prefix.
    pub token: String,
    /// Status code from an `HMSG` header line (`503` no responders).
    pub status: Option<u16>,
    /// The body.
    pub payload: Vec<u8>,
}

/// A connection.
#[derive(Debug)]
pub struct Conn {
    addr: String,
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    inbox: String,
    out: Vec<u8>,
}

/// `host:port` from `nats://host:port` (or a bare `host:port`).
pub fn host_port(url: &str) -> Result<String, String> {
    let rest = url.strip_prefix("nats://").unwrap_or(url);
    if rest.contains('/') || rest.contains('@') || !rest.contains(':') {
        return Err(format!(
            "nats url {url:?}: expected nats://host:port (credentials go in user/password or token)"
        ));
    }
    Ok(rest.to_string())
}

/// Awaits `io` for at most `after`: its output, or the error naming `addr`
/// and `what` was awaited.
async fn within<T>(
    addr: &str,
    after: Duration,
    what: &'static str,
    io: impl std::future::Future<Output = std::io::Result<T>>,
) -> Result<T, NatsError> {
    match tokio::time::timeout(after, io).await {
        Err(_) => Err(NatsError::Timeout {
            addr: addr.to_string(),
            after,
            what,
        }),
        Ok(done) => done.map_err(|source| NatsError::Io {
            addr: addr.to_string(),
            source,
        }),
    }
}

impl Conn {
    /// Connects, logs in and subscribes to a fresh reply inbox.
    pub async fn connect(url: &str, login: &Login, timeout: Duration) -> Result<Conn, NatsError> {
        let addr = host_port(url).map_err(|what| NatsError::Protocol {
            addr: url.to_string(),
            what,
        })?;
        let io = |source| NatsError::Io {
            addr: addr.clone(),
            source,
        };
        let stream = within(&addr, timeout, "connect", TcpStream::connect(&addr)).await?;
        let _ = stream.set_nodelay(true);
        let (r, w) = stream.into_split();
        let mut c = Conn {
            addr: addr.clone(),
            reader: BufReader::new(r),
            writer: w,
            inbox: format!("_INBOX.{}", uuid::Uuid::new_v4().simple()),
            out: Vec::new(),
        };
        let info = c.line(timeout).await?;
        if !info.starts_with("INFO ") {
            return Err(c.protocol(format!("expected INFO, got {info:?}")));
        }
        let mut connect = serde_json::json!({
            "verbose": false, "pedantic": false, "headers": true, "no_responders": true,
            "lang": "rust", "version": env!("CARGO_PKG_VERSION"), "name": "hourglass-events",
        });
        if let Some(u) = &login.user {
            connect["user"] = u.clone().into();
            connect["pass"] = login.password.clone().unwrap_or_default().into();
        }
        if let Some(t) = &login.token {
            connect["auth_token"] = t.clone().into();
        }
        let hello = format!("CONNECT {connect}\r\nPING\r\nSUB {}.* 1\r\n", c.inbox);
        c.writer.write_all(hello.as_bytes()).await.map_err(io)?;
        loop {
            let l = c.line(timeout).await?;
            if l == "PONG" {
                break;
            }
            if let Some(e) = l.strip_prefix("-ERR") {
                return Err(c.protocol(format!("refused: {}", e.trim())));
            }
        }
        Ok(c)
    }

    fn protocol(&self, what: String) -> NatsError {
        NatsError::Protocol {
            addr: self.addr.clone(),
            what,
        }
    }

    fn io(&self, source: std::io::Error) -> NatsError {
        NatsError::Io {
            addr: self.addr.clone(),
            source,
        }
    }

    async fn line(&mut self, timeout: Duration) -> Result<String, NatsError> {
        let mut buf = Vec::new();
        let mut r = (&mut self.reader).take(MAX_LINE as u64);
        let n = within(
            &self.addr,
            timeout,
            "a reply",
            r.read_until(b'\n', &mut buf),
        )
        .await?;
        if n == 0 || !buf.ends_with(b"\n") {
            return Err(self.protocol("connection closed".into()));
        }
        Ok(String::from_utf8_lossy(&buf).trim_end().to_string())
    }

    /// Queues a publish to `subject` with headers, replies to
    /// `<inbox>.<token>`; sent by [`Conn::flush`].
    pub fn hpub(&mut self, subject: &str, token: &str, headers: &[(&str, &str)], payload: &[u8]) {
        use std::io::Write as _;
        const VERSION: &str = "NATS/1.0\r\n";
        let hlen = VERSION.len()
            + headers
                .iter()
                .map(|(k, v)| k.len() + v.len() + 4)
                .sum::<usize>()
            + 2;
        let _ = write!(
            self.out,
            "HPUB {subject} {}.{token} {hlen} {}\r\n{VERSION}",
            self.inbox,
            hlen + payload.len()
        );
        for (k, v) in headers {
            let _ = write!(self.out, "{k}: {v}\r\n");
        }
        self.out.extend_from_slice(b"\r\n");
        self.out.extend_from_slice(payload);
        self.out.extend_from_slice(b"\r\n");
    }

    /// Queues a plain publish (JetStream API requests).
    pub fn publish(&mut self, subject: &str, token: &str, payload: &[u8]) {
        let line = format!("PUB {subject} {}.{token} {}\r\n", self.inbox, payload.len());
        self.out.extend_from_slice(line.as_bytes());
        self.out.extend_from_slice(payload);
        self.out.extend_from_slice(b"\r\n");
    }

    /// Sends what is queued.
    pub async fn flush(&mut self) -> Result<(), NatsError> {
        let out = std::mem::take(&mut self.out);
        self.writer.write_all(&out).await.map_err(|e| self.io(e))
    }

    /// The next message on our inbox (answering PINGs on the way).
    pub async fn reply(&mut self, timeout: Duration) -> Result<Reply, NatsError> {
        loop {
            let l = self.line(timeout).await?;
            let mut parts = l.split_ascii_whitespace();
            match parts.next() {
                Some("PING") => {
                    self.writer
                        .write_all(b"PONG\r\n")
                        .await
                        .map_err(|e| self.io(e))?;
                }
                Some("PONG") | Some("+OK") | Some("INFO") => {}
                Some("-ERR") => return Err(self.protocol(format!("server error: {l}"))),
                Some(op @ ("MSG" | "HMSG")) => {
                    let args: Vec<&str> = parts.collect();
                    return self.message(op == "HMSG", &args, timeout).await;
                }
                _ => return Err(self.protocol(format!("unexpected {l:?}"))),
            }
        }
    }

    async fn message(
        &mut self,
        headers: bool,
        args: &[&str],
        timeout: Duration,
    ) -> Result<Reply, NatsError> {
        // MSG subject sid [reply] len; HMSG subject sid [reply] hlen len.
        let nums = if headers { 2 } else { 1 };
        if args.len() < 2 + nums {
            return Err(self.protocol(format!("short message line {args:?}")));
        }
        let parse = |s: &str| s.parse::<usize>().ok().filter(|&n| n <= MAX_READ);
        let total = args.last().and_then(|s| parse(s));
        let hlen = if headers {
            args.get(args.len() - 2).and_then(|s| parse(s))
        } else {
            Some(0)
        };
        let (Some(total), Some(hlen)) = (total, hlen) else {
            return Err(self.protocol(format!("bad sizes in {args:?}")));
        };
        if hlen > total {
            return Err(self.protocol(format!("header longer than message in {args:?}")));
        }
        let mut buf = vec![0u8; total + 2];
        let body = self.reader.read_exact(&mut buf);
        within(&self.addr, timeout, "a message body", body).await?;
        buf.truncate(total);
        let status = if headers {
            let head = String::from_utf8_lossy(&buf[..hlen]);
            head.lines()
                .next()
                .and_then(|l| l.strip_prefix("NATS/1.0"))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|c| c.parse().ok())
        } else {
            None
        };
        let subject = args.first().copied().unwrap_or_default();
        let token = subject
            .strip_prefix(self.inbox.as_str())
            .and_then(|t| t.strip_prefix('.'))
            .unwrap_or_default()
            .to_string();
        Ok(Reply {
            token,
            status,
            payload: buf[hlen..].to_vec(),
        })
    }

    /// One request/reply (a JetStream API call); the reply's body.
    pub async fn request(
        &mut self,
        subject: &str,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<Vec<u8>, NatsError> {
        let token = format!("r{}", uuid::Uuid::new_v4().simple());
        self.publish(subject, &token, payload);
        self.flush().await?;
        loop {
            let r = self.reply(timeout).await?;
            if r.token != token {
                continue;
            }
            if r.status == Some(503) {
                return Err(self.protocol(format!("no responders on {subject} (JetStream off?)")));
            }
            return Ok(r.payload);
        }
    }
}

/// A JetStream publish acknowledgement.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct PubAck {
    /// The stream that stored it.
    pub stream: String,
    /// Its sequence in the stream.
    pub seq: u64,
    /// Set when JetStream dropped it as a duplicate of the same id.
    pub duplicate: bool,
    /// Set when JetStream refused it.
    pub error: Option<ApiErr>,
}

/// A JetStream API error.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct ApiErr {
    /// HTTP-like code.
    pub code: u16,
    /// What went wrong.
    pub description: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_host_and_port_only() {
        assert_eq!(
            host_port("nats://127.0.0.1:4222").unwrap(),
            "127.0.0.1:4222"
        );
        assert_eq!(host_port("localhost:1").unwrap(), "localhost:1");
        assert!(host_port("nats://u:p@h:1").is_err());
        assert!(host_port("nats://h").is_err());
    }

    #[test]
    fn acks_parse_with_and_without_errors() {
        let a: PubAck = serde_json::from_str(r#"{"stream":"S","seq":3,"duplicate":true}"#).unwrap();
        assert!(a.duplicate && a.seq == 3 && a.error.is_none());
        let e: PubAck = serde_json::from_str(
            r#"{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"}}"#,
        )
        .unwrap();
        assert_eq!(e.error.unwrap().code, 503);
    }
}
