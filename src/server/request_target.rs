//! Request targets as lenient as Prometheus's: a query typed into curl
//! unencoded (`/api/v1/query?query=up{job="node"} > 1`) reaches the API.
//!
//! Go's HTTP server takes `"`, `<`, `>` and friends in a request target
//! as they are; the `http` crate under hyper refuses them with a bare 400
//! before any handler runs. So the connection's bytes pass through a
//! scanner that follows HTTP/1.1 message framing (request line, headers,
//! a `Content-Length` or chunked body) and percent-encodes those bytes in
//! each request line's target, which decodes back to the same query.
//! Anything the scanner does not understand (an upgrade, a malformed
//! head) switches it to passing bytes through untouched, where hyper
//! judges them as before.

use super::write_through::write_through;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Longest line the scanner follows; longer ones are hyper's to refuse.
const MAX_LINE: usize = 64 << 10;
/// Bytes of a header line kept to read its name and value.
const KEPT_HEADER: usize = 256;

/// Where in the stream of HTTP/1.1 messages the scanner is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// In a request line of `len` bytes (CRs aside); `field` counts the
    /// spaces seen (1: the target).
    RequestLine { len: usize, field: u8 },
    /// In the header block.
    Headers,
    /// In a body with this many bytes left.
    Body(u64),
    /// In a chunk-size line.
    ChunkSize,
    /// In chunk data with this many bytes left, then its CRLF.
    ChunkData(u64),
    /// The CRLF after chunk data.
    ChunkEnd,
    /// In the trailers after the last chunk.
    Trailers,
    /// Past anything followed: bytes go through untouched.
    Through,
}

/// Follows message framing and rewrites request targets.
#[derive(Debug)]
struct Scanner {
    state: State,
    /// The current header, chunk-size or trailer line (first bytes only).
    line: Vec<u8>,
    line_len: usize,
    /// What the current request's headers said about its body.
    content_length: Option<u64>,
    chunked: bool,
    upgrade: bool,
}

/// Is `b` a byte the `http` crate refuses (or cuts at) in a request
/// target that Go's server keeps?
fn needs_encoding(b: u8) -> bool {
    matches!(
        b,
        b'"' | b'#' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}'
    )
}

fn hex(n: u8) -> u8 {
    b"0123456789ABCDEF"[usize::from(n & 15)]
}

impl Scanner {
    fn new() -> Scanner {
        Scanner {
            state: State::RequestLine { len: 0, field: 0 },
            line: Vec::new(),
            line_len: 0,
            content_length: None,
            chunked: false,
            upgrade: false,
        }
    }

    /// Feeds bytes read from the client; returns their rewritten form
    /// when it differs.
    fn feed(&mut self, bytes: &[u8]) -> Option<Vec<u8>> {
        let mut out: Option<Vec<u8>> = None;
        let mut i = 0;
        while i < bytes.len() {
            match self.state {
                State::Through => {
                    if let Some(o) = out.as_mut() {
                        o.extend_from_slice(&bytes[i..]);
                    }
                    return out;
                }
                State::Body(left) | State::ChunkData(left) => {
                    let take = usize::try_from(left)
                        .unwrap_or(usize::MAX)
                        .min(bytes.len() - i);
                    if let Some(o) = out.as_mut() {
                        o.extend_from_slice(&bytes[i..i + take]);
                    }
                    i += take;
                    let left = left - take as u64;
                    self.state = match (self.state, left) {
                        (State::Body(_), 0) => self.next_request(),
                        (State::Body(_), l) => State::Body(l),
                        (_, 0) => State::ChunkEnd,
                        (_, l) => State::ChunkData(l),
                    };
                }
                _ => {
                    let b = bytes[i];
                    i += 1;
                    if matches!(self.state, State::RequestLine { field: 1, .. })
                        && needs_encoding(b)
                    {
                        let o = out.get_or_insert_with(|| {
                            let mut v = Vec::with_capacity(bytes.len() + 16);
                            v.extend_from_slice(&bytes[..i - 1]);
                            v
                        });
                        o.extend_from_slice(&[b'%', hex(b >> 4), hex(b)]);
                        self.step(b);
                        continue;
                    }
                    if let Some(o) = out.as_mut() {
                        o.push(b);
                    }
                    self.step(b);
                }
            }
        }
        out
    }

    /// The state after a message ends.
    fn next_request(&mut self) -> State {
        State::RequestLine { len: 0, field: 0 }
    }

    /// Advances over one byte of a request line, header, chunk-size line,
    /// CRLF or trailer.
    fn step(&mut self, b: u8) {
        match self.state {
            State::RequestLine { len, field } => {
                if b == b'\n' {
                    // Blank lines before a request line are allowed.
                    if len > 0 {
                        self.state = State::Headers;
                        self.content_length = None;
                        self.chunked = false;
                        self.upgrade = false;
                        self.line.clear();
                        self.line_len = 0;
                    } else {
                        self.state = State::RequestLine { len: 0, field: 0 };
                    }
                } else if len >= MAX_LINE {
                    self.state = State::Through;
                } else {
                    let field = if b == b' ' {
                        field.saturating_add(1)
                    } else {
                        field
                    };
                    self.state = State::RequestLine {
                        len: len + usize::from(b != b'\r'),
                        field,
                    };
                }
            }
            State::Headers | State::ChunkSize | State::Trailers | State::ChunkEnd => {
                if b != b'\n' {
                    self.line_len += 1;
                    if self.line_len > MAX_LINE {
                        self.state = State::Through;
                    } else if self.line.len() < KEPT_HEADER {
                        self.line.push(b);
                    }
                    return;
                }
                let mut line = std::mem::take(&mut self.line);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.line_len = 0;
                self.state = self.end_of_line(&line);
                line.clear();
                self.line = line;
            }
            State::Body(_) | State::ChunkData(_) | State::Through => {}
        }
    }

    /// The state after a complete line in a head, chunk-size line, CRLF
    /// or trailer.
    fn end_of_line(&mut self, line: &[u8]) -> State {
        match self.state {
            State::Headers if line.is_empty() => {
                if self.upgrade {
                    State::Through
                } else if self.chunked {
                    State::ChunkSize
                } else {
                    match self.content_length {
                        Some(0) | None => self.next_request(),
                        Some(n) => State::Body(n),
                    }
                }
            }
            State::Headers => {
                self.header(line);
                State::Headers
            }
            State::ChunkSize => {
                let digits = line.split(|&c| c == b';').next().unwrap_or_default();
                let size = std::str::from_utf8(digits)
                    .ok()
                    .and_then(|s| u64::from_str_radix(s.trim(), 16).ok());
                match size {
                    Some(0) => State::Trailers,
                    Some(n) => State::ChunkData(n),
                    None => State::Through,
                }
            }
            State::ChunkEnd if line.is_empty() => State::ChunkSize,
            State::Trailers if line.is_empty() => self.next_request(),
            State::Trailers => State::Trailers,
            _ => State::Through,
        }
    }

    /// Notes what a header says about the body or an upgrade.
    fn header(&mut self, line: &[u8]) {
        let Some(colon) = line.iter().position(|&c| c == b':') else {
            return;
        };
        let name = &line[..colon];
        let value = String::from_utf8_lossy(&line[colon + 1..])
            .trim()
            .to_ascii_lowercase();
        if name.eq_ignore_ascii_case(b"content-length") {
            match value.parse::<u64>() {
                Ok(n) => self.content_length = Some(n),
                Err(_) => self.upgrade = true,
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            self.chunked = value.rsplit(',').next().map(str::trim) == Some("chunked");
        } else if name.eq_ignore_ascii_case(b"upgrade") {
            self.upgrade = true;
        }
    }
}

/// A client connection whose request targets are made acceptable to hyper.
pub(super) struct LenientTargets<S> {
    inner: S,
    scanner: Scanner,
    /// Rewritten bytes that did not fit the caller's buffer.
    pending: Vec<u8>,
    sent: usize,
}

impl<S> LenientTargets<S> {
    pub(super) fn new(inner: S) -> Self {
        LenientTargets {
            inner,
            scanner: Scanner::new(),
            pending: Vec::new(),
            sent: 0,
        }
    }

    pub(super) fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for LenientTargets<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if this.sent < this.pending.len() {
            let n = (this.pending.len() - this.sent).min(buf.remaining());
            buf.put_slice(&this.pending[this.sent..this.sent + n]);
            this.sent += n;
            if this.sent == this.pending.len() {
                this.pending.clear();
                this.sent = 0;
            }
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled
            && let Some(rewritten) = this.scanner.feed(&buf.filled()[before..])
        {
            buf.set_filled(before);
            let n = rewritten.len().min(buf.remaining());
            buf.put_slice(&rewritten[..n]);
            this.pending = rewritten;
            this.sent = n;
            if this.sent == this.pending.len() {
                this.pending.clear();
                this.sent = 0;
            }
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for LenientTargets<S> {
    write_through!(inner);
}

/// Fuzz body: any bytes, in any split, give the same rewriting, only
/// ever grown by whole `%XX` escapes, and never a panic.
#[doc(hidden)]
pub fn fuzz_request_target(data: &[u8]) {
    let Some((&split, data)) = data.split_first() else {
        return;
    };
    let whole = scan(data, data.len());
    assert_eq!(whole, scan(data, usize::from(split)), "split at {split}");
    assert!(whole.len() >= data.len() && (whole.len() - data.len()).is_multiple_of(2));
}

/// Feeds `input` in pieces of `piece` bytes and joins what comes out.
fn scan(input: &[u8], piece: usize) -> Vec<u8> {
    let mut s = Scanner::new();
    let mut out = Vec::new();
    for chunk in input.chunks(piece.max(1)) {
        match s.feed(chunk) {
            Some(r) => out.extend_from_slice(&r),
            None => out.extend_from_slice(chunk),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unencoded_query_is_percent_encoded_in_the_target_only() {
        let req =
            b"GET /api/v1/query?query=up{job=\"a\"}>1 HTTP/1.1\r\nHost: x\r\nX-Q: \"kept\"\r\n\r\n";
        let want = b"GET /api/v1/query?query=up%7Bjob=%22a%22%7D%3E1 HTTP/1.1\r\nHost: x\r\nX-Q: \"kept\"\r\n\r\n";
        for piece in [1, 2, 3, 7, 1000] {
            assert_eq!(scan(req, piece), want.to_vec(), "pieces of {piece}");
        }
    }

    #[test]
    fn bodies_pass_untouched_and_the_next_request_is_rewritten_too() {
        let mut req = b"POST /api/v1/query HTTP/1.1\r\nContent-Length: 12\r\n\r\n".to_vec();
        req.extend_from_slice(b"query={a=\"b\"");
        req.extend_from_slice(b"GET /q?x=\"1\" HTTP/1.1\r\n\r\n");
        let out = scan(&req, 5);
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("\r\n\r\nquery={a=\"b\"GET /q?x=%221%22 HTTP/1.1"),
            "{text}"
        );
    }

    #[test]
    fn chunked_bodies_are_followed_to_their_end() {
        let req = b"POST /w HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\n{\"a\"}\r\n3\r\n<>|\r\n0\r\nTrailer: \"t\"\r\n\r\nGET /q?a=\"b\" HTTP/1.1\r\n\r\n";
        let text = String::from_utf8(scan(req, 4)).unwrap();
        assert!(text.contains("5;ext=1\r\n{\"a\"}\r\n3\r\n<>|\r\n0\r\nTrailer: \"t\"\r\n\r\n"));
        assert!(
            text.ends_with("GET /q?a=%22b%22 HTTP/1.1\r\n\r\n"),
            "{text}"
        );
    }

    #[test]
    fn an_upgrade_or_an_unreadable_length_switches_to_pass_through() {
        let ws = b"GET /api/v1/stream?match[]=up{a=\"b\"} HTTP/1.1\r\nUpgrade: websocket\r\n\r\n\x81\x05{\"a\" \"b\"} HTTP";
        let text = scan(ws, 3);
        assert!(text.ends_with(b"\r\n\r\n\x81\x05{\"a\" \"b\"} HTTP"));
        let bad_length = b"POST /w HTTP/1.1\r\nContent-Length: x\r\n\r\nGET /q?a=\"b\" HTTP/1.1";
        assert_eq!(scan(bad_length, 2), bad_length.to_vec());
    }

    #[test]
    fn the_fuzz_body_holds_on_requests_cut_anywhere() {
        let req = b"POST /w?a=\"1\" HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n<>|\r\n0\r\n\r\nGET /q?{x} HTTP/1.1\r\nContent-Length: 2\r\n\r\n\"\"GET /\"\r\n\r\n";
        for split in 0..=255u8 {
            let mut data = vec![split];
            data.extend_from_slice(req);
            fuzz_request_target(&data);
            data.truncate(usize::from(split).min(data.len()));
            fuzz_request_target(&data);
        }
    }

    #[test]
    fn blank_lines_before_a_request_line_are_skipped() {
        let req = b"\r\n\r\nGET /q?a=\"b\" HTTP/1.1\r\n\r\n";
        assert_eq!(
            scan(req, 1),
            b"\r\n\r\nGET /q?a=%22b%22 HTTP/1.1\r\n\r\n".to_vec()
        );
    }
}
