//! Recording and alerting rules: Prometheus rule files ([`file`]) named by
//! the Prometheus configuration ([`config`]), groups run on their aligned
//! interval ([`schedule`], [`group`], [`task`]) through the PromQL engine, recorded
//! series and `ALERTS` written through the normal append path
//! ([`rule`], [`recording`], [`alerting`], [`alert`]), templated labels and
//! annotations ([`template`]), `for` restored after a restart
//! ([`restore`]), and alerts sent to Alertmanager ([`notifier`]).
//! [`manager`] ties them together and reloads them.

pub mod alert;
pub mod alerting;
pub mod config;
pub mod file;
pub mod group;
pub mod manager;
pub mod notifier;
pub mod recording;
pub mod restore;
pub mod rule;
pub mod schedule;
pub mod task;
pub mod template;

pub use manager::{RuleManager, RulesError, RulesOptions};
