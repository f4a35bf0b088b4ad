//! Reading the head: the querier over in-memory series.

use super::{Head, lock, read};
use crate::error::StorageError;
use crate::model::matcher::Matcher;
use crate::querier::{ChunkMeta, Querier, SampleIter, Series, SeriesSet};
use roaring::RoaringBitmap;

/// A [`Querier`] over the head for `[mint, maxt]`.
#[derive(Debug, Clone, Copy)]
pub struct HeadQuerier<'a> {
    head: &'a Head,
    mint: i64,
    maxt: i64,
}

impl Head {
    /// A querier over `[mint, maxt]` (inclusive, ms).
    pub fn querier(&self, mint: i64, maxt: i64) -> HeadQuerier<'_> {
        HeadQuerier {
            head: self,
            mint,
            maxt,
        }
    }

    fn select_ids(&self, matchers: &[Matcher]) -> RoaringBitmap {
        read(&self.postings).select(matchers)
    }
}

impl Querier for HeadQuerier<'_> {
    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<SeriesSet, StorageError> {
        let (mint, maxt) = (mint.max(self.mint), maxt.min(self.maxt));
        if mint > maxt {
            return Ok(SeriesSet::default());
        }
        let ids = self.head.select_ids(matchers);
        let series: Vec<_> = {
            let by_id = read(&self.head.by_id);
            ids.iter()
                .filter_map(|id| by_id.get(id as usize).cloned().flatten())
                .collect()
        };
        let mut out = Vec::with_capacity(series.len());
        for s in series {
            let (chunks, ooo) = {
                let data = lock(&s.data);
                data.snapshot(mint, maxt)
            };
            if chunks.is_empty() && ooo.is_empty() {
                continue;
            }
            let run: Vec<ChunkMeta> = chunks
                .into_iter()
                .map(|(min_t, max_t, chunk)| ChunkMeta {
                    min_t,
                    max_t,
                    chunk,
                })
                .collect();
            let samples = SampleIter::new(vec![run], ooo, mint, maxt);
            // Chunks may overlap the range without a sample inside it.
            if samples.is_exhausted() {
                continue;
            }
            out.push(Series {
                labels: s.labels.clone(),
                samples,
            });
        }
        Ok(SeriesSet::new(out))
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        let p = read(&self.head.postings);
        if matchers.is_empty() {
            return Ok(p.label_names(None));
        }
        let sel = p.select(matchers);
        Ok(p.label_names(Some(&sel)))
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        let p = read(&self.head.postings);
        if matchers.is_empty() {
            return Ok(p.label_values(name, None));
        }
        let sel = p.select(matchers);
        Ok(p.label_values(name, Some(&sel)))
    }
}
