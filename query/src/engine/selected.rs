//! Selected series whose samples are decoded by the worker that uses them,
//! into a buffer that worker reuses from series to series: no allocation
//! per series, and the samples are still in cache when the function reads
//! them.

use super::Ctx;
use super::error::EvalError;
use super::value::RawSeries;
use hourglass_storage::{
    FloatHistogram, HistogramIter, Labels, Prefetch, Sample, SampleIter, StorageError, is_stale_nan,
};
use rayon::prelude::*;

/// Where a series' samples are.
enum Samples {
    /// Still in storage; `keep_stale` keeps staleness markers.
    Stored { iter: SampleIter, keep_stale: bool },
    /// Already computed (subquery points).
    Owned(Vec<Sample>),
}

/// One series of a selector or subquery.
pub(crate) struct Selected {
    pub labels: Labels,
    samples: Samples,
    /// Its native histogram samples in time order (decoded when selected:
    /// empty for float series, which never pay for them).
    pub hists: Vec<(i64, FloatHistogram)>,
    /// Or, for a histogram sum that folds series by series, its histogram
    /// samples still in chunks (stale markers not yet dropped).
    pub lazy_hists: Option<HistogramIter>,
    /// Start timestamps of its float samples as storage gave them
    /// (`Series::start_times`); empty for most series and every subquery.
    pub starts: Vec<Sample>,
}

impl Selected {
    pub fn stored(labels: Labels, iter: SampleIter, keep_stale: bool) -> Self {
        Selected {
            labels,
            samples: Samples::Stored { iter, keep_stale },
            hists: Vec::new(),
            lazy_hists: None,
            starts: Vec::new(),
        }
    }

    pub fn owned(labels: Labels, samples: Vec<Sample>) -> Self {
        Selected {
            labels,
            samples: Samples::Owned(samples),
            hists: Vec::new(),
            lazy_hists: None,
            starts: Vec::new(),
        }
    }

    /// Adds the series' histogram samples.
    pub fn with_hists(mut self, hists: Vec<(i64, FloatHistogram)>) -> Self {
        self.hists = hists;
        self
    }

    /// Adds the series' histogram samples still in chunks.
    pub fn with_lazy_hists(mut self, hists: HistogramIter) -> Self {
        self.lazy_hists = Some(hists);
        self
    }

    /// Adds the start timestamps of the series' float samples.
    pub fn with_starts(mut self, starts: Vec<Sample>) -> Self {
        self.starts = starts;
        self
    }

    /// True when the series carries start timestamps.
    pub fn has_starts(&self) -> bool {
        !self.starts.is_empty()
    }

    /// True when the series carries histogram samples.
    pub fn has_hists(&self) -> bool {
        !self.hists.is_empty() || self.lazy_hists.is_some()
    }

    /// The float samples, decoded now (for series that also carry
    /// histograms, whose floats are needed twice); counted as held.
    pub fn decode_floats(&mut self, ctx: &Ctx) -> Result<Vec<Sample>, EvalError> {
        let mut buf = Vec::new();
        let (smp, _) = read(ctx, &self.labels, &mut self.samples, &mut buf)?;
        let owned = smp.to_vec();
        self.samples = Samples::Owned(owned.clone());
        Ok(owned)
    }

    /// False for computed series without points (stored ones are only
    /// selected with samples in range).
    pub fn has_owned_samples(&self) -> bool {
        match &self.samples {
            Samples::Owned(v) => !v.is_empty() || !self.hists.is_empty(),
            Samples::Stored { .. } => true,
        }
    }
}

/// The samples of `samples`, decoding stored ones into `buf` and holding
/// them against the query's sample limit; with the number held, which the
/// caller releases once done with them.
fn read<'a>(
    ctx: &Ctx,
    labels: &Labels,
    samples: &'a mut Samples,
    buf: &'a mut Vec<Sample>,
) -> Result<(&'a [Sample], usize), EvalError> {
    match samples {
        Samples::Owned(v) => Ok((v, 0)),
        Samples::Stored { iter, keep_stale } => {
            // Counted as they are decoded, a chunk at a time: the samples
            // in the selector's range, not the whole chunks they sit in
            // (as Prometheus counts), and past the limit by at most one
            // chunk before the query stops.
            buf.clear();
            loop {
                let before = buf.len();
                let done = iter.read_into_at_most(buf, ctx.room());
                ctx.keep(buf.len() - before)?;
                if done {
                    break;
                }
            }
            let counted = buf.len();
            if let Some(e) = iter.error() {
                return Err(EvalError::Storage(StorageError::Chunk {
                    series: labels.to_string(),
                    source: e.clone(),
                }));
            }
            // A fold with no early exit: the compiler vectorises it, and
            // markers are rare enough that stopping early gains nothing.
            if !*keep_stale && buf.iter().fold(false, |any, s| any | is_stale_nan(s.v)) {
                buf.retain(|s| !is_stale_nan(s.v));
            }
            ctx.loaded(buf);
            ctx.release(counted - buf.len());
            Ok((buf, buf.len()))
        }
    }
}

/// [`par_map`] building one grid series per series: `fill` sets
/// its `n` floats (`None` where it has no value) and returns its
/// histograms per step (empty when it has none).
pub(crate) fn par_grids<F>(
    ctx: &Ctx,
    series: Vec<Selected>,
    n: usize,
    fill: F,
) -> Result<Vec<super::value::GSeries>, EvalError>
where
    F: Fn(
            &[Sample],
            &[(i64, FloatHistogram)],
            &mut [Option<f64>],
        ) -> Result<Vec<Option<FloatHistogram>>, EvalError>
        + Sync
        + Send,
{
    par_map(
        ctx,
        series,
        || (),
        |_, labels, s, hs, _| {
            let mut vals = ctx.grid(n)?;
            let hists = fill(s, hs, &mut vals)?;
            Ok(super::value::GSeries {
                hists,
                labels: labels.clone(),
                vals,
            })
        },
    )
}

/// `f` over every series in parallel, results in input order: `f` gets the
/// series' labels, float samples, histogram samples and start timestamps
/// ([`Selected::starts`], empty when it has none). Each worker job gets one
/// sample buffer and one scratch value from `init`.
pub(crate) fn par_map<S, T, I, F>(
    ctx: &Ctx,
    series: Vec<Selected>,
    init: I,
    f: F,
) -> Result<Vec<T>, EvalError>
where
    T: Send,
    I: Fn() -> S + Sync + Send,
    F: Fn(&mut S, &Labels, &[Sample], &[(i64, FloatHistogram)], &[Sample]) -> Result<T, EvalError>
        + Sync
        + Send,
{
    let one = |(buf, scratch): &mut (Vec<Sample>, S), s: Selected| {
        ctx.check()?;
        let Selected {
            labels,
            mut samples,
            hists,
            lazy_hists,
            starts,
        } = s;
        // Lazy only under a folding sum, which stashes them first.
        let hists = match lazy_hists {
            Some(it) => ctx.decode_hists(&labels, it, false)?.0,
            None => hists,
        };
        let (samples, held) = read(ctx, &labels, &mut samples, buf)?;
        let out = f(scratch, &labels, samples, &hists, &starts);
        ctx.release(held);
        out
    };
    if few(&series) {
        let mut state = (Vec::new(), init());
        return series.into_iter().map(|s| one(&mut state, s)).collect();
    }
    series
        .into_par_iter()
        .map_init(|| (Vec::new(), init()), one)
        .collect()
}

/// True when `series` hold so few samples that handing them to the pool
/// costs more than reading them here: on a busy machine each hand-off
/// waits for a thread to be scheduled, twice (there and back).
fn few(series: &[Selected]) -> bool {
    let bound = |s: &Selected| match &s.samples {
        Samples::Stored { iter, .. } => iter.upper_bound(),
        Samples::Owned(v) => v.len(),
    };
    series.len() <= FEW_SERIES
        && series.iter().map(bound).fold(0usize, usize::saturating_add) <= FEW_SAMPLES
}

/// At most this many series with at most this many samples in all are
/// read on the calling thread.
const FEW_SERIES: usize = 1024;
const FEW_SAMPLES: usize = 100_000;

/// `f` over every series, `block` series at a time: each block is folded
/// into a fresh state from `init` by one worker, in input order, and
/// `merge` gets the states in block order. `f` gets the series' input
/// index. Blocks run a few per worker at a time, so only that many states
/// are alive at once; block boundaries do not depend on the number of
/// workers, so neither does anything `merge` computes.
pub(crate) fn par_blocks<S, I, F, M>(
    ctx: &Ctx,
    series: Vec<Selected>,
    block: usize,
    init: I,
    f: F,
    mut merge: M,
) -> Result<(), EvalError>
where
    S: Send,
    I: Fn() -> S + Sync + Send,
    F: Fn(&mut S, usize, &[Sample]) -> Result<(), EvalError> + Sync + Send,
    M: FnMut(S),
{
    let block = block.max(1);
    let workers = rayon::current_num_threads().max(1);
    // One block into a fresh state; `base` is its first series' index.
    let run_block = |buf: &mut Vec<Sample>, base: usize, blk: &mut [Option<Selected>]| {
        let mut state = init();
        for j in 0..blk.len() {
            prefetch_ahead(blk, j);
            let i = base + j;
            if i.is_multiple_of(CHECK_EVERY) {
                ctx.check()?;
            }
            let Some(Selected {
                labels,
                mut samples,
                ..
            }) = blk[j].take()
            else {
                continue;
            };
            let (samples, held) = read(ctx, &labels, &mut samples, buf)?;
            let out = f(&mut state, i, samples);
            ctx.release(held);
            out?;
        }
        Ok(state)
    };
    let inline = workers == 1 || few(&series);
    let mut slots: Vec<Option<Selected>> = series.into_iter().map(Some).collect();
    if inline {
        // The same blocks on this thread: no hand-off to the pool and back
        // for every wave.
        let mut buf = Vec::new();
        for (b, blk) in slots.chunks_mut(block).enumerate() {
            merge(run_block(&mut buf, b * block, blk)?);
        }
        return Ok(());
    }
    let wave = block * 2 * workers;
    for (w, chunk) in slots.chunks_mut(wave).enumerate() {
        let base = w * wave;
        let states: Vec<S> = chunk
            .par_chunks_mut(block)
            .enumerate()
            .map_init(Vec::new, |buf, (b, blk)| {
                run_block(buf, base + b * block, blk)
            })
            .collect::<Result<_, EvalError>>()?;
        states.into_iter().for_each(&mut merge);
    }
    Ok(())
}

/// Asks for the memory the next few series of `blk` after `j` will need,
/// a level of indirection per distance: by the time a series is read, its
/// chunks have arrived instead of missing the cache one pointer after
/// another.
#[inline]
fn prefetch_ahead(blk: &[Option<Selected>], j: usize) {
    let stored = |k: usize| match blk.get(k) {
        Some(Some(Selected {
            labels,
            samples: Samples::Stored { iter, .. },
            ..
        })) => Some((labels, iter)),
        _ => None,
    };
    if let Some((_, it)) = stored(j + 3) {
        it.prefetch(Prefetch::Lists);
    }
    if let Some((_, it)) = stored(j + 2) {
        it.prefetch(Prefetch::Chunks);
    }
    if let Some((labels, it)) = stored(j + 1) {
        it.prefetch(Prefetch::Bytes);
        labels.prefetch();
    }
}

/// Series between checks of the query's deadline (a clock read each).
const CHECK_EVERY: usize = 16;

/// Every series with its samples in a vector of its own.
pub(crate) fn into_raw(ctx: &Ctx, series: Vec<Selected>) -> Result<Vec<RawSeries>, EvalError> {
    par_map(
        ctx,
        series,
        || (),
        |_, labels, samples, hists, _| {
            // The copy outlives the decode buffer: it stays held.
            ctx.keep(samples.len())?;
            Ok(RawSeries {
                labels: labels.clone(),
                samples: samples.to_vec(),
                hists: hists.to_vec(),
            })
        },
    )
}
