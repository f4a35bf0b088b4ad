//! Protobuf bodies into the cache: each family's series as Prometheus
//! reads them (`metric_family::series`), found or added by their labels
//! as read, with the family's metadata.

use super::{Context, Item, Processed, SeriesCache, series_key};
use crate::ingest::metric_family::{Families, series};
use std::borrow::Cow;

impl SeriesCache {
    /// [`SeriesCache::process`] for a protobuf body.
    pub(super) fn process_proto(
        &mut self,
        ctx: &Context<'_>,
        body: &[u8],
        ts: i64,
        out: &mut Processed,
    ) {
        let mut families = Families::new(body);
        let mut key = std::mem::take(&mut self.key);
        let mut failed = false;
        let mut exposed = Vec::new();
        'families: while let Some(family) = families.next_family() {
            let family = match family {
                Ok(f) => f,
                Err(e) => {
                    out.error.get_or_insert(e.to_string());
                    failed = true;
                    break;
                }
            };
            exposed.clear();
            if let Err(e) = series::series(&family, ctx.histograms, &mut exposed) {
                out.error.get_or_insert(e.to_string());
                failed = true;
                break;
            }
            if family.metrics.is_empty() {
                continue;
            }
            let meta = self.meta(family.name);
            meta.kind = family.kind.metadata_name().to_string();
            meta.help = family.help.to_string();
            meta.unit = family.unit.to_string();
            for e in exposed.drain(..) {
                out.scraped += 1;
                series_key(&mut key, &e.line);
                let item = Item {
                    series: &key,
                    value: e.value,
                    own_ts: e.line.timestamp_ms,
                    created_ms: e.created_ms,
                    scrape_ts: ts,
                };
                if !self.admit(ctx, out, &mut failed, item, || Ok(Cow::Borrowed(&e.line))) {
                    break 'families;
                }
            }
        }
        self.key = key;
        self.finish(out, failed);
    }
}
