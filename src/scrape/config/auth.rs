//! HTTP credentials of a job or an HTTP SD entry.

use serde::Deserialize;

/// `basic_auth` of a job.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// User name.
    pub username: String,
    /// Password, inline.
    pub password: Option<String>,
    /// Password read from this file at each scrape.
    pub password_file: Option<String>,
}

/// `authorization` of a job (`type` defaults to `Bearer`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    /// Scheme word.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Credentials, inline.
    pub credentials: Option<String>,
    /// Credentials read from this file at each scrape.
    pub credentials_file: Option<String>,
}
