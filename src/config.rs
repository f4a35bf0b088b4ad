//! The optional configuration file (`--config hourglass.toml`): who may
//! write and read, and request limits.
//!
//! ```toml
//! [limits]
//! max_series_per_request = 100000
//! max_labels_per_series = 64
//! max_label_name_bytes = 1024
//! max_label_value_bytes = 4096
//! max_active_series = 2000000        # optional: live series in the head
//! max_new_series_per_minute = 100000 # optional: series created per minute
//! max_metadata_families = 100000     # metric families with metadata kept
//! max_metadata_bytes = 16384         # one family's name, help and unit
//!
//! [rules]
//! files = ["/etc/hourglass/rules/*.yml"] # more rule files (Prometheus format)
//! ready_made = true                      # the rules shipped in rules/
//!
//! [[auth.write.tokens]]          # Authorization: Bearer <token>
//! name = "prometheus-a"
//! token = "…"
//! samples_per_second = 500000    # optional rate limit (429 beyond it)
//! max_active_series = 500000     # optional: series this caller created
//! max_new_series_per_minute = 10000
//!
//! [[auth.write.basic]]           # Authorization: Basic …
//! username = "pusher"
//! password = "…"
//!
//! [[auth.read.tokens]]
//! name = "grafana"
//! token = "…"
//!
//! [[retention]]                  # first match wins; --retention is the fallback
//! match = '{job="debug"}'
//! keep = "3d"
//!
//! [[downsample]]                 # tiers; per `after`, the first match wins
//! match = '{job="node"}'
//! after = "7d"                   # age (from the newest data) past which
//! resolution = "5m"              # raw samples become 5m summaries
//!
//! [events.nats]                  # publish events to NATS JetStream
//! url = "nats://127.0.0.1:4222"
//! subject_prefix = "hourglass"   # <prefix>.metrics_collected.<source_id>
//! stream = "HOURGLASS_EVENTS"    # created over <prefix>.> when missing
//! user = "…"                     # optional: user and password, or token
//! password = "…"
//! ```
//!
//! A path class with no credentials configured is open.

use anyhow::Context;
use hourglass_storage::{DownsampleRule, RetentionRule};
use serde::Deserialize;
use std::path::Path;

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Credentials per path class.
    pub auth: Auth,
    /// Request limits.
    pub limits: Limits,
    /// Rule files beside those of the Prometheus configuration.
    pub rules: RulesSection,
    /// Retention per selector, in order (first match wins).
    pub retention: Vec<RetentionConfig>,
    /// Downsampling tiers, in order.
    pub downsample: Vec<DownsampleConfig>,
    /// Where events are published beyond SSE and WebSocket.
    pub events: Events,
}

/// `[events]`: broker sinks.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Events {
    /// `[events.nats]`: NATS JetStream.
    pub nats: Option<crate::events::nats_sink::NatsConfig>,
}

/// `[rules]`: more rule files (globs) and the ready-made rules.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RulesSection {
    /// Rule file patterns (`*` and `?` in the last element).
    pub files: Vec<String>,
    /// Evaluate the ready-made rules shipped in `rules/`.
    pub ready_made: bool,
}

/// One `[[retention]]` rule as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// A series selector (`{job="debug"}`, `up{env=~"dev|test"}`).
    #[serde(rename = "match")]
    pub selector: String,
    /// How long the selected series are kept (`3d`, `2y`).
    pub keep: String,
}

/// One `[[downsample]]` tier as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DownsampleConfig {
    /// A series selector.
    #[serde(rename = "match")]
    pub selector: String,
    /// Age past which the tier applies (`7d`).
    pub after: String,
    /// Interval length (`5m`, `1h`).
    pub resolution: String,
}

/// Most `[[downsample]]` tiers.
pub const MAX_DOWNSAMPLE_RULES: usize = 100;

/// Most `[[retention]]` rules.
pub const MAX_RETENTION_RULES: usize = 1000;

/// Credentials for writing and for reading, separately.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Auth {
    /// Remote write, pushes.
    pub write: Credentials,
    /// Queries and the rest of the Prometheus API.
    pub read: Credentials,
}

/// Who may use one path class.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Credentials {
    /// Bearer tokens.
    pub tokens: Vec<Token>,
    /// Basic-auth users.
    pub basic: Vec<BasicUser>,
}

impl Credentials {
    /// True when nothing is configured: the class is open.
    pub fn is_open(&self) -> bool {
        self.tokens.is_empty() && self.basic.is_empty()
    }
}

/// What one caller (a token or a user) may write; keys beside its name
/// and secret.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CallerLimits {
    /// Most samples per second this caller may write.
    pub samples_per_second: Option<u64>,
    /// Most live series this caller may have created.
    pub max_active_series: Option<u64>,
    /// Most series this caller may create per minute.
    pub max_new_series_per_minute: Option<u64>,
}

/// One bearer token.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Token {
    /// A name for logs and metrics (never the token itself).
    pub name: String,
    /// The secret.
    pub token: String,
    /// What this caller may write.
    #[serde(flatten)]
    pub limits: CallerLimits,
}

/// One basic-auth user.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicUser {
    /// User name (also the name in logs and metrics).
    pub username: String,
    /// The password.
    pub password: String,
    /// What this caller may write.
    #[serde(flatten)]
    pub limits: CallerLimits,
}

/// Request limits beyond the body size; a field left out keeps its
/// default.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Most series in one write request.
    pub max_series_per_request: usize,
    /// Most labels per series, `__name__` included.
    pub max_labels_per_series: usize,
    /// Longest label name in bytes.
    pub max_label_name_bytes: usize,
    /// Longest label value in bytes.
    pub max_label_value_bytes: usize,
    /// Most live series in the head, server-wide.
    pub max_active_series: Option<u64>,
    /// Most series created per minute, server-wide.
    pub max_new_series_per_minute: Option<u64>,
    /// Most metric families whose metadata (type, help, unit) is kept.
    pub max_metadata_families: usize,
    /// Longest metadata entry in bytes (family name, help and unit).
    pub max_metadata_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_series_per_request: 1_000_000,
            max_labels_per_series: 64,
            max_label_name_bytes: 1024,
            max_label_value_bytes: 4096,
            max_active_series: None,
            max_new_series_per_minute: None,
            max_metadata_families: 100_000,
            max_metadata_bytes: 16 * 1024,
        }
    }
}

impl Config {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        Config::parse(&text).with_context(|| format!("invalid config file {}", path.display()))
    }

    /// Parses config text.
    pub fn parse(text: &str) -> anyhow::Result<Config> {
        let c: Config = toml::from_str(text)?;
        for (class, creds) in [("write", &c.auth.write), ("read", &c.auth.read)] {
            if let Some(t) = creds.tokens.iter().find(|t| t.token.len() < 16) {
                anyhow::bail!(
                    "auth.{class}.tokens: token {:?} is shorter than 16 characters",
                    t.name
                );
            }
            if creds.basic.iter().any(|u| u.password.is_empty()) {
                anyhow::bail!("auth.{class}.basic: empty password");
            }
        }
        c.retention_rules()?;
        c.downsample_rules()?;
        Ok(c)
    }

    /// The `[[downsample]]` tiers, checked: each selector parses, `after`
    /// and `resolution` are positive durations, each resolution divides a
    /// day, and the tiers nest (`hourglass_storage::downsample::check_rules`).
    pub fn downsample_rules(&self) -> anyhow::Result<Vec<DownsampleRule>> {
        if self.downsample.len() > MAX_DOWNSAMPLE_RULES {
            anyhow::bail!("downsample: at most {MAX_DOWNSAMPLE_RULES} tiers");
        }
        let mut rules = Vec::with_capacity(self.downsample.len());
        for (i, r) in self.downsample.iter().enumerate() {
            let name = format!("downsample rule {} (match = {:?})", i + 1, r.selector);
            let matchers = match hourglass_query::parse(&r.selector) {
                Ok(hourglass_query::Expr::Vector(v)) if v.offset.is_none() && v.at.is_none() => {
                    v.matchers
                }
                Ok(_) => anyhow::bail!("{name}: not a plain series selector"),
                Err(e) => anyhow::bail!("{name}: invalid selector: {e}"),
            };
            let dur = |field: &str, text: &str| {
                hourglass_query::duration::parse_duration_ms(text)
                    .ok()
                    .filter(|&ms| ms > 0)
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "{name}: {field} = {text:?} is not a positive duration such as \"5m\""
                        )
                    })
            };
            rules.push(DownsampleRule {
                selector: r.selector.clone(),
                matchers,
                after_ms: dur("after", &r.after)?,
                resolution_ms: dur("resolution", &r.resolution)?,
            });
        }
        hourglass_storage::downsample::check_rules(&rules).map_err(anyhow::Error::msg)?;
        Ok(rules)
    }

    /// The `[[retention]]` rules, checked: each selector parses (with a
    /// matcher that rejects the empty string), each `keep` is a positive
    /// duration, and no rule is
    /// shadowed by an earlier one (whose matchers are a subset of its own:
    /// first match wins, so it could never apply).
    pub fn retention_rules(&self) -> anyhow::Result<Vec<RetentionRule>> {
        if self.retention.len() > MAX_RETENTION_RULES {
            anyhow::bail!("retention: at most {MAX_RETENTION_RULES} rules");
        }
        let mut rules: Vec<RetentionRule> = Vec::with_capacity(self.retention.len());
        for (i, r) in self.retention.iter().enumerate() {
            let n = i + 1;
            let matchers = match hourglass_query::parse(&r.selector) {
                Ok(hourglass_query::Expr::Vector(v)) if v.offset.is_none() && v.at.is_none() => {
                    v.matchers
                }
                Ok(_) => anyhow::bail!(
                    "retention rule {n} (match = {:?}): not a plain series selector",
                    r.selector
                ),
                Err(e) => anyhow::bail!(
                    "retention rule {n} (match = {:?}): invalid selector: {e}",
                    r.selector
                ),
            };
            let keep_ms = hourglass_query::duration::parse_duration_ms(&r.keep)
                .ok()
                .filter(|&ms| ms > 0)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "retention rule {n} (match = {:?}): keep = {:?} is not a positive duration such as \"3d\"",
                        r.selector,
                        r.keep
                    )
                })?;
            if let Some((j, earlier)) = rules
                .iter()
                .enumerate()
                .find(|(_, e)| e.matchers.iter().all(|m| matchers.contains(m)))
            {
                anyhow::bail!(
                    "retention rule {n} (match = {:?}) never applies: rule {} (match = {:?}) selects every series it does and comes first",
                    r.selector,
                    j + 1,
                    earlier.selector
                );
            }
            rules.push(RetentionRule {
                selector: r.selector.clone(),
                matchers,
                keep_ms,
            });
        }
        Ok(rules)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downsample_tiers_parse_and_bad_ones_are_refused_naming_the_rule() {
        let tier = |m: &str, a: &str, r: &str| {
            format!("[[downsample]]\nmatch = '{m}'\nafter = \"{a}\"\nresolution = \"{r}\"\n")
        };
        let ok = tier("{job=\"node\"}", "7d", "5m") + &tier("{job=\"node\"}", "90d", "1h");
        let c: Config = toml::from_str(&ok).unwrap();
        let r = c.downsample_rules().unwrap();
        assert_eq!(
            (r[0].after_ms, r[0].resolution_ms),
            (7 * 86_400_000, 300_000)
        );
        assert_eq!(r[1].resolution_ms, 3_600_000);
        for (bad, want) in [
            (tier("{job=", "7d", "5m"), "invalid selector"),
            (
                tier("rate(x[5m])", "7d", "5m"),
                "not a plain series selector",
            ),
            (tier("x", "soon", "5m"), "after = \"soon\""),
            (tier("x", "7d", "0s"), "resolution = \"0s\""),
            (tier("x", "7d", "7m"), "divide a day"),
            (
                tier("x", "7d", "5m") + &tier("y", "90d", "7m30s"),
                "does not nest",
            ),
            (
                tier("x", "7d", "5m") + &tier("x", "7d", "10m"),
                "never applies",
            ),
        ] {
            let c: Config = toml::from_str(&bad).unwrap();
            let e = c.downsample_rules().unwrap_err().to_string();
            assert!(
                e.contains("downsample rule") && e.contains(want),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn parses_the_documented_example() {
        let c = Config::parse(
            r#"
            [limits]
            max_series_per_request = 5
            [[auth.write.tokens]]
            name = "a"
            token = "0123456789abcdef"
            samples_per_second = 100
            max_active_series = 7
            [[auth.read.basic]]
            username = "u"
            password = "p"
            "#,
        )
        .unwrap();
        assert_eq!(c.limits.max_series_per_request, 5);
        assert_eq!(c.limits.max_labels_per_series, 64);
        let limits = &c.auth.write.tokens[0].limits;
        assert_eq!(limits.samples_per_second, Some(100));
        assert_eq!(limits.max_active_series, Some(7));
        assert_eq!(limits.max_new_series_per_minute, None);
        assert_eq!(c.limits.max_active_series, None);
        assert!(!c.auth.read.is_open());
    }

    #[test]
    fn retention_rules_parse_in_order() {
        let c = Config::parse(
            r#"
            [[retention]]
            match = '{job="debug"}'
            keep = "3d"
            [[retention]]
            match = 'slo_errors{team=~"a|b"}'
            keep = "2y"
            "#,
        )
        .unwrap();
        let r = c.retention_rules().unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].keep_ms, 3 * 86_400_000);
        assert_eq!(r[1].matchers.len(), 2);
    }

    #[test]
    fn invalid_or_overlapping_retention_rules_are_refused_naming_the_rule() {
        let rule = |m: &str, k: &str| format!("[[retention]]\nmatch = '{m}'\nkeep = \"{k}\"\n");
        for (text, want) in [
            (rule("{job=", "3d"), "rule 1"),
            (rule("{job=\"a\"}", "soon"), "keep = \"soon\""),
            (rule("{job=\"a\"}", "0s"), "not a positive duration"),
            (rule("rate(x[5m])", "1d"), "not a plain series selector"),
            (rule("{job=~\".*\"}", "1d"), "non-empty matcher"),
            (
                rule("{job=\"a\"}", "1d") + &rule("{job=\"a\",env=\"x\"}", "2d"),
                "rule 2 (match = \"{job=\\\"a\\\",env=\\\"x\\\"}\") never applies: rule 1",
            ),
            (
                rule("{job=\"a\"}", "1d") + &rule("{job=\"a\"}", "2d"),
                "never applies",
            ),
            ("[[retention]]\nmatch = 'x'\n".to_string(), "keep"),
        ] {
            let e = format!("{:#}", Config::parse(&text).unwrap_err());
            assert!(e.contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn refuses_weak_or_unknown_settings() {
        assert!(Config::parse("[[auth.write.tokens]]\nname='a'\ntoken='short'").is_err());
        assert!(Config::parse("[limits]\nmax_serie = 3").is_err());
        // Caller limits sit beside a token's name and secret; a misspelt
        // one is still refused by name.
        for class in ["tokens", "basic"] {
            let who = if class == "tokens" {
                "name='a'\ntoken='0123456789abcdef'"
            } else {
                "username='u'\npassword='p'"
            };
            let e = Config::parse(&format!(
                "[[auth.write.{class}]]\n{who}\nsamples_per_secnd = 5"
            ))
            .unwrap_err();
            assert!(format!("{e:#}").contains("samples_per_secnd"), "{e:#}");
        }
    }
}
