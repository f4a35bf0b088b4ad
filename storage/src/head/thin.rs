//! Containers that cost one pointer while empty.
//!
//! A million series each carry a list of sealed chunks and a map of
//! out-of-order samples; most lists are short and most maps empty. Boxing
//! them takes a series' fixed part down a size class (measured: 232 → 184
//! bytes), which is most of what an idle series costs.

use super::hist_series::HistData;
use std::collections::BTreeMap;
use std::ops::{Deref, RangeBounds};

/// A vector behind one pointer, `None` while empty.
#[derive(Debug)]
#[allow(clippy::box_collection)] // the box is the point: 8 bytes, not 24
pub(crate) struct ThinVec<T>(Option<Box<Vec<T>>>);

impl<T> Default for ThinVec<T> {
    fn default() -> Self {
        ThinVec(None)
    }
}

impl<T> ThinVec<T> {
    pub(crate) fn push(&mut self, x: T) {
        self.0.get_or_insert_with(Box::default).push(x);
    }

    pub(crate) fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        if let Some(v) = &mut self.0 {
            v.retain(keep);
            if v.is_empty() {
                self.0 = None;
            }
        }
    }
}

impl<T> Deref for ThinVec<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        self.0.as_deref().map_or(&[], Vec::as_slice)
    }
}

/// A series' rarely used parts behind one pointer: out-of-order samples
/// (time → value bits) and native histogram samples.
#[derive(Debug, Default)]
pub(crate) struct OooMap(Option<Box<Rare>>);

#[derive(Debug, Default)]
pub(crate) struct Rare {
    map: BTreeMap<i64, u64>,
    hist: Option<HistData>,
}

impl OooMap {
    pub(crate) fn get(&self, t: &i64) -> Option<&u64> {
        self.0.as_ref()?.map.get(t)
    }

    pub(crate) fn insert(&mut self, t: i64, bits: u64) {
        self.0.get_or_insert_with(Box::default).map.insert(t, bits);
    }

    pub(crate) fn remove(&mut self, t: &i64) {
        if let Some(m) = &mut self.0 {
            m.map.remove(t);
            self.free_if_empty();
        }
    }

    fn free_if_empty(&mut self) {
        if self
            .0
            .as_ref()
            .is_some_and(|m| m.map.is_empty() && m.hist.is_none())
        {
            self.0 = None;
        }
    }

    pub(crate) fn range(
        &self,
        r: impl RangeBounds<i64> + Clone,
    ) -> impl Iterator<Item = (&i64, &u64)> {
        self.0.iter().flat_map(move |m| m.map.range(r.clone()))
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&i64, &u64)> {
        self.0.iter().flat_map(|m| m.map.iter())
    }

    /// True when no out-of-order sample is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.as_ref().is_none_or(|m| m.map.is_empty())
    }

    pub(crate) fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |m| m.map.len())
    }

    /// The series' histogram samples, if it has any.
    pub(crate) fn hist(&self) -> Option<&HistData> {
        self.0.as_ref()?.hist.as_ref()
    }

    pub(crate) fn hist_mut(&mut self) -> Option<&mut HistData> {
        self.0.as_mut()?.hist.as_mut()
    }

    pub(crate) fn hist_or_default(&mut self) -> &mut HistData {
        self.0
            .get_or_insert_with(Box::default)
            .hist
            .get_or_insert_with(HistData::default)
    }

    /// Drops the histogram part.
    pub(crate) fn clear_hist(&mut self) {
        if let Some(m) = &mut self.0 {
            m.hist = None;
            self.free_if_empty();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_again_frees_the_box() {
        let mut v = ThinVec::default();
        assert!(v.is_empty());
        v.push(1);
        v.push(2);
        assert_eq!(&*v, &[1, 2]);
        v.retain(|&x| x > 5);
        assert!(v.0.is_none());

        let mut m = OooMap::default();
        m.insert(5, 50);
        m.insert(3, 30);
        assert_eq!(m.get(&3), Some(&30));
        assert_eq!(m.range(4..).collect::<Vec<_>>(), [(&5, &50)]);
        assert_eq!(m.len(), 2);
        m.remove(&3);
        m.remove(&5);
        assert!(m.is_empty() && m.0.is_none());
        assert_eq!(m.iter().count(), 0);
    }

    #[test]
    fn one_pointer_each() {
        assert_eq!(std::mem::size_of::<ThinVec<u64>>(), 8);
        assert_eq!(std::mem::size_of::<OooMap>(), 8);
    }
}
