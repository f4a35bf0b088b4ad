//! Version 4 columns of the `downsampled` file (version 3 read): per
//! series, each column stored as its residual against what the columns
//! before it imply, bit-packed (`bitcolumn.rs`). A counter's `max` is its
//! `last` and its `inc` the difference of consecutive `last`s; an idle
//! interval's `min`, `max`, `last` and `sum` all follow from the `last`
//! before it; `count`, `res` and the offset of `last_t` repeat. Such
//! residuals are zero, and a column of zeros costs one bit. A sum is
//! predicted from the interval's `min` and `max` (version 3: from the
//! `last`s), a gauge's increase from half its sum. Layout in `FORMAT.md`
//! beside this file.

use super::bitcolumn::{TRANSFORMS_FROM, put_column, read_column};
use super::interval::Interval;
use crate::chunk::bitstream::{BitReader, BitWriter};
use crate::chunk::decimals;
use crate::chunk::xor::POW10;

/// The columns in stored order, for [`ColumnBits`].
pub const COLUMNS: [&str; 9] = [
    "res", "t", "count", "last_t", "last", "min", "max", "sum", "inc",
];

/// Bits each column took, in [`COLUMNS`] order.
pub type ColumnBits = [u64; 9];

/// Kind byte of a series whose values are stored as bit patterns (0..=7:
/// every value is `n / 10^kind` for an integer `n`).
pub(super) const RAW: u8 = 8;

/// What a series' head stores of its first interval, so that every
/// column starts predicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Bases {
    pub(super) res: i64,
    pub(super) t: i64,
    pub(super) count: u64,
    pub(super) off: i64,
}

impl Bases {
    pub(super) fn of(iv: &Interval) -> Bases {
        Bases {
            res: iv.res,
            t: iv.t,
            count: iv.count,
            off: iv.last_t.wrapping_sub(iv.t),
        }
    }
}

/// The value columns of one series as decoded, in version 2's column
/// order (`res`, `count`, `last_t - t`, `sum`, `min`, `last`, `max`,
/// `inc`), and the interval starts.
pub(super) struct Decoded {
    pub(super) times: Vec<i64>,
    pub(super) cols: [Vec<f64>; 8],
}

/// The series' decimal scale and its values `[first, last…, min…,
/// max…]` as integers at that scale, or `None` (stored as bit patterns).
/// Sums and increases are float arithmetic on those values: they are
/// stored as decimals plus a correction in ulps ([`split`]).
fn scale_of(first_v: f64, iv: &[Interval]) -> Option<(u8, Vec<i64>)> {
    let col = |f: fn(&Interval) -> f64| iv.iter().map(f);
    let all = std::iter::once(first_v)
        .chain(col(|i| i.last))
        .chain(col(|i| i.min))
        .chain(col(|i| i.max));
    decimals(all).map(|(ns, k)| (k, ns))
}

/// `v` as `base` plus a whole number `d` of `1/p`, and the distance in
/// ulps (bit patterns as integers) from that float to `v`: exact for any
/// `v` ([`join`] inverts it), and a correction of 0 or a few ulps for a
/// float sum of decimals.
fn split(v: f64, base: f64, p: f64) -> (i64, i64) {
    let d = ((v - base) * p).round() as i64;
    let g = base + d as f64 / p;
    (d, (v.to_bits() as i64).wrapping_sub(g.to_bits() as i64))
}

fn join(base: f64, d: i64, e: i64, p: f64) -> f64 {
    let g = base + d as f64 / p;
    f64::from_bits((g.to_bits() as i64).wrapping_add(e) as u64)
}

/// What an interval's whole sum is predicted as, from its count `c`, the
/// `last` before it, its `last`, `min` and `max` (integers at the series'
/// scale): `linear`, `c` samples moving evenly from `prev` to `last`
/// (halved from twice it, so it stays whole; all version 3 has), else `c`
/// samples halfway between `min` and `max` (a random walk's sum is nearer
/// that).
fn sum_guess(linear: bool, c: u64, prev: i128, [last, min, max]: [i128; 3]) -> i128 {
    let c = i128::from(c);
    if !linear {
        return c.wrapping_mul(min.wrapping_add(max)).div_euclid(2);
    }
    2i128
        .wrapping_mul(c)
        .wrapping_mul(prev)
        .wrapping_add(last.wrapping_sub(prev).wrapping_mul(c.wrapping_add(1)))
        .div_euclid(2)
}

/// The residuals of one series' value columns.
#[derive(Default)]
struct Residuals {
    /// `last`, `min`, `max`, `sum` (against the halfway guess of
    /// [`sum_guess`]) and the sum's ulps.
    cols: [Vec<i64>; 5],
    /// The sum against the linear guess (decimal series only).
    sum_linear: Vec<i64>,
    /// The sums' whole parts (decimal series only).
    sums: Vec<i64>,
}

/// The residuals of a decimal series of scale `p` (`None` when one does
/// not fit 64 bits: the series is stored as bit patterns).
fn decimal_residuals(ns: &[i64], iv: &[Interval], p: f64) -> Option<Residuals> {
    let m = iv.len();
    let (l, rest) = ns.get(1..)?.split_at(m);
    let (n, x) = rest.split_at(m);
    let mut r = Residuals::default();
    let (out, sums) = (&mut r.cols, &mut r.sums);
    let mut prev = i128::from(ns[0]);
    let fit = |r: i128| i64::try_from(r).ok();
    for k in 0..m {
        let [last, min, max] = [l[k], n[k], x[k]].map(i128::from);
        out[0].push(fit(last - prev)?);
        out[1].push(fit(min - prev.min(last))?);
        out[2].push(fit(max - prev.max(last))?);
        let (sum, ulps) = split(iv[k].sum, 0.0, p);
        for (linear, col) in [(false, &mut out[3]), (true, &mut r.sum_linear)] {
            let guess = sum_guess(linear, iv[k].count, prev, [last, min, max]);
            col.push(fit(i128::from(sum).wrapping_sub(guess))?);
        }
        out[4].push(ulps);
        sums.push(sum);
        prev = last;
    }
    Some(r)
}

/// The residuals of a series stored as bit patterns: each value's bits
/// XOR those of the value it most likely equals (no sum ulps).
fn raw_residuals(first_v: f64, iv: &[Interval]) -> Residuals {
    let b = f64::to_bits;
    let mut out: [Vec<i64>; 5] = Default::default();
    let (mut prev, mut prev_sum) = (b(first_v), 0);
    for i in iv {
        for (c, x) in [
            b(i.last) ^ prev,
            b(i.min) ^ b(i.last),
            b(i.max) ^ b(i.last),
            b(i.sum) ^ prev_sum,
            0,
        ]
        .into_iter()
        .enumerate()
        {
            out[c].push(x as i64);
        }
        (prev, prev_sum) = (b(i.last), b(i.sum));
    }
    Residuals {
        cols: out,
        ..Residuals::default()
    }
}

/// The increase against the difference of `last`s (which it is for a
/// counter that did not drop) as whole `1/p` and ulps ([`split`]); the
/// whole part of a drop is the value before it.
fn inc_residuals(first_v: f64, iv: &[Interval], p: f64) -> [Vec<i64>; 2] {
    let mut prev = first_v;
    let mut out: [Vec<i64>; 2] = Default::default();
    for i in iv {
        let (d, e) = split(i.inc, i.last - prev, p);
        out[0].push(d);
        out[1].push(e);
        prev = i.last;
    }
    out
}

/// The scrape interval a series' intervals suggest: `res` over the
/// median `count`, when that divides evenly.
fn scrape_period(iv: &[Interval]) -> Option<i64> {
    let mut counts: Vec<u64> = iv.iter().map(|i| i.count).collect();
    counts.sort_unstable();
    let c = i64::try_from(*counts.get(counts.len() / 2)?).ok()?;
    let res = iv.first()?.res;
    (c > 1 && res % c == 0 && res / c > 1).then(|| res / c)
}

/// The `last_t` offsets (against the first interval's): a bit "any
/// non-zero", then a bit "periodic"; without, one column; with, the
/// period `p` (32 bits) and two columns, the nearest multiple of `p` (in
/// periods) and what is left. A jittered scrape's last sample lands a
/// period early or late when the jitter moves the sample on an interval
/// boundary across it: two narrow columns instead of one wide one.
fn put_offsets(w: &mut BitWriter, r: &[i64], iv: &[Interval]) {
    if r.iter().all(|&x| x == 0) {
        w.write_bits(0, 1);
        return;
    }
    w.write_bits(1, 1);
    let split = scrape_period(iv)
        .filter(|&p| p <= i64::from(u32::MAX))
        .map(|p| {
            let near: Vec<i64> = r
                .iter()
                .map(|&x| x.wrapping_add(p / 2).div_euclid(p))
                .collect();
            let left: Vec<i64> = r
                .iter()
                .zip(&near)
                .map(|(&x, &n)| x.wrapping_sub(n.wrapping_mul(p)))
                .collect();
            (p, near, left)
        });
    let mut one = BitWriter::default();
    put_column(&mut one, r);
    if let Some((p, near, left)) = split {
        let mut two = BitWriter::default();
        put_column(&mut two, &near);
        put_column(&mut two, &left);
        if two.bit_len() + 32 < one.bit_len() {
            w.write_bits(1, 1);
            w.write_bits(p as u64, 32);
            put_column(w, &near);
            put_column(w, &left);
            return;
        }
    }
    w.write_bits(0, 1);
    put_column(w, r);
}

fn read_offsets(r: &mut BitReader<'_>, n: usize, version: u8) -> Result<Vec<i64>, &'static str> {
    if !r.read_bit() {
        return Ok(vec![0; n]);
    }
    if !r.read_bit() {
        return read_column(r, n, version);
    }
    let p = r.read_bits(32) as i64;
    let near = read_column(r, n, version)?;
    let left = read_column(r, n, version)?;
    Ok(near
        .iter()
        .zip(left)
        .map(|(&a, b)| a.wrapping_mul(p).wrapping_add(b))
        .collect())
}

/// Writes the columns of one series (its head holds [`Bases::of`] its
/// first interval and the kind returned: the decimal scale, or [`RAW`]),
/// adding each column's bits to `acct`.
pub(super) fn put_series(
    w: &mut BitWriter,
    first_v: f64,
    iv: &[Interval],
    acct: &mut ColumnBits,
) -> u8 {
    let Some(first) = iv.first() else {
        return RAW;
    };
    let mut track = |w: &mut BitWriter, col: usize, put: &dyn Fn(&mut BitWriter)| {
        let before = w.bit_len();
        put(w);
        acct[col] += (w.bit_len() - before) as u64;
    };
    // From the second interval on: res, count and the offset of `last_t`
    // against the first interval's (in the head), the start against the
    // end of the interval before.
    let level = |f: fn(&Interval) -> i64| -> Vec<i64> {
        iv[1..]
            .iter()
            .map(|i| f(i).wrapping_sub(f(first)))
            .collect()
    };
    track(w, 0, &|w| put_column(w, &level(|i| i.res)));
    let gaps: Vec<i64> = iv
        .windows(2)
        .map(|p| p[1].t.wrapping_sub(p[0].t.wrapping_add(p[0].res)))
        .collect();
    track(w, 1, &|w| put_column(w, &gaps));
    track(w, 2, &|w| put_column(w, &level(|i| i.count as i64)));
    let offsets = level(|i| i.last_t.wrapping_sub(i.t));
    track(w, 3, &|w| put_offsets(w, &offsets, iv));
    let decimal = scale_of(first_v, iv).and_then(|(k, ns)| {
        let p = POW10[usize::from(k)];
        Some((k, decimal_residuals(&ns, iv, p)?))
    });
    let (kind, values) = decimal.unwrap_or_else(|| (RAW, raw_residuals(first_v, iv)));
    // Columns 4..=7 and the sum's ulps (counted with the sum).
    for (c, r) in values.cols.iter().enumerate() {
        if c == 3 && kind != RAW {
            track(w, 7, &|w| put_either(w, r, &values.sum_linear));
        } else {
            track(w, 4 + c.min(3), &|w| put_column(w, r));
        }
    }
    let p = POW10.get(usize::from(kind)).copied().unwrap_or(1.0);
    let [whole, ulps] = inc_residuals(first_v, iv, p);
    if kind == RAW {
        track(w, 8, &|w| put_column(w, &whole));
    } else {
        let less: Vec<i64> = whole
            .iter()
            .zip(half(&values.sums))
            .map(|(&d, h)| d.wrapping_sub(h))
            .collect();
        track(w, 8, &|w| put_either(w, &whole, &less));
    }
    track(w, 8, &|w| put_column(w, &ulps));
    kind
}

/// Half of each whole sum: what a gauge's whole increase (the values
/// before its drops, about half its samples) is near.
fn half(sums: &[i64]) -> impl Iterator<Item = i64> + '_ {
    sums.iter().map(|&s| s.div_euclid(2))
}

/// One of two residual columns of a decimal series, from version 4 on:
/// `0` when every one of `a` is 0, else `10` and column `a`, or `11` and
/// column `b`, whichever is smaller.
fn put_either(w: &mut BitWriter, a: &[i64], b: &[i64]) {
    if a.iter().all(|&x| x == 0) {
        w.write_bits(0, 1);
        return;
    }
    let (mut wa, mut wb) = (BitWriter::default(), BitWriter::default());
    put_column(&mut wa, a);
    put_column(&mut wb, b);
    let (flag, r) = if wb.bit_len() < wa.bit_len() {
        (0b11, b)
    } else {
        (0b10, a)
    };
    w.write_bits(flag, 2);
    put_column(w, r);
}

/// Reads what [`put_either`] wrote: true when it is column `b`.
fn read_either(r: &mut BitReader<'_>, m: usize) -> Result<(bool, Vec<i64>), &'static str> {
    if !r.read_bit() {
        return Ok((false, vec![0; m]));
    }
    let b = r.read_bit();
    Ok((b, read_column(r, m, TRANSFORMS_FROM)?))
}

/// Reads the columns of one series of `m ≥ 1` intervals written by
/// [`put_series`] (or version 3's).
pub(super) fn read_series(
    r: &mut BitReader<'_>,
    version: u8,
    (kind, first_v): (u8, f64),
    b: Bases,
    m: usize,
) -> Result<Decoded, &'static str> {
    let level = |r: &mut BitReader<'_>, base: i64| -> Result<Vec<i64>, &'static str> {
        let rest = read_column(r, m - 1, version)?;
        Ok(std::iter::once(base)
            .chain(rest.into_iter().map(|x| base.wrapping_add(x)))
            .collect())
    };
    let res = level(r, b.res)?;
    let gaps = read_column(r, m - 1, version)?;
    let mut times = Vec::with_capacity(m);
    times.push(b.t);
    for (k, g) in gaps.into_iter().enumerate() {
        times.push(times[k].wrapping_add(res[k]).wrapping_add(g));
    }
    let count = level(r, b.count as i64)?;
    let off: Vec<i64> = std::iter::once(b.off)
        .chain(
            read_offsets(r, m - 1, version)?
                .into_iter()
                .map(|x| b.off.wrapping_add(x)),
        )
        .collect();
    // Version 4 chose each decimal series' sum guess and whether its
    // increase is against half the sum; version 3 has the linear guess
    // and a plain increase.
    let v4 = version >= TRANSFORMS_FROM && kind != RAW;
    let mut codes: [Vec<i64>; 5] = Default::default();
    let mut linear = !v4;
    for (c, col) in codes.iter_mut().enumerate() {
        *col = if c == 3 && v4 {
            let (b, col) = read_either(r, m)?;
            linear = b;
            col
        } else {
            read_column(r, m, version)?
        };
    }
    let ((last, min, max, sum), sums) = if kind == RAW {
        (values_raw(first_v, &codes), Vec::new())
    } else {
        values_decimal((linear, kind), first_v, &count, &codes)?
    };
    let p = POW10.get(usize::from(kind)).copied().unwrap_or(1.0);
    let whole_inc = if v4 {
        let (less, col) = read_either(r, m)?;
        if less {
            col.iter()
                .zip(half(&sums))
                .map(|(&d, h)| d.wrapping_add(h))
                .collect()
        } else {
            col
        }
    } else {
        read_column(r, m, version)?
    };
    let ulps = read_column(r, m, version)?;
    let mut prev = first_v;
    let mut inc = Vec::with_capacity(m);
    for k in 0..m {
        inc.push(join(last[k] - prev, whole_inc[k], ulps[k], p));
        prev = last[k];
    }
    let whole = |v: &[i64]| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
    let count: Vec<f64> = count.iter().map(|&c| c as u64 as f64).collect();
    Ok(Decoded {
        times,
        cols: [whole(&res), count, whole(&off), sum, min, last, max, inc],
    })
}

type Values = (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>);

fn values_raw(first_v: f64, codes: &[Vec<i64>; 5]) -> Values {
    let (mut prev, mut prev_sum) = (first_v.to_bits(), 0u64);
    let mut out: Values = Default::default();
    let [l, n, x, s, _] = codes;
    for (((l, n), x), s) in l.iter().zip(n).zip(x).zip(s) {
        let last = *l as u64 ^ prev;
        let sum = *s as u64 ^ prev_sum;
        out.0.push(f64::from_bits(last));
        out.1.push(f64::from_bits(*n as u64 ^ last));
        out.2.push(f64::from_bits(*x as u64 ^ last));
        out.3.push(f64::from_bits(sum));
        (prev, prev_sum) = (last, sum);
    }
    out
}

/// The values of a decimal series (its sums against the `linear` guess
/// or the halfway one), and the sums' whole parts.
fn values_decimal(
    (linear, kind): (bool, u8),
    first_v: f64,
    count: &[i64],
    codes: &[Vec<i64>; 5],
) -> Result<(Values, Vec<i64>), &'static str> {
    let p = *POW10.get(usize::from(kind)).ok_or("bad series kind")?;
    let first = crate::chunk::xor::at_scale(first_v, kind).ok_or("first value off the scale")?;
    let mut prev = i128::from(first);
    let f = |n: i128| -> Result<f64, &'static str> {
        let n = i64::try_from(n).map_err(|_| "value out of range")?;
        Ok(n as f64 / p)
    };
    let mut out: Values = Default::default();
    let mut sums = Vec::with_capacity(count.len());
    for k in 0..codes[0].len() {
        let r = |c: usize| i128::from(codes[c][k]);
        let last = prev.wrapping_add(r(0));
        let min = prev.min(last).wrapping_add(r(1));
        let max = prev.max(last).wrapping_add(r(2));
        out.0.push(f(last)?);
        out.1.push(f(min)?);
        out.2.push(f(max)?);
        let guess = sum_guess(linear, count[k] as u64, prev, [last, min, max]);
        let whole = i64::try_from(guess.wrapping_add(r(3))).map_err(|_| "sum out of range")?;
        out.3.push(join(0.0, whole, codes[4][k], p));
        sums.push(whole);
        prev = last;
    }
    Ok((out, sums))
}
