//! Request bodies as senders compress them: `Content-Encoding` gzip or
//! snappy (framing format, as python-snappy's stream compressor and the
//! Pushgateway clients send it), bounded by the body limit, with the
//! decompressed bytes reserved from the in-flight budget before they are
//! allocated.

use crate::server::auth::Caller;
use crate::server::inflight::Reservation;
use axum::body::Bytes;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use std::io::Read;

/// What a push gets from the server's layers: the authenticated caller,
/// if any, and the in-flight reservation its body is decoded against.
pub struct Pusher {
    pub caller: Option<Caller>,
    pub res: Reservation,
}

impl<S: Send + Sync> FromRequestParts<S> for Pusher {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Pusher, Self::Rejection> {
        let res = parts.extensions.get::<Reservation>().cloned().ok_or((
            StatusCode::INTERNAL_SERVER_ERROR,
            "no in-flight reservation for the body",
        ))?;
        Ok(Pusher {
            caller: parts.extensions.get::<Caller>().cloned(),
            res,
        })
    }
}

/// Decompressed bytes are read this many at a time.
const CHUNK_BYTES: usize = 64 << 10;

/// The decoded body, or the status and reason to refuse it with (503 when
/// the in-flight budget cannot hold it).
pub fn decode(
    headers: &HeaderMap,
    body: Bytes,
    max: usize,
    res: &Reservation,
) -> Result<Bytes, (StatusCode, String)> {
    let Some(enc) = headers.get(header::CONTENT_ENCODING) else {
        return Ok(body);
    };
    let enc = String::from_utf8_lossy(enc.as_bytes())
        .trim()
        .to_ascii_lowercase();
    let reader: Box<dyn Read + '_> = match enc.as_str() {
        "" | "identity" => return Ok(body),
        "gzip" | "x-gzip" => Box::new(flate2::read::GzDecoder::new(&body[..])),
        "snappy" => Box::new(snap::read::FrameDecoder::new(&body[..])),
        other => {
            return Err((
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("unsupported Content-Encoding {other:?}: send identity, gzip or snappy"),
            ));
        }
    };
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    let out = read_reserved(reader.take(limit), res).map_err(|e| match e {
        ReadError::Io(e) => (
            StatusCode::BAD_REQUEST,
            format!("cannot decompress the {enc} body: {e}"),
        ),
        ReadError::OverBudget(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    })?;
    if out.len() > max {
        return Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("decompressed body is larger than the limit of {max} bytes"),
        ));
    }
    Ok(Bytes::from(out))
}

enum ReadError {
    Io(std::io::Error),
    OverBudget(crate::server::inflight::OverBudget),
}

/// Reads to the end, reserving each growth of the buffer before it.
fn read_reserved(mut reader: impl Read, res: &Reservation) -> Result<Vec<u8>, ReadError> {
    let mut out = Vec::new();
    let mut chunk = vec![0u8; CHUNK_BYTES];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => return Ok(out),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ReadError::Io(e)),
        };
        if out.len() + n > out.capacity() {
            // The whole new allocation is reserved: the old one is live
            // while it is copied, and the allocator may keep its pages.
            let grown = (out.capacity() * 2).max(out.len() + n);
            res.add(grown).map_err(ReadError::OverBudget)?;
            out.reserve_exact(grown - out.len());
        }
        out.extend_from_slice(&chunk[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use std::io::Write;

    fn headers(enc: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(enc) {
            h.insert(header::CONTENT_ENCODING, v);
        }
        h
    }

    fn res() -> Reservation {
        Reservation::new(&crate::server::inflight::BodyBudget::new(1 << 30))
    }

    fn gzip(data: &[u8]) -> Bytes {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(data).unwrap();
        Bytes::from(gz.finish().unwrap())
    }

    #[test]
    fn decodes_within_the_limit() {
        let plain = Bytes::from_static(b"m 1\n");
        assert_eq!(
            decode(&HeaderMap::new(), plain.clone(), 4, &res()),
            Ok(plain.clone())
        );
        assert_eq!(
            decode(&headers("identity"), plain.clone(), 4, &res()),
            Ok(plain.clone())
        );
        assert_eq!(
            decode(&headers("GZIP"), gzip(b"m 1\n"), 4, &res()),
            Ok(plain)
        );
    }

    #[test]
    fn decompressed_bytes_are_reserved_before_they_are_allocated() {
        let budget = crate::server::inflight::BodyBudget::new(256 << 10);
        let res = Reservation::new(&budget);
        let bomb = gzip(&vec![b'x'; 4 << 20]);
        assert_eq!(
            decode(&headers("gzip"), bomb, 8 << 20, &res).map_err(|e| e.0),
            Err(StatusCode::SERVICE_UNAVAILABLE)
        );
        assert!(res.was_refused());
        assert!(budget.used_bytes() <= 256 << 10);
        drop(res);
        assert_eq!(budget.used_bytes(), 0);
        let res = Reservation::new(&budget);
        let small = gzip(&vec![b'y'; 100 << 10]);
        assert_eq!(
            decode(&headers("gzip"), small, 8 << 20, &res).map(|b| b.len()),
            Ok(100 << 10)
        );
    }

    #[test]
    fn refusals() {
        // A small body that inflates past the limit is cut off, not read whole.
        let big = gzip(&vec![b'x'; 1 << 20]);
        assert_eq!(
            decode(&headers("gzip"), big, 1000, &res()).map_err(|e| e.0),
            Err(StatusCode::PAYLOAD_TOO_LARGE)
        );
        let bad = Bytes::from_static(b"not gzip");
        assert_eq!(
            decode(&headers("gzip"), bad.clone(), 1000, &res()).map_err(|e| e.0),
            Err(StatusCode::BAD_REQUEST)
        );
        assert_eq!(
            decode(&headers("snappy"), bad.clone(), 1000, &res()).map_err(|e| e.0),
            Err(StatusCode::BAD_REQUEST)
        );
        assert_eq!(
            decode(&headers("br"), bad, 1000, &res()).map_err(|e| e.0),
            Err(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        );
    }
}
