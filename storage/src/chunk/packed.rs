//! The packed encoding (`0x02`), see `FORMAT.md`: for a chunk whose
//! timestamps are exactly one interval apart and whose values are all
//! decimals `n / 10^k` of one scale, the timestamps cost nothing per sample
//! and the differences of the `n`s are stored at one fixed bit width.
//!
//! Why a second encoding: a target scraped at a fixed interval (Prometheus
//! snaps scrape times to it) gives exactly such chunks, and the XOR stream
//! can only be decoded one sample after another, each waiting on the
//! previous one's bit length. Fixed-width fields decode independently, so
//! the CPU overlaps them; and a reader can jump straight to the first
//! sample of its range instead of decoding the ones before it.

use super::fields::push_fields;
use super::radix::{Column, Cursor};
use super::xor::{POW10, at_scale, decimal_repr};
use super::{
    Chunk, ChunkError, ENCODING_GRID_RADIX, ENCODING_PACKED, ENCODING_SPARSE_GAPS,
    ENCODING_SPARSE_GRID, gaps, grid_layout,
};
use crate::encoding::{put_uvarint, read_uvarint, unzigzag, zigzag};
use crate::model::sample::Sample;
use std::sync::Arc;

/// Encodes `samples` packed if they qualify (at least two, timestamps one
/// fixed interval apart, all values decimals of one scale), else `None`.
pub(crate) fn encode(samples: &[Sample]) -> Option<Chunk> {
    let count = u16::try_from(samples.len()).ok()?;
    let (first, second) = (samples.first()?, samples.get(1)?);
    let d = second.t.checked_sub(first.t).filter(|d| *d > 0)?;
    if samples
        .windows(2)
        .any(|w| w[1].t.wrapping_sub(w[0].t) != d || w[1].t < w[0].t)
    {
        return None;
    }
    let (ns, k) = decimals(samples.iter().map(|s| s.v))?;
    // |n| < 2^51, so differences fit, and max - min fits a u64.
    let base = ns.windows(2).map(|w| w[1] - w[0]).min()?;
    let span = ns.windows(2).map(|w| (w[1] - w[0] - base) as u64).max()?;
    let w = 64 - span.leading_zeros();
    let mut body = Vec::with_capacity(32 + (samples.len() * w as usize).div_ceil(8));
    body.push(ENCODING_PACKED);
    body.extend_from_slice(&count.to_be_bytes());
    put_uvarint(&mut body, zigzag(first.t));
    put_uvarint(&mut body, d as u64);
    body.push(k);
    put_uvarint(&mut body, zigzag(ns[0]));
    put_uvarint(&mut body, zigzag(base));
    body.push(w as u8);
    push_fields(
        &mut body,
        ns.windows(2).map(|p| (p[1] - p[0] - base) as u64),
        w,
    );
    let crc = crc32fast::hash(&body);
    body.extend_from_slice(&crc.to_be_bytes());
    Some(Chunk::from_sealed_unchecked(Arc::from(body)))
}

/// Every value as an integer `n` of one decimal scale `k` (`v = n / 10^k`
/// exactly): the first value's scale when it fits them all, else the
/// largest any needs. `None` when a value has no decimal form.
pub(crate) fn decimals<I: Iterator<Item = f64> + Clone>(values: I) -> Option<(Vec<i64>, u8)> {
    let mut ns = Vec::with_capacity(values.size_hint().0);
    let (_, k) = decimal_repr(values.clone().next()?)?;
    if values
        .clone()
        .try_for_each(|v| at_scale(v, k).map(|n| ns.push(n)))
        .is_some()
    {
        return Some((ns, k));
    }
    let mut k = 0;
    for v in values.clone() {
        k = k.max(decimal_repr(v)?.1);
    }
    ns.clear();
    for v in values {
        ns.push(at_scale(v, k)?);
    }
    Some((ns, k))
}

/// A parsed packed (`0x02`) or grid (`0x03`) chunk: header fields and the
/// packed differences. A packed chunk is a grid chunk without time fields
/// (`tw = 0`, `tbase = 0`) and with `g = 1`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Packed<'a> {
    pub(super) count: u16,
    pub(super) t0: i64,
    d: i64,
    /// Grid: smallest offset from the interval grid, and the time fields'
    /// column.
    tbase: i64,
    pub(super) tcol: Column,
    pub(super) tfields: &'a [u8],
    k: u8,
    pub(super) n0: i64,
    pub(super) base: i64,
    /// Grid: every value difference is `base + g · field`.
    pub(super) g: i64,
    col: Column,
    /// Sparse grids: which fields are stored, the others being 0.
    /// `fields` then holds the stored ones, zigzag-coded, less `bias`
    /// (1 in mixed radix, where a stored field is never 0).
    map: Map<'a>,
    bias: u64,
    fields: &'a [u8],
}

/// Which fields a chunk stores.
#[derive(Debug, Clone, Copy)]
enum Map<'a> {
    /// Every one (packed, grid).
    Dense,
    /// `0x04`: bit `i` (MSB first) set when field `i` is stored.
    Bitmap(&'a [u8]),
    /// `0x05`: the `m` stored fields' positions as Rice-coded gaps at
    /// parameter `r` (`gaps.rs`).
    Gaps { gaps: &'a [u8], r: u32, m: usize },
}

/// Where a sequential read stands in a chunk's value fields.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    /// Stored fields read so far.
    stored: usize,
    /// `0x05`: position of the next stored field (`usize::MAX` past the
    /// last), and the gap list's bit after its gap.
    next: usize,
    bit: usize,
    /// The stored fields from `stored` on.
    cur: Cursor,
}

/// A column as its header declares it.
enum Shape {
    /// Older encodings: a width in bits.
    Fixed(u8),
    /// `0x06`–`0x08`: fields per group and the largest field.
    Radix(u8, u64),
}

impl Shape {
    fn read(h: &mut Header<'_>, radix: bool) -> Result<Shape, ChunkError> {
        Ok(if radix {
            let per = h.byte()?;
            Shape::Radix(per, h.varint("bad largest field varint")?)
        } else {
            Shape::Fixed(h.byte()?)
        })
    }

    /// The column of `n` fields, if the shape is in range (a fixed width
    /// at most `max_w` bits).
    fn column(&self, n: usize, max_w: u8) -> Result<Column, ChunkError> {
        match *self {
            Shape::Fixed(w) if w <= max_w => Ok(Column::fixed(u32::from(w), n)),
            Shape::Fixed(_) => Err(bad("scale or width out of range")),
            Shape::Radix(per, max) => {
                Column::new(max, u32::from(per), n).ok_or(bad("column shape out of range"))
            }
        }
    }
}

/// Reads the stream's varints and bytes, naming what was cut short.
struct Header<'a> {
    stream: &'a [u8],
    pos: usize,
}

impl<'a> Header<'a> {
    fn varint(&mut self, what: &'static str) -> Result<u64, ChunkError> {
        read_uvarint(self.stream, &mut self.pos).map_err(|_| bad(what))
    }

    fn byte(&mut self) -> Result<u8, ChunkError> {
        let b = self.stream.get(self.pos).copied();
        self.pos += 1;
        b.ok_or(bad("stream ends in the header"))
    }

    /// The next `need` bytes.
    fn bytes(&mut self, need: usize) -> Result<&'a [u8], ChunkError> {
        let f = self
            .stream
            .get(self.pos..self.pos + need)
            .ok_or(bad("stream ends before the sample count"))?;
        self.pos += need;
        Ok(f)
    }
}

fn bad(reason: &'static str) -> ChunkError {
    ChunkError::Corrupt { sample: 0, reason }
}

impl<'a> Packed<'a> {
    /// Parses a packed stream (between header and CRC); every later read
    /// is in bounds and every timestamp representable.
    pub(crate) fn parse(stream: &'a [u8], count: u16) -> Result<Self, ChunkError> {
        let mut h = Header { stream, pos: 0 };
        let t0 = unzigzag(h.varint("bad first timestamp varint")?);
        let d = h.varint("bad interval varint")?;
        let d = i64::try_from(d)
            .ok()
            .filter(|d| *d > 0)
            .ok_or(bad("interval not positive"))?;
        let k = h.byte()?;
        let n0 = unzigzag(h.varint("bad first value varint")?);
        let base = unzigzag(h.varint("bad base varint")?);
        let w = h.byte()?;
        if count < 2 {
            return Err(bad("packed chunk of fewer than two samples"));
        }
        if k > 7 || w > 64 {
            return Err(bad("scale or width out of range"));
        }
        let last = d
            .checked_mul(i64::from(count - 1))
            .and_then(|span| t0.checked_add(span));
        if last.is_none() {
            return Err(bad("timestamp overflow"));
        }
        let col = Column::fixed(u32::from(w), usize::from(count - 1));
        let fields = h.bytes(col.byte_len())?;
        Ok(Packed {
            count,
            t0,
            d,
            tbase: 0,
            tcol: Column::fixed(0, usize::from(count - 1)),
            tfields: &[],
            k,
            n0,
            base,
            g: 1,
            col,
            map: Map::Dense,
            bias: 0,
            fields,
        })
    }

    /// Parses a grid stream (`encoding` `0x03` to `0x08`; see
    /// `FORMAT.md`), checking that every timestamp is representable and
    /// strictly after the one before.
    pub(crate) fn parse_grid(
        stream: &'a [u8],
        count: u16,
        encoding: u8,
    ) -> Result<Self, ChunkError> {
        let radix = encoding >= ENCODING_GRID_RADIX;
        let mut h = Header { stream, pos: 0 };
        let t0 = unzigzag(h.varint("bad first timestamp varint")?);
        let d = h.varint("bad interval varint")?;
        let tbase = unzigzag(h.varint("bad time base varint")?);
        let tshape = Shape::read(&mut h, radix)?;
        let k = h.byte()?;
        let n0 = unzigzag(h.varint("bad first value varint")?);
        let base = unzigzag(h.varint("bad base varint")?);
        let g = h.varint("bad value step varint")?;
        let shape = Shape::read(&mut h, radix)?;
        let layout = grid_layout(encoding);
        let gap_header = if layout == ENCODING_SPARSE_GAPS {
            let m = h.varint("bad stored field count varint")?;
            Some((usize::try_from(m).unwrap_or(usize::MAX), h.byte()?))
        } else {
            None
        };
        if count < 2 {
            return Err(bad("grid chunk of fewer than two samples"));
        }
        if k > 7 {
            return Err(bad("scale or width out of range"));
        }
        let n = usize::from(count - 1);
        let tcol = tshape.column(n, 63)?;
        let g = i64::try_from(g)
            .ok()
            .filter(|g| *g > 0)
            .ok_or(bad("value step not positive"))?;
        let d = i64::try_from(d)
            .ok()
            .filter(|d| *d > 0)
            .ok_or(bad("interval not positive"))?;
        // Every t_i lies in [t0 + d + tbase, t0 + d·(count-1) + tbase + limit]:
        // with both ends in range, the wrapping sums in `t` are exact.
        let lo = i128::from(t0) + i128::from(d) + i128::from(tbase);
        let hi = i128::from(t0)
            + i128::from(d) * i128::from(count - 1)
            + i128::from(tbase)
            + i128::from(tcol.limit());
        if lo < i128::from(i64::MIN) || hi > i128::from(i64::MAX) {
            return Err(bad("timestamp overflow"));
        }
        let tfields = h.bytes(tcol.byte_len())?;
        let (map, col) = if let Some((m, r)) = gap_header {
            let len = gaps::check(&stream[h.pos.min(stream.len())..], m, r, n)?;
            let g = h.bytes(len)?;
            let map = Map::Gaps {
                gaps: g,
                r: u32::from(r),
                m,
            };
            (map, shape.column(m, 64)?)
        } else if layout == ENCODING_SPARSE_GRID {
            let nz = h.bytes(n.div_ceil(8))?;
            let tail = n % 8;
            if tail != 0 && nz.last().is_some_and(|b| b & (0xff >> tail) != 0) {
                return Err(bad("bitmap padding not zero"));
            }
            let stored: usize = nz.iter().map(|b| b.count_ones() as usize).sum();
            (Map::Bitmap(nz), shape.column(stored, 64)?)
        } else {
            (Map::Dense, shape.column(n, 64)?)
        };
        if !radix && col.is_empty_width() && !matches!(map, Map::Dense) && col.len() > 0 {
            return Err(bad("stored fields of zero width"));
        }
        let fields = h.bytes(col.byte_len())?;
        let p = Packed {
            count,
            t0,
            d,
            tbase,
            tcol,
            tfields,
            k,
            n0,
            base,
            g,
            col,
            map,
            bias: u64::from(radix),
            fields,
        };
        let mut prev = t0;
        let mut offsets = p.tcol.cursor(p.tfields, 0);
        for i in 1..count {
            let t = p.grid_t(i, offsets.next(&p.tcol, p.tfields));
            if t <= prev {
                return Err(ChunkError::Corrupt {
                    sample: i,
                    reason: "timestamps not increasing",
                });
            }
            prev = t;
        }
        Ok(p)
    }

    /// Bytes of the time fields and of the value fields (with a sparse
    /// chunk's bitmap or gap list).
    pub(crate) fn field_bytes(&self) -> (usize, usize) {
        let map = match self.map {
            Map::Dense => 0,
            Map::Bitmap(nz) => nz.len(),
            Map::Gaps { gaps, .. } => gaps.len(),
        };
        (self.tfields.len(), self.fields.len() + map)
    }

    /// Timestamp of sample `i` (< count, so it cannot overflow).
    #[inline]
    pub(crate) fn t(&self, i: u16) -> i64 {
        if i == 0 {
            return self.t0;
        }
        if self.tcol.is_empty_width() {
            // Every offset the same: the grid's base alone.
            return self.grid_t(i, 0);
        }
        self.grid_t(i, self.tcol.get(self.tfields, usize::from(i) - 1))
    }

    /// Timestamp of sample `i` (≥ 1) whose time field is `off`.
    #[inline(always)]
    pub(super) fn grid_t(&self, i: u16, off: u64) -> i64 {
        self.t0
            .wrapping_add(self.d.wrapping_mul(i64::from(i)))
            .wrapping_add(self.tbase)
            .wrapping_add(off as i64)
    }

    #[inline]
    pub(super) fn value(&self, n: i64) -> f64 {
        (n as f64) / POW10[usize::from(self.k & 7)]
    }

    /// Field `i` (the difference into sample `i + 1`), `i < count - 1`, of
    /// a dense chunk.
    #[inline(always)]
    fn field(&self, i: usize) -> u64 {
        self.col.get(self.fields, i)
    }

    /// Field `i` read in order: `slot` says where the next stored field
    /// of a sparse chunk is ([`Packed::slot_at`]), moved past it when
    /// read. Sparse fields come back as signed steps (wrapping in the u64).
    #[inline(always)]
    pub(super) fn field_seq(&self, i: usize, slot: &mut Slot) -> u64 {
        let stored = match self.map {
            Map::Dense => return slot.cur.next(&self.col, self.fields),
            Map::Bitmap(nz) => nz.get(i / 8).is_some_and(|b| b & (0x80 >> (i % 8)) != 0),
            Map::Gaps { .. } => i == slot.next,
        };
        if !stored {
            return 0;
        }
        let f = slot.cur.next(&self.col, self.fields);
        slot.stored += 1;
        self.next_gap(slot);
        unzigzag(f.wrapping_add(self.bias)) as u64
    }

    /// `0x05`: moves `slot.next` to the position of stored field
    /// `slot.stored`.
    #[inline]
    fn next_gap(&self, slot: &mut Slot) {
        if let Map::Gaps { gaps, r, m } = self.map {
            slot.next = if slot.stored >= m {
                usize::MAX
            } else {
                let after = if slot.stored == 0 { 0 } else { slot.next + 1 };
                after + gaps::read(gaps, &mut slot.bit, r)
            };
        }
    }

    /// Where a sequential read from field `i` starts: the stored fields
    /// before it, by popcount of the bitmap or a scan of the gap list.
    pub(super) fn slot_at(&self, i: usize) -> Slot {
        let mut slot = Slot {
            stored: 0,
            next: 0,
            bit: 0,
            cur: self.col.cursor(self.fields, 0),
        };
        match self.map {
            Map::Dense => slot.stored = i,
            Map::Bitmap(nz) => {
                let full = (i / 8).min(nz.len());
                slot.stored = nz[..full].iter().map(|b| b.count_ones() as usize).sum();
                if let Some(b) = nz.get(i / 8) {
                    slot.stored += (u16::from(*b) >> (8 - i % 8)).count_ones() as usize;
                }
            }
            Map::Gaps { .. } => {
                self.next_gap(&mut slot);
                while slot.next < i {
                    slot.stored += 1;
                    self.next_gap(&mut slot);
                }
            }
        }
        slot.cur = self.col.cursor(self.fields, slot.stored);
        slot
    }

    /// The integer of sample `i` (< count), adding up the fields before it.
    pub(super) fn n_at(&self, i: u16) -> i64 {
        let i = usize::from(i);
        let mut sum = 0u64;
        let mut slot = self.slot_at(0);
        for f in 0..i {
            sum = sum.wrapping_add(self.field_seq(f, &mut slot));
        }
        self.n0
            .wrapping_add(self.base.wrapping_mul(i as i64))
            .wrapping_add((sum as i64).wrapping_mul(self.g))
    }

    /// Appends samples `lo..hi` (hi <= count) to `out`.
    pub(crate) fn decode_range(&self, lo: u16, hi: u16, out: &mut Vec<Sample>) {
        if lo >= hi {
            return;
        }
        let mut n = self.n_at(lo);
        out.push(Sample::new(self.t(lo), self.value(n)));
        let rest = usize::from(lo)..usize::from(hi) - 1;
        let (t0, d, base) = (self.t0, self.d, self.base);
        if !self.tcol.is_empty_width()
            || self.tbase != 0
            || self.g != 1
            || self.col.per() != 1
            || !matches!(self.map, Map::Dense)
        {
            let (g, scale) = (self.g, POW10[usize::from(self.k & 7)]);
            let mut slot = self.slot_at(usize::from(lo));
            let mut offsets = self.tcol.cursor(self.tfields, usize::from(lo));
            out.extend(rest.map(|f| {
                n = n
                    .wrapping_add(base)
                    .wrapping_add((self.field_seq(f, &mut slot) as i64).wrapping_mul(g));
                let off = offsets.next(&self.tcol, self.tfields);
                Sample::new(self.grid_t(f as u16 + 1, off), n as f64 / scale)
            }));
            return;
        }
        // Scale 0 (integers) needs no division: its own loop.
        if self.k == 0 {
            out.extend(rest.map(|f| {
                n = n.wrapping_add(base).wrapping_add(self.field(f) as i64);
                Sample::new(t0 + d * (f as i64 + 1), n as f64)
            }));
        } else {
            let scale = POW10[usize::from(self.k & 7)];
            out.extend(rest.map(|f| {
                n = n.wrapping_add(base).wrapping_add(self.field(f) as i64);
                Sample::new(t0 + d * (f as i64 + 1), n as f64 / scale)
            }));
        }
    }

    /// The samples with `from <= t <= to` as an index range.
    pub(crate) fn index_range(&self, from: i64, to: i64) -> (u16, u16) {
        // Index of the first sample at or after `t`, clamped to the chunk.
        let at_or_after = |t: i64| -> u16 {
            if t <= self.t0 {
                return 0;
            }
            if !self.tcol.is_empty_width() {
                // Grid times increase (checked at parse): binary search.
                let (mut lo, mut hi) = (0u16, self.count);
                while lo < hi {
                    let mid = lo + (hi - lo) / 2;
                    if self.t(mid) < t {
                        lo = mid + 1;
                    } else {
                        hi = mid;
                    }
                }
                return lo;
            }
            // Samples after the first sit at t0 + d·i + tbase (a grid chunk
            // whose offsets are all one value): the first i at or after t.
            let i = (i128::from(t) - i128::from(self.t0) - i128::from(self.tbase)
                + i128::from(self.d)
                - 1)
                / i128::from(self.d);
            u16::try_from(i.max(1)).map_or(self.count, |i| i.min(self.count))
        };
        let lo = at_or_after(from);
        let hi = if to == i64::MAX {
            self.count
        } else {
            at_or_after(to + 1)
        };
        (lo, hi.max(lo))
    }
}
