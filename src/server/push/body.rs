//! Request bodies as senders compress them: `Content-Encoding` gzip or
//! snappy (framing format, as python-snappy's stream compressor and the
//! Pushgateway clients send it), bounded by the body limit.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use std::io::Read;

/// The decoded body, or the status and reason to refuse it with.
pub fn decode(headers: &HeaderMap, body: Bytes, max: usize) -> Result<Bytes, (StatusCode, String)> {
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
    let mut out = Vec::new();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    if let Err(e) = reader.take(limit).read_to_end(&mut out) {
        return Err((
            StatusCode::BAD_REQUEST,
            format!("cannot decompress the {enc} body: {e}"),
        ));
    }
    if out.len() > max {
        return Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("decompressed body is larger than the limit of {max} bytes"),
        ));
    }
    Ok(Bytes::from(out))
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

    fn gzip(data: &[u8]) -> Bytes {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(data).unwrap();
        Bytes::from(gz.finish().unwrap())
    }

    #[test]
    fn decodes_within_the_limit() {
        let plain = Bytes::from_static(b"m 1\n");
        assert_eq!(
            decode(&HeaderMap::new(), plain.clone(), 4),
            Ok(plain.clone())
        );
        assert_eq!(
            decode(&headers("identity"), plain.clone(), 4),
            Ok(plain.clone())
        );
        assert_eq!(decode(&headers("GZIP"), gzip(b"m 1\n"), 4), Ok(plain));
    }

    #[test]
    fn refusals() {
        // A small body that inflates past the limit is cut off, not read whole.
        let big = gzip(&vec![b'x'; 1 << 20]);
        assert_eq!(
            decode(&headers("gzip"), big, 1000).map_err(|e| e.0),
            Err(StatusCode::PAYLOAD_TOO_LARGE)
        );
        let bad = Bytes::from_static(b"not gzip");
        assert_eq!(
            decode(&headers("gzip"), bad.clone(), 1000).map_err(|e| e.0),
            Err(StatusCode::BAD_REQUEST)
        );
        assert_eq!(
            decode(&headers("snappy"), bad.clone(), 1000).map_err(|e| e.0),
            Err(StatusCode::BAD_REQUEST)
        );
        assert_eq!(
            decode(&headers("br"), bad, 1000).map_err(|e| e.0),
            Err(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        );
    }
}
