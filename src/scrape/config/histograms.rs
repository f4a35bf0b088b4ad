//! The three histogram keys of a scrape job as given, each absent one
//! inherited: `scrape_native_histograms`, `always_scrape_classic_histograms`
//! and `convert_classic_histograms_to_nhcb`. A file's job takes them over
//! its `global`; a target registered over the REST API keeps them and takes
//! them over the file's `global` whenever the jobs are composed, so a
//! reloaded file changes what such a target inherits.

use super::{Global, HistogramOptions, PROTO_FIRST_PROTOCOLS, Protocol};
use serde::{Deserialize, Serialize};

/// The histogram keys set on a job or a registered target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistogramKeys {
    /// `scrape_native_histograms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_native_histograms: Option<bool>,
    /// `always_scrape_classic_histograms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub always_scrape_classic_histograms: Option<bool>,
    /// `convert_classic_histograms_to_nhcb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub convert_classic_histograms_to_nhcb: Option<bool>,
}

impl HistogramKeys {
    /// The keys set here over `base`.
    pub fn over(&self, base: HistogramOptions) -> HistogramOptions {
        HistogramOptions {
            native: self.scrape_native_histograms.unwrap_or(base.native),
            always_classic: self
                .always_scrape_classic_histograms
                .unwrap_or(base.always_classic),
            convert_nhcb: self
                .convert_classic_histograms_to_nhcb
                .unwrap_or(base.convert_nhcb),
        }
    }

    /// True when no key is set.
    pub fn is_empty(&self) -> bool {
        *self == HistogramKeys::default()
    }
}

impl Global {
    /// The protocols of a job that sets none: `scrape_protocols`, or
    /// protobuf first for native histograms when the file sets none.
    pub fn protocols_for(&self, histograms: HistogramOptions) -> Vec<Protocol> {
        if histograms.native && !self.scrape_protocols_set {
            PROTO_FIRST_PROTOCOLS.to_vec()
        } else {
            self.scrape_protocols.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scrape::config::ScrapeConfig;

    #[test]
    fn each_absent_key_inherits_and_native_histograms_ask_for_protobuf_first() {
        let global = ScrapeConfig::parse(
            "global:\n  scrape_native_histograms: true\n  convert_classic_histograms_to_nhcb: true\n",
        )
        .unwrap()
        .global;
        let keys = HistogramKeys {
            convert_classic_histograms_to_nhcb: Some(false),
            always_scrape_classic_histograms: Some(true),
            ..HistogramKeys::default()
        };
        let h = keys.over(global.histograms);
        assert!(h.native && h.always_classic && !h.convert_nhcb);
        assert_eq!(
            HistogramKeys::default().over(global.histograms),
            global.histograms
        );
        assert_eq!(global.protocols_for(h), PROTO_FIRST_PROTOCOLS.to_vec());
        let plain = ScrapeConfig::parse("").unwrap().global;
        assert_eq!(
            plain.protocols_for(HistogramOptions::default()),
            plain.scrape_protocols
        );
    }
}
