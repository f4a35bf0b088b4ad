"""The histogram data of the native-histogram benches, one definition for
every script that writes it (histograms_gen.py, histograms_rw.py).

A series is a 20-bucket latency histogram of schema 2 (buckets -22..-3:
upper bounds 2^(i/4) s, from 22 ms to 595 ms), cumulative, one scrape
every 15 s. Two shapes:

  realistic    a service at RATE requests/s whose latencies are
               log-normal (median 100 ms, sigma 0.6): each scrape adds
               Poisson(15 s * RATE * p_b) observations to bucket b (p_b the
               log-normal mass of the bucket; below the first bound counts
               in the first bucket, above the last in the last), and the
               sum grows by each observation's latency (drawn inside its
               bucket), a measured duration as client libraries observe
               it: whole nanoseconds / 1e9 (Go's `time.Since(t).Seconds()`),
               added to the float sum one observation at a time. Low
               buckets and the tail are mostly idle; at low rates whole
               scrapes are.
  adversarial  every bucket moves at every scrape by an amount that
               varies with the series, the bucket and the scrape (the
               shape of earlier figures): nothing is steady.

Deterministic: the same arguments give the same numbers.
"""
import math
import random

BUCKETS = 20
OFFSET = -22
SCHEMA = 2
STEP_MS = 15_000
BOUNDS = [2 ** ((OFFSET + b) / 4) for b in range(BUCKETS)]


def _lognormal_cdf(x, median=0.1, sigma=0.6):
    return 0.5 * (1 + math.erf(math.log(x / median) / (sigma * math.sqrt(2))))


def _masses():
    cdf = [_lognormal_cdf(b) for b in BOUNDS]
    p = [cdf[0]] + [cdf[b] - cdf[b - 1] for b in range(1, BUCKETS)]
    p[-1] += 1 - cdf[-1]
    return p


MASS = _masses()


def _poisson(rng, lam):
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _ns(seconds):
    """A duration as measured: whole nanoseconds, in seconds."""
    return int(seconds * 1e9) / 1e9


def series(shape, s, points, rate=1.0):
    """Yields (bucket counts, count, sum) for each scrape of series `s`:
    counts per bucket (not cumulative over buckets), cumulative in time."""
    counts = [0] * BUCKETS
    total_sum = 0.0
    if shape == "adversarial":
        weight = [BUCKETS // 2 - min(abs(b - 10), 9) for b in range(BUCKETS)]
        for k in range(points):
            for b in range(BUCKETS):
                counts[b] += 1 + ((s + b * 7 + k) % 5) * weight[b]
            count = sum(counts)
            yield list(counts), count, count * 0.1
        return
    if shape != "realistic":
        raise ValueError(f"unknown shape {shape!r}")
    rng = random.Random(s * 7919 + 17)
    lam = [rate * STEP_MS / 1000 * m for m in MASS]
    lo = [BOUNDS[0] / 2 ** 0.25] + BOUNDS[:-1]
    for _ in range(points):
        for b in range(BUCKETS):
            n = _poisson(rng, lam[b])
            counts[b] += n
            for _ in range(min(n, 8)):
                total_sum += _ns(lo[b] + (BOUNDS[b] - lo[b]) * rng.random())
            if n > 8:
                # The rest at about the bucket's middle (one draw for all).
                mid = _ns((lo[b] + BOUNDS[b]) / 2 * (1 + 0.01 * rng.random()))
                for _ in range(n - 8):
                    total_sum += mid
        yield list(counts), sum(counts), total_sum
