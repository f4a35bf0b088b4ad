//! Content negotiation: the `Accept` header Prometheus 3 sends for a job's
//! `scrape_protocols`, and the parser a response's `Content-Type` selects.

use super::config::Protocol;

/// The protobuf exposition format's media type, as Prometheus asks for it.
pub const PROTOBUF_MEDIA: &str =
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited";

/// Which parser reads a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text 0.0.4 (and 1.0.0).
    Text,
    /// OpenMetrics 1.0 (and 0.0.1).
    OpenMetrics,
    /// Delimited `MetricFamily` messages.
    Protobuf,
}

fn media(p: Protocol) -> &'static str {
    match p {
        Protocol::PrometheusProto => PROTOBUF_MEDIA,
        Protocol::OpenMetricsText100 => {
            "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8"
        }
        Protocol::OpenMetricsText001 => "application/openmetrics-text;version=0.0.1",
        Protocol::PrometheusText100 => "text/plain;version=1.0.0;escaping=allow-utf-8",
        Protocol::PrometheusText004 => "text/plain;version=0.0.4",
    }
}

/// The `Accept` header for `protocols` in order: q from 0.6 down by 0.1,
/// then `*/*`.
pub fn accept_header(protocols: &[Protocol]) -> String {
    let mut out = String::new();
    let mut q = 6;
    for m in protocols.iter().map(|&p| media(p)) {
        out.push_str(m);
        out.push_str(&format!(";q=0.{q},"));
        q -= 1;
    }
    out.push_str(&format!("*/*;q=0.{}", q.max(1)));
    out
}

/// The parser for a response's `Content-Type`, by media type alone; an
/// unusable type falls back to `fallback` or fails the scrape.
pub fn format_for(
    content_type: Option<&str>,
    fallback: Option<Protocol>,
) -> Result<Format, String> {
    let media = content_type
        .and_then(|c| c.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase());
    match media.as_deref() {
        Some("application/openmetrics-text") => Ok(Format::OpenMetrics),
        Some("text/plain") => Ok(Format::Text),
        Some("application/vnd.google.protobuf") => Ok(Format::Protobuf),
        _ => match fallback {
            Some(Protocol::OpenMetricsText100 | Protocol::OpenMetricsText001) => {
                Ok(Format::OpenMetrics)
            }
            Some(Protocol::PrometheusText004 | Protocol::PrometheusText100) => Ok(Format::Text),
            Some(Protocol::PrometheusProto) => Ok(Format::Protobuf),
            None => Err(format!(
                "received unsupported Content-Type {:?} and no fallback_scrape_protocol specified for target",
                content_type.unwrap_or("")
            )),
        },
    }
}
