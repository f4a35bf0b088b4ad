//! Event consumers over raw loopback sockets: a Server-Sent Events reader
//! (chunked body, `id`/`event`/`data` fields) and a minimal WebSocket
//! client (RFC 6455: handshake, masked text frames out, text frames in).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// One server-sent event.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub id: Option<u64>,
    pub event: String,
    pub data: String,
}

impl SseEvent {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data).expect("event data is JSON")
    }
}

/// An open `GET /api/v1/events` stream.
pub struct Sse {
    reader: BufReader<TcpStream>,
    pending: String,
    pub status: u16,
}

fn open(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> (BufReader<TcpStream>, u16, Vec<String>) {
    open_with(addr, path, headers, None)
}

fn open_with(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    rcvbuf: Option<usize>,
) -> (BufReader<TcpStream>, u16, Vec<String>) {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    if let Some(b) = rcvbuf {
        // Before connecting, so the advertised window stays small too.
        socket.set_recv_buffer_size(b).unwrap();
    }
    socket.connect(&addr.into()).expect("connect");
    let mut s: TcpStream = socket.into();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n");
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("connection"))
    {
        // A refusal's body ends with the connection.
        req.push_str("Connection: close\r\n");
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut reader = BufReader::new(s);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let mut head = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if line.trim().is_empty() {
            break;
        }
        head.push(line.trim().to_string());
    }
    (reader, status, head)
}

impl Sse {
    /// Opens the stream; `status` says whether it was accepted.
    pub fn connect(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Sse {
        let mut h = vec![("Accept", "text/event-stream")];
        h.extend_from_slice(headers);
        let (reader, status, _) = open(addr, path, &h);
        Sse {
            reader,
            pending: String::new(),
            status,
        }
    }

    /// The refusal body of a stream that was not accepted.
    pub fn error_body(mut self) -> String {
        let mut b = String::new();
        let _ = self.reader.read_to_string(&mut b);
        b
    }

    fn chunk(&mut self) -> bool {
        let mut size = String::new();
        if self.reader.read_line(&mut size).unwrap_or(0) == 0 {
            return false;
        }
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            return false;
        };
        if n == 0 {
            return false;
        }
        let mut buf = vec![0; n + 2];
        if self.reader.read_exact(&mut buf).is_err() {
            return false;
        }
        self.pending.push_str(&String::from_utf8_lossy(&buf[..n]));
        true
    }

    /// The next event (comments skipped), or `None` at the end of the
    /// stream or when none came within 20 s (keep-alive comments do not
    /// count).
    pub fn next(&mut self) -> Option<SseEvent> {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if std::time::Instant::now() > deadline {
                return None;
            }
            while let Some(end) = self.pending.find("\n\n") {
                let block: String = self.pending.drain(..end + 2).collect();
                let mut e = SseEvent {
                    id: None,
                    event: "message".into(),
                    data: String::new(),
                };
                let mut any = false;
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        e.id = v.trim().parse().ok();
                        any = true;
                    } else if let Some(v) = line.strip_prefix("event:") {
                        e.event = v.trim().to_string();
                        any = true;
                    } else if let Some(v) = line.strip_prefix("data:") {
                        e.data.push_str(v.strip_prefix(' ').unwrap_or(v));
                        any = true;
                    }
                }
                if any {
                    return Some(e);
                }
            }
            if !self.chunk() {
                return None;
            }
        }
    }

    /// The next `n` events, failing when fewer come.
    pub fn take(&mut self, n: usize) -> Vec<SseEvent> {
        (0..n)
            .map(|i| {
                self.next()
                    .unwrap_or_else(|| panic!("stream ended after {i} of {n} events"))
            })
            .collect()
    }
}

/// A WebSocket connection.
pub struct Ws {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Ws {
    /// Connects and upgrades; panics unless the server answers 101.
    pub fn connect(addr: SocketAddr, path: &str) -> Ws {
        Ws::try_connect(addr, path).expect("websocket upgrade")
    }

    /// Connects; `Err` with the status when refused.
    pub fn try_connect(addr: SocketAddr, path: &str) -> Result<Ws, u16> {
        Ws::connect_with(addr, path, None)
    }

    /// Connects with a receive buffer of `rcvbuf` bytes when given (a
    /// slow reader's small window).
    pub fn connect_with(addr: SocketAddr, path: &str, rcvbuf: Option<usize>) -> Result<Ws, u16> {
        let (reader, status, _) = open_with(
            addr,
            path,
            &[
                ("Upgrade", "websocket"),
                ("Connection", "Upgrade"),
                ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                ("Sec-WebSocket-Version", "13"),
            ],
            rcvbuf,
        );
        if status != 101 {
            return Err(status);
        }
        let stream = reader.get_ref().try_clone().unwrap();
        Ok(Ws { stream, reader })
    }

    /// Sends one text message (masked, as clients must).
    pub fn send(&mut self, text: &str) {
        let p = text.as_bytes();
        let mut f = vec![0x81u8];
        match p.len() {
            n if n < 126 => f.push(0x80 | n as u8),
            n if n < 65536 => {
                f.push(0x80 | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(0x80 | 127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        let mask = [0x12u8, 0x34, 0x56, 0x78];
        f.extend_from_slice(&mask);
        f.extend(p.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&f).unwrap();
    }

    /// The next text message as JSON; `None` on close or timeout.
    pub fn recv(&mut self) -> Option<serde_json::Value> {
        loop {
            let mut h = [0u8; 2];
            self.reader.read_exact(&mut h).ok()?;
            let op = h[0] & 0x0f;
            let mut len = u64::from(h[1] & 0x7f);
            if len == 126 {
                let mut b = [0u8; 2];
                self.reader.read_exact(&mut b).ok()?;
                len = u64::from(u16::from_be_bytes(b));
            } else if len == 127 {
                let mut b = [0u8; 8];
                self.reader.read_exact(&mut b).ok()?;
                len = u64::from_be_bytes(b);
            }
            let mut p = vec![0; len as usize];
            self.reader.read_exact(&mut p).ok()?;
            match op {
                1 => return serde_json::from_slice(&p).ok(),
                8 => return None,
                _ => continue,
            }
        }
    }

    /// The next message whose `type` is not `event` is skipped until one
    /// of type `ty` comes.
    pub fn recv_type(&mut self, ty: &str) -> serde_json::Value {
        loop {
            let m = self
                .recv()
                .unwrap_or_else(|| panic!("socket closed waiting for {ty}"));
            if m["type"] == ty {
                return m;
            }
        }
    }

    pub fn set_read_timeout(&self, d: Duration) {
        self.stream.set_read_timeout(Some(d)).unwrap();
    }
}
