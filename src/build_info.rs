//! What this binary is, for `/api/v1/status/buildinfo` and `/metrics`.

/// Our own version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git commit built, when known.
pub const REVISION: &str = match option_env!("HOURGLASS_GIT_REVISION") {
    Some(r) => r,
    None => "unknown",
};
/// The compiler that built it.
pub const RUSTC: &str = match option_env!("HOURGLASS_RUSTC_VERSION") {
    Some(r) => r,
    None => "rustc",
};
/// Build time (RFC 3339), when known.
pub const BUILD_DATE: &str = match option_env!("HOURGLASS_BUILD_DATE") {
    Some(r) => r,
    None => "unknown",
};
/// The Prometheus release whose HTTP API and PromQL semantics we follow.
/// Grafana gates features on this field, and wants at least 2.50.
pub const PROMETHEUS_COMPAT_VERSION: &str = "3.0.0";
