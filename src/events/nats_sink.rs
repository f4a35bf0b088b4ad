//! The NATS JetStream sink: each event is published to
//! `<prefix>.metrics_collected.<source_id>` with header
//! `Nats-Msg-Id: <event_id>` (JetStream drops a repeat of an id within the
//! stream's duplicate window), pipelined, and counts as delivered only
//! when its publish acknowledgement arrives.

use super::bus::Stored;
use super::nats::{Conn, Login, PubAck};
use super::sink::{BoxFuture, EventSink};
use serde::Deserialize;
use std::time::Duration;

/// `[events.nats]` in the configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsConfig {
    /// `nats://host:port`.
    pub url: String,
    /// Subject prefix: events go to `<prefix>.metrics_collected.<source>`.
    #[serde(default = "default_prefix")]
    pub subject_prefix: String,
    /// The JetStream stream (created over `<prefix>.>` when missing).
    #[serde(default = "default_stream")]
    pub stream: String,
    /// User name (with `password`).
    #[serde(default)]
    pub user: Option<String>,
    /// Password.
    #[serde(default)]
    pub password: Option<String>,
    /// Token authentication instead.
    #[serde(default)]
    pub token: Option<String>,
    /// Longest wait for a connection or an acknowledgement, in seconds.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
}

fn default_prefix() -> String {
    "hourglass".into()
}

fn default_stream() -> String {
    "HOURGLASS_EVENTS".into()
}

fn default_timeout() -> u64 {
    5
}

impl NatsConfig {
    /// Checks the subject prefix and stream name.
    pub fn validate(&self) -> Result<(), String> {
        super::nats::host_port(&self.url)?;
        let token_ok = |t: &str| {
            !t.is_empty()
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if !self.subject_prefix.split('.').all(token_ok) {
            return Err(format!(
                "events.nats.subject_prefix {:?}: dot-separated tokens of letters, digits, _ and -",
                self.subject_prefix
            ));
        }
        if !token_ok(&self.stream) {
            return Err(format!(
                "events.nats.stream {:?}: letters, digits, _ and - only",
                self.stream
            ));
        }
        Ok(())
    }
}

/// A source id as one subject token: characters NATS gives meaning to
/// (`.`, `*`, `>`, spaces) and anything else outside `[A-Za-z0-9_-]`
/// become `_`; an empty id becomes `_`.
pub fn subject_token(source: &str) -> String {
    let mut t = String::with_capacity(source.len().max(1));
    push_subject_token(source, &mut t);
    t
}

/// Appends [`subject_token`]`(source)` to `out`.
fn push_subject_token(source: &str, out: &mut String) {
    let start = out.len();
    out.extend(source.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            c
        } else {
            '_'
        }
    }));
    if out.len() == start {
        out.push('_');
    }
}

/// The sink.
#[derive(Debug)]
pub struct NatsSink {
    config: NatsConfig,
    conn: Option<Conn>,
}

impl NatsSink {
    /// A sink that connects on first delivery.
    pub fn new(config: NatsConfig) -> NatsSink {
        NatsSink { config, conn: None }
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.config.timeout_seconds.max(1))
    }

    async fn connect(&mut self) -> Result<Conn, String> {
        let t = self.timeout();
        let login = Login {
            user: self.config.user.clone(),
            password: self.config.password.clone(),
            token: self.config.token.clone(),
        };
        let mut c = Conn::connect(&self.config.url, &login, t)
            .await
            .map_err(|e| e.to_string())?;
        let stream = &self.config.stream;
        let info = c
            .request(&format!("$JS.API.STREAM.INFO.{stream}"), b"", t)
            .await
            .map_err(|e| e.to_string())?;
        let missing = serde_json::from_slice::<serde_json::Value>(&info)
            .ok()
            .is_some_and(|v| v["error"]["code"] == 404);
        if missing {
            let create = serde_json::json!({
                "name": stream,
                "subjects": [format!("{}.>", self.config.subject_prefix)],
                "storage": "file",
                "duplicate_window": 120_000_000_000u64,
            });
            let r = c
                .request(
                    &format!("$JS.API.STREAM.CREATE.{stream}"),
                    create.to_string().as_bytes(),
                    t,
                )
                .await
                .map_err(|e| e.to_string())?;
            let v: serde_json::Value = serde_json::from_slice(&r).unwrap_or_default();
            if v.get("error").is_some() {
                return Err(format!("cannot create stream {stream}: {}", v["error"]));
            }
            tracing::info!(stream, "created the JetStream stream for events");
        }
        Ok(c)
    }

    async fn publish(&mut self, events: &[Stored]) -> Result<(), String> {
        let t = self.timeout();
        let mut conn = match self.conn.take() {
            Some(c) => c,
            None => self.connect().await?,
        };
        let prefix = &self.config.subject_prefix;
        // Reply tokens are outbox sequence numbers from `base` on.
        let base = events.first().map_or(0, |e| e.seq);
        let mut acked_flags = vec![false; events.len()];
        let (mut sent, mut acked) = (0, 0);
        let mut subject = String::new();
        while acked < events.len() {
            // The next publishes go out while the broker still works on
            // the window's older half.
            if sent < events.len() && sent - acked <= WINDOW / 2 {
                let upto = (acked + WINDOW).min(events.len());
                for e in &events[sent..upto] {
                    subject.clear();
                    subject.push_str(prefix);
                    subject.push_str(".metrics_collected.");
                    push_subject_token(&e.collected().source_id, &mut subject);
                    conn.hpub(
                        &subject,
                        &e.seq.to_string(),
                        &[("Nats-Msg-Id", &e.event.event_id)],
                        e.json.as_bytes(),
                    );
                }
                sent = upto;
                conn.flush().await.map_err(|e| e.to_string())?;
            }
            let r = conn.reply(t).await.map_err(|e| e.to_string())?;
            let slot = r
                .token
                .parse::<u64>()
                .ok()
                .and_then(|seq| usize::try_from(seq.checked_sub(base)?).ok())
                .filter(|&i| i < sent);
            let Some(i) = slot else { continue };
            if std::mem::replace(&mut acked_flags[i], true) {
                continue;
            }
            acked += 1;
            if r.status == Some(503) {
                return Err(format!(
                    "no JetStream stream takes {prefix}.metrics_collected.* (stream {})",
                    self.config.stream
                ));
            }
            check_ack(&r.payload)?;
        }
        self.conn = Some(conn);
        Ok(())
    }
}

/// Publishes awaiting their acknowledgement at most.
const WINDOW: usize = 1024;

/// An acknowledgement's verdict; a plain `{"stream":…,"seq":…}` is
/// accepted without a full parse.
fn check_ack(payload: &[u8]) -> Result<(), String> {
    let plain =
        payload.starts_with(b"{\"stream\":") && !payload.windows(8).any(|w| w == b"\"error\":");
    if plain {
        return Ok(());
    }
    let ack: PubAck = serde_json::from_slice(payload)
        .map_err(|e| format!("unreadable publish acknowledgement: {e}"))?;
    match ack.error {
        Some(err) => Err(format!(
            "JetStream refused an event ({}): {}",
            err.code, err.description
        )),
        None => Ok(()),
    }
}

impl EventSink for NatsSink {
    fn kind(&self) -> &'static str {
        "nats"
    }

    fn target(&self) -> String {
        format!(
            "{} stream {} subjects {}.metrics_collected.*",
            self.config.url, self.config.stream, self.config.subject_prefix
        )
    }

    fn deliver<'a>(&'a mut self, events: &'a [Stored]) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            // A failure drops the connection; the next attempt reconnects.
            self.publish(events).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_ids_become_single_subject_tokens() {
        assert_eq!(subject_token("node"), "node");
        assert_eq!(subject_token("127.0.0.1"), "127_0_0_1");
        assert_eq!(subject_token("a b*>"), "a_b__");
        assert_eq!(subject_token(""), "_");
    }

    #[test]
    fn acks_pass_plain_and_refusals_fail() {
        assert!(check_ack(br#"{"stream":"S","seq":3}"#).is_ok());
        assert!(check_ack(br#"{"stream":"S","seq":3,"duplicate":true}"#).is_ok());
        let refused =
            br#"{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"}}"#;
        assert!(check_ack(refused).unwrap_err().contains("maximum messages"));
        assert!(check_ack(b"garbage").is_err());
    }

    #[test]
    fn config_is_checked() {
        let mut c: NatsConfig = toml::from_str("url = \"nats://127.0.0.1:4222\"").unwrap();
        assert_eq!(c.subject_prefix, "hourglass");
        assert!(c.validate().is_ok());
        c.subject_prefix = "a..b".into();
        assert!(c.validate().unwrap_err().contains("subject_prefix"));
        assert!(toml::from_str::<NatsConfig>("url = \"x\"\nbogus = 1").is_err());
    }
}
