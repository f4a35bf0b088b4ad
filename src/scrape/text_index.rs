//! A map from series text (as a target exposes it) to a value, laid out
//! for scrapes: the texts sit back to back in one buffer in the order they
//! were first seen, and the values in one vector, so a scrape that walks a
//! page in its usual order reads both front to back instead of chasing one
//! allocation per series. The hash table holds only a seeded 64-bit hash
//! of each text and its slot; texts whose hash is already taken (by chance
//! or by design of the target) go to a second, ordinary map.

use hourglass_storage::BuildPreHashed;
use std::collections::HashMap;
use std::hash::BuildHasher;

/// Odd constants with well-spread bits (wyhash's).
const FOLD: [u64; 2] = [0xa076_1d64_78bd_642f, 0xe703_7ed1_a0b4_28db];

fn fold(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

/// A multiply-fold over 8-byte words from `seed`.
fn hash_text(seed: u64, text: &str) -> u64 {
    let bytes = text.as_bytes();
    let mut h = seed;
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let w = u64::from_le_bytes(<[u8; 8]>::try_from(w).unwrap_or([0; 8]));
        h = fold(h ^ w, FOLD[0]);
    }
    let rest = words.remainder();
    let mut last = [0u8; 8];
    last[..rest.len()].copy_from_slice(rest);
    fold(
        h ^ u64::from_le_bytes(last) ^ ((bytes.len() as u64) << 56),
        FOLD[1],
    )
}

#[derive(Debug)]
struct Slot<T> {
    /// The text: `keys[off..off + len]`.
    off: usize,
    len: usize,
    hash: u64,
    value: T,
}

/// See the module docs.
#[derive(Debug)]
pub struct TextIndex<T> {
    seed: u64,
    by_hash: HashMap<u64, usize, BuildPreHashed>,
    collided: HashMap<Box<str>, usize>,
    keys: String,
    /// Bytes of `keys` whose slot is gone.
    dead: usize,
    slots: Vec<Option<Slot<T>>>,
    free: Vec<usize>,
}

impl<T> Default for TextIndex<T> {
    fn default() -> Self {
        TextIndex {
            seed: std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64),
            by_hash: HashMap::default(),
            collided: HashMap::new(),
            keys: String::new(),
            dead: 0,
            slots: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T> TextIndex<T> {
    /// Number of texts.
    pub fn len(&self) -> usize {
        self.by_hash.len() + self.collided.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.by_hash.clear();
        self.collided.clear();
        self.keys.clear();
        self.dead = 0;
        self.slots.clear();
        self.free.clear();
    }

    fn text(&self, s: &Slot<T>) -> &str {
        self.keys.get(s.off..s.off + s.len).unwrap_or("")
    }

    /// The slot of `text`, if known.
    pub fn find(&self, text: &str) -> Option<usize> {
        let h = hash_text(self.seed, text);
        if let Some(&i) = self.by_hash.get(&h)
            && let Some(Some(s)) = self.slots.get(i)
            && self.text(s) == text
        {
            return Some(i);
        }
        if self.collided.is_empty() {
            return None;
        }
        self.collided.get(text).copied()
    }

    /// The value in `slot`.
    pub fn get_mut(&mut self, slot: usize) -> Option<&mut T> {
        match self.slots.get_mut(slot) {
            Some(Some(s)) => Some(&mut s.value),
            _ => None,
        }
    }

    /// Adds `text`, which [`TextIndex::find`] did not find; its slot.
    pub fn insert(&mut self, text: &str, value: T) -> usize {
        self.insert_hashed(text, value, hash_text(self.seed, text))
    }

    fn insert_hashed(&mut self, text: &str, value: T, hash: u64) -> usize {
        let slot = Slot {
            off: self.keys.len(),
            len: text.len(),
            hash,
            value,
        };
        self.keys.push_str(text);
        let i = match self.free.pop() {
            Some(i) if i < self.slots.len() => {
                self.slots[i] = Some(slot);
                i
            }
            _ => {
                self.slots.push(Some(slot));
                self.slots.len() - 1
            }
        };
        match self.by_hash.entry(hash) {
            std::collections::hash_map::Entry::Occupied(_) => {
                self.collided.insert(text.into(), i);
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(i);
            }
        }
        i
    }

    /// Keeps the values `keep` says to keep; rewrites the text buffer once
    /// more than half of it belongs to texts that are gone.
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        for i in 0..self.slots.len() {
            let Some(Some(s)) = self.slots.get(i) else {
                continue;
            };
            if keep(&s.value) {
                continue;
            }
            if self.by_hash.get(&s.hash) == Some(&i) {
                self.by_hash.remove(&s.hash);
            } else {
                let text = self.keys.get(s.off..s.off + s.len).unwrap_or("");
                self.collided.remove(text);
            }
            self.dead += s.len;
            self.slots[i] = None;
            self.free.push(i);
        }
        if self.dead > 4096 && self.dead * 2 > self.keys.len() {
            let mut keys = String::with_capacity(self.keys.len() - self.dead);
            for s in self.slots.iter_mut().flatten() {
                let off = keys.len();
                keys.push_str(self.keys.get(s.off..s.off + s.len).unwrap_or(""));
                s.off = off;
            }
            self.keys = keys;
            self.dead = 0;
        }
    }

    /// Every value, in slot order.
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().flatten().map(|s| &s.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_found_kept_and_dropped() {
        let mut ix = TextIndex::default();
        let a = ix.insert("a{x=\"1\"}", 1);
        let b = ix.insert("b", 2);
        assert_eq!(ix.find("a{x=\"1\"}"), Some(a));
        assert_eq!(ix.find("b"), Some(b));
        assert_eq!(ix.find("c"), None);
        assert_eq!(ix.len(), 2);
        ix.retain(|v| *v != 1);
        assert_eq!(ix.find("a{x=\"1\"}"), None);
        assert_eq!(ix.find("b"), Some(b));
        // The freed slot is reused.
        assert_eq!(ix.insert("c", 3), a);
        assert_eq!(ix.values().copied().collect::<Vec<_>>(), [3, 2]);
    }

    #[test]
    fn texts_sharing_a_hash_stay_apart() {
        let mut ix = TextIndex::default();
        let a = ix.insert("a", 1);
        // "z" as if its hash were "a"'s.
        let z = ix.insert_hashed("z", 2, hash_text(ix.seed, "a"));
        assert_eq!(ix.collided.len(), 1);
        assert_eq!(ix.find("a"), Some(a));
        assert_eq!(ix.find("z"), Some(z));
        assert_eq!(ix.len(), 2);
        ix.retain(|v| *v != 2);
        assert_eq!(ix.find("z"), None);
        assert_eq!(ix.find("a"), Some(a));
        assert!(ix.collided.is_empty());
    }

    #[test]
    fn the_text_buffer_is_compacted_when_mostly_dead() {
        let mut ix = TextIndex::default();
        let texts: Vec<String> = (0..2000).map(|i| format!("series_{i:05}")).collect();
        for (i, t) in texts.iter().enumerate() {
            ix.insert(t, i);
        }
        let before = ix.keys.len();
        ix.retain(|v| v % 10 == 0);
        assert!(ix.keys.len() < before / 5, "{} of {before}", ix.keys.len());
        for (i, t) in texts.iter().enumerate() {
            assert_eq!(ix.find(t).is_some(), i % 10 == 0, "{t}");
        }
    }
}
