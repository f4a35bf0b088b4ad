//! The built-in web UI: the files of `ui/` embedded in the binary and
//! served at `/` (index.html) and `/ui/<asset>`. Each file is gzipped once,
//! at its first request, and answered compressed to clients that accept
//! gzip; an ETag (CRC-32 of the file) lets browsers revalidate with 304.
//! The pages talk to the server through the public HTTP API only.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::io::Write;
use std::sync::OnceLock;

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset {
            name: $name,
            content_type: $type,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/ui/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of `ui/`; a file not listed here is not served.
const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("dom.js", JS),
    asset!("format.js", JS),
    asset!("promql.js", JS),
    asset!("editor.js", JS),
    asset!("graph.js", JS),
    asset!("query.js", JS),
    asset!("targets.js", JS),
    asset!("cardinality.js", JS),
    asset!("live.js", JS),
    asset!("status.js", JS),
    asset!("range_worker.js", JS),
];

/// An asset ready to send: its gzip form and its ETag.
struct Prepared {
    gzip: Vec<u8>,
    etag: HeaderValue,
}

fn prepared() -> &'static [Prepared] {
    static PREPARED: OnceLock<Vec<Prepared>> = OnceLock::new();
    PREPARED.get_or_init(|| ASSETS.iter().map(prepare).collect())
}

fn prepare(a: &Asset) -> Prepared {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing to a Vec cannot fail; an empty gzip form falls back to identity.
    let gzip = enc
        .write_all(a.bytes)
        .and_then(|()| enc.finish())
        .unwrap_or_default();
    let etag = HeaderValue::from_str(&format!("\"{:08x}\"", crc32fast::hash(a.bytes)))
        .unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
    Prepared { gzip, etag }
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|part| {
            let mut it = part.split(';');
            let coding = it.next().unwrap_or("").trim();
            let refused = it.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    == Some(0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
}

fn serve(name: &str, headers: &HeaderMap) -> Response {
    let Some((asset, ready)) = ASSETS.iter().zip(prepared()).find(|(a, _)| a.name == name) else {
        return (StatusCode::NOT_FOUND, "no such UI file\n").into_response();
    };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == ready.etag.as_bytes());
    let mut h = HeaderMap::new();
    h.insert(header::ETAG, ready.etag.clone());
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if fresh {
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if accepts_gzip(headers) && !ready.gzip.is_empty() {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        return (h, ready.gzip.clone()).into_response();
    }
    (h, asset.bytes).into_response()
}

/// `GET /`: the UI's page.
pub async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

/// `GET /ui/<asset>`: a script or style sheet of the UI.
pub async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    serve(&name, &headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn every_asset_gzips_back_to_itself() {
        for (a, p) in ASSETS.iter().zip(prepared()) {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&p.gzip[..])
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, a.bytes, "{}", a.name);
        }
    }

    #[test]
    fn gzip_is_refused_only_when_asked() {
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(v));
            accepts_gzip(&h)
        };
        assert!(with("gzip, deflate, br"));
        assert!(with("br;q=1.0, GZIP;q=0.5"));
        assert!(!with("gzip;q=0"));
        assert!(!with("br"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
