//! One HTTP GET per scrape over a kept-alive HTTP/1.1 connection: a single
//! deadline over connect, headers, body and gunzip; `body_size_limit`
//! counts decompressed bytes, and a body of exactly the limit fails.

use super::config::{Authorization, BasicAuth};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use std::io::Read;
use std::time::Duration;

/// Ceiling on a body when the job sets no `body_size_limit`, so a target
/// cannot exhaust memory.
pub const MAX_BODY_BYTES: u64 = 1 << 30;

/// What one request asks for.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// `http://host:port/path?query`.
    pub url: &'a str,
    /// The `Accept` header.
    pub accept: &'a str,
    /// Ask for gzip.
    pub gzip: bool,
    /// Deadline for the whole fetch.
    pub timeout: Duration,
    /// Decompressed bytes allowed (0: [`MAX_BODY_BYTES`]).
    pub body_limit: u64,
    /// `Authorization` header value.
    pub authorization: Option<String>,
    /// More headers.
    pub headers: Vec<(&'static str, String)>,
    /// TLS client for an https URL; none: the system's roots.
    pub tls: Option<&'a super::tls::TlsClient>,
}

/// Why a fetch failed, worded as Prometheus words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The deadline passed.
    #[error("Get {url:?}: context deadline exceeded")]
    Timeout {
        /// The URL.
        url: String,
    },
    /// Connecting or talking HTTP failed.
    #[error("Get {url:?}: {reason}")]
    Transport {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// A status other than 200.
    #[error("server returned HTTP status {0}")]
    Status(String),
    /// The body reached `body_size_limit`.
    #[error("body size limit exceeded")]
    BodyTooLarge,
    /// A gzip body that does not decompress.
    #[error("invalid gzip body: {0}")]
    Gzip(String),
}

type Sender = http1::SendRequest<Empty<Bytes>>;

/// A target's connection and buffers, reused from scrape to scrape.
#[derive(Default)]
pub struct Fetcher {
    conn: Option<(String, Sender)>,
    raw: Vec<u8>,
    /// The last body, decompressed.
    pub body: Vec<u8>,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("connected", &self.conn.is_some())
            .finish()
    }
}

impl Fetcher {
    /// Fetches into [`Fetcher::body`]; returns the Content-Type.
    pub async fn fetch(&mut self, req: &Request<'_>) -> Result<Option<String>, FetchError> {
        let url = req.url.to_string();
        match tokio::time::timeout(req.timeout, self.fetch_inner(req)).await {
            Ok(r) => r,
            Err(_) => {
                self.conn = None;
                Err(FetchError::Timeout { url })
            }
        }
    }

    async fn fetch_inner(&mut self, req: &Request<'_>) -> Result<Option<String>, FetchError> {
        let transport = |reason: String| FetchError::Transport {
            url: req.url.to_string(),
            reason,
        };
        let uri: hyper::Uri = req
            .url
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| transport(e.to_string()))?;
        let tls = match uri.scheme_str() {
            Some("http") => None,
            Some("https") => Some(match req.tls {
                Some(t) => t.clone(),
                None => super::tls::default_client().map_err(transport)?,
            }),
            other => {
                return Err(transport(format!(
                    "unsupported protocol scheme {:?}",
                    other.unwrap_or("")
                )));
            }
        };
        let authority = uri
            .authority()
            .map(|a| a.as_str().to_string())
            .ok_or_else(|| transport("no host in request URL".into()))?;
        // Kept-alive connections are reused per scheme and authority.
        let conn_key = format!("{}://{authority}", uri.scheme_str().unwrap_or(""));
        let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
        let build = || {
            let mut b = hyper::Request::get(path.as_str())
                .header(hyper::header::HOST, authority.as_str())
                .header(hyper::header::ACCEPT, req.accept)
                .header(
                    hyper::header::ACCEPT_ENCODING,
                    if req.gzip { "gzip" } else { "identity" },
                )
                .header(
                    hyper::header::USER_AGENT,
                    concat!("Hourglass/", env!("CARGO_PKG_VERSION")),
                );
            for (k, v) in &req.headers {
                b = b.header(*k, v.as_str());
            }
            if let Some(a) = &req.authorization {
                b = b.header(hyper::header::AUTHORIZATION, a.as_str());
            }
            b.body(Empty::<Bytes>::new())
                .map_err(|e| transport(e.to_string()))
        };
        let reused = self
            .conn
            .as_ref()
            .is_some_and(|(a, s)| *a == conn_key && !s.is_closed());
        if !reused {
            self.conn = None;
        }
        let mut response = None;
        for attempt in 0..2 {
            if self.conn.is_none() {
                self.conn = Some((
                    conn_key.clone(),
                    connect(&uri, &authority, tls.as_ref())
                        .await
                        .map_err(transport)?,
                ));
            }
            let Some((_, sender)) = self.conn.as_mut() else {
                continue;
            };
            let sent = match sender.ready().await {
                Ok(()) => sender.send_request(build()?).await,
                Err(e) => Err(e),
            };
            match sent {
                Ok(r) => {
                    response = Some(r);
                    break;
                }
                // A kept-alive connection the server closed meanwhile: once more.
                Err(_) if attempt == 0 && reused => self.conn = None,
                Err(e) => {
                    self.conn = None;
                    return Err(transport(e.to_string()));
                }
            }
        }
        let response = response.ok_or_else(|| transport("no response".into()))?;
        let status = response.status();
        if status != hyper::StatusCode::OK {
            return Err(FetchError::Status(format!(
                "{} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            )));
        }
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let content_type = header(hyper::header::CONTENT_TYPE);
        let gzipped =
            header(hyper::header::CONTENT_ENCODING).is_some_and(|e| e.eq_ignore_ascii_case("gzip"));
        let limit = if req.body_limit == 0 {
            MAX_BODY_BYTES
        } else {
            req.body_limit
        };
        self.raw.clear();
        let mut body = response.into_body();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| transport(e.to_string()))?;
            if let Ok(data) = frame.into_data() {
                self.raw.extend_from_slice(&data);
                if !gzipped && self.raw.len() as u64 >= limit {
                    self.conn = None;
                    return Err(FetchError::BodyTooLarge);
                }
                // gzip never doubles its input: a compressed body twice the
                // limit cannot fit once decompressed.
                if self.raw.len() as u64 >= limit.saturating_mul(2) {
                    self.conn = None;
                    return Err(FetchError::BodyTooLarge);
                }
            }
        }
        if gzipped {
            self.body.clear();
            let mut dec = flate2::read::GzDecoder::new(self.raw.as_slice()).take(limit);
            dec.read_to_end(&mut self.body)
                .map_err(|e| FetchError::Gzip(e.to_string()))?;
            if self.body.len() as u64 >= limit {
                return Err(FetchError::BodyTooLarge);
            }
        } else {
            std::mem::swap(&mut self.body, &mut self.raw);
        }
        Ok(content_type)
    }
}

async fn connect(
    uri: &hyper::Uri,
    authority: &str,
    tls: Option<&super::tls::TlsClient>,
) -> Result<Sender, String> {
    let host = uri.host().unwrap_or("");
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = uri
        .port_u16()
        .unwrap_or(if tls.is_some() { 443 } else { 80 });
    let stream = tokio::net::TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("dial tcp {authority}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let Some(tls) = tls else {
        return handshake(stream).await;
    };
    let name = tls.server_name.as_deref().unwrap_or(host).to_string();
    let name = rustls::pki_types::ServerName::try_from(name)
        .map_err(|e| format!("tls: invalid server name: {e}"))?;
    let stream = tokio_rustls::TlsConnector::from(std::sync::Arc::clone(&tls.config))
        .connect(name, stream)
        .await
        .map_err(|e| format!("tls: {e}"))?;
    handshake(stream).await
}

/// HTTP/1.1 over an open stream; the connection is driven by its own task.
async fn handshake<S>(stream: S) -> Result<Sender, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// A secret given inline or in a file (the file wins, trimmed); empty when
/// neither is given.
fn secret(inline: Option<&String>, file: Option<&String>, what: &str) -> Result<String, String> {
    match (inline, file) {
        (_, Some(f)) => std::fs::read_to_string(f)
            .map(|s| s.trim().to_string())
            .map_err(|e| format!("unable to read {what} file {f}: {e}")),
        (Some(s), None) => Ok(s.clone()),
        (None, None) => Ok(String::new()),
    }
}

/// The `Authorization` header for a job's or an SD entry's credentials;
/// files are read each time, so rotated secrets are picked up.
pub fn authorization_header(
    basic_auth: Option<&BasicAuth>,
    authorization: Option<&Authorization>,
) -> Result<Option<String>, String> {
    use base64::Engine as _;
    if let Some(b) = basic_auth {
        let password = secret(b.password.as_ref(), b.password_file.as_ref(), "password")?;
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{password}", b.username));
        return Ok(Some(format!("Basic {token}")));
    }
    if let Some(a) = authorization {
        let creds = secret(
            a.credentials.as_ref(),
            a.credentials_file.as_ref(),
            "authorization credentials",
        )?;
        return Ok(Some(format!(
            "{} {creds}",
            a.kind.as_deref().unwrap_or("Bearer")
        )));
    }
    Ok(None)
}
