"""Uncertainty of emotion shares: bootstrap intervals and permutation tests over independent units.

A *unit* is one participant's mean reading (their mean probability of each emotion and their mean
satisfaction): readings of one person are not independent of each other, people are. A group with a single
person has no spread between people, so its units are blocks of that person's consecutive readings
(``block_means``), as a block bootstrap does for a time series.

SciPy does the resampling of one group (``scipy.stats.bootstrap``, percentile intervals). A difference between
two groups gets its interval and its p-value from one permutation distribution (:func:`compare`), so that the
two never disagree.
Percentile intervals are too narrow for few units (a 95% interval over 5 people covered the truth 82 times in
100, ``benchmarks/intervals.py``), so they are *expanded* as Hesterberg (2015, "What teachers should know about
the bootstrap", The American Statistician 69:4) proposes: the percentiles taken at the level whose normal
quantile is sqrt(n / (n - 1)) times Student's t quantile for n - 1 degrees of freedom.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

N_RESAMPLES = 2000
LEVEL = 0.95
# Consecutive readings within a block of this many seconds count as one unit: a facial expression lasts
# about half a second to a few seconds, so readings closer than that mostly repeat each other.
BLOCK_S = 2.0


# A block spans this many times the time an expression takes to fade (the readings' autocorrelation falling
# to 1/e), so that neighbouring blocks are nearly independent; and there are at least MIN_BLOCKS of them.
BLOCK_MEMORIES = 6.0
MIN_BLOCKS = 5


def memory_s(values: np.ndarray, t_s: np.ndarray) -> float:
    """How long a person's readings stay alike: the lag (s) at which their autocorrelation first falls below
    1/e, the largest over the columns that vary (0 when fewer than 8 readings)."""
    values, t_s = np.asarray(values, dtype=float), np.asarray(t_s, dtype=float)
    if len(values) < 8:
        return 0.0
    step = float(np.median(np.diff(t_s))) or 1.0
    longest = 0
    for column in values.T:
        x = column - column.mean()
        if x.var() < 1e-12:
            continue
        acf = np.correlate(x, x, "full")[len(x) - 1 :] / (x.var() * len(x))
        below = np.flatnonzero(acf[1 : len(x) // 2] < np.exp(-1))
        longest = max(longest, (below[0] + 1) if len(below) else len(x) // 2)
    return longest * step


def block_length_s(values: np.ndarray, t_s: np.ndarray) -> float:
    """Seconds per block for one person's readings: ``BLOCK_MEMORIES`` times their :func:`memory_s`, at
    least ``BLOCK_S``, at most what leaves ``MIN_BLOCKS`` blocks."""
    t_s = np.asarray(t_s, dtype=float)
    span = float(t_s.max() - t_s.min()) if len(t_s) else 0.0
    wanted = max(BLOCK_S, BLOCK_MEMORIES * memory_s(values, t_s))
    return max(BLOCK_S, min(wanted, span / MIN_BLOCKS))


def block_means(values: np.ndarray, t_s: np.ndarray, *, block_s: float | None = None) -> np.ndarray:
    """Means of consecutive blocks of one person's readings (rows of ``values``), ``block_s`` seconds long
    (default :func:`block_length_s`: longer when their expressions linger)."""
    values, t_s = np.asarray(values, dtype=float), np.asarray(t_s, dtype=float)
    if len(values) == 0:
        return values.reshape(0, *values.shape[1:])
    block_s = block_length_s(values, t_s) if block_s is None else block_s
    block = np.floor((t_s - t_s.min()) / block_s).astype(int)
    _, index = np.unique(block, return_inverse=True)
    sums = np.zeros((index.max() + 1, values.shape[1]))
    np.add.at(sums, index, values)
    return sums / np.bincount(index)[:, None]


def expanded_level(n: int, level: float = LEVEL) -> float:
    """The percentile level that gives ``level`` coverage for ``n`` units (Hesterberg's expanded percentile)."""
    if n < 2:
        return level
    z = np.sqrt(n / (n - 1)) * stats.t.ppf(1 - (1 - level) / 2, n - 1)
    return float(1 - 2 * stats.norm.cdf(-z))


def _mean(x, axis=-1):
    return np.mean(x, axis=axis)


def mean_ci(
    units: np.ndarray, *, seed: int = 0, n_resamples: int = N_RESAMPLES, level: float = LEVEL, blocks: bool = False
):
    """Mean of the units (rows) per column and its expanded percentile bootstrap interval: (mean, low, high)
    arrays. Fewer than two units give no interval (NaN). ``blocks``: the units are block means of one
    person's readings (:func:`block_means`), means of many readings each and so near normal: Student's t
    interval, which covers better than the bootstrap over so few units (``benchmarks/intervals.py``)."""
    units = np.asarray(units, dtype=float)
    mean = units.mean(axis=0)
    if len(units) < 2:
        return mean, np.full_like(mean, np.nan), np.full_like(mean, np.nan)
    if blocks:
        half = stats.t.ppf(1 - (1 - level) / 2, len(units) - 1) * units.std(axis=0, ddof=1) / np.sqrt(len(units))
        return mean, mean - half, mean + half
    res = stats.bootstrap(
        (units,),
        _mean,
        axis=0,
        vectorized=True,
        method="percentile",
        n_resamples=n_resamples,
        confidence_level=expanded_level(len(units), level),
        random_state=np.random.default_rng(seed),
    )
    return mean, res.confidence_interval.low, res.confidence_interval.high


def splits(n_a: int, n_b: int, *, n_resamples: int, rng) -> np.ndarray:
    """Ways to split ``n_a + n_b`` units into groups of ``n_a`` and ``n_b``, as booleans (splits, n) "in the
    first group", the observed split (the first ``n_a``) left out: all of them when there are at most
    ``n_resamples``, else ``n_resamples`` random ones."""
    from itertools import combinations
    from math import comb

    n = n_a + n_b
    if comb(n, n_a) > n_resamples:
        return np.argsort(rng.random((n_resamples, n)), axis=1) < n_a
    out = np.zeros((comb(n, n_a) - 1, n), bool)
    i = 0
    for members in combinations(range(n), n_a):
        if members != tuple(range(n_a)):
            out[i, list(members)] = True
            i += 1
    return out


def inverted_permutation(diff: np.ndarray, split_diffs: np.ndarray, in_first: np.ndarray, n_a: int, *, level=LEVEL):
    """The two-sided permutation p-value of each column's difference and the interval made of every shift d
    that the same test does not reject (Hodges-Lehmann's inversion): p < 1 - ``level`` exactly when the
    interval leaves 0 out.

    Shifting the first group by -d moves a split's difference ``x`` to ``x - c d``, where c is the share of
    the first group's units the split keeps in the first group minus the share it puts in the second; the
    test of d counts the splits with |x - c d| >= |diff - d|. Each split's count holds on an interval of d
    around ``diff`` (the roots of a quadratic), so the interval and the p-value come out exact, without a
    grid: p = (1 + splits counting at d=0) / (1 + splits) (Phipson and Smyth 2010).
    """
    n_b = in_first.shape[1] - n_a
    kept = in_first[:, :n_a].sum(axis=1)
    c = (kept / n_a - (n_a - kept) / n_b)[:, None]
    x = np.asarray(split_diffs, dtype=float)
    quad, lin, const = c**2 - 1, 2 * (diff - c * x), x**2 - diff**2
    always = np.abs(quad) < 1e-9  # the split that swaps two groups of equal size: it counts for every d
    quad = np.where(always, -1.0, quad)
    root = np.sqrt(np.maximum(lin**2 - 4 * quad * const, 0))
    low_d = np.where(always, -np.inf, (-lin + root) / (2 * quad))
    high_d = np.where(always, np.inf, (-lin - root) / (2 * quad))
    n = len(x)
    p = (1 + ((low_d <= 0) & (0 <= high_d)).sum(axis=0)) / (1 + n)
    need = int(np.ceil(round((1 - level) * (1 + n), 9))) - 1  # splits that must count for d to stay in
    if need < 1:  # too few splits (3 people and 3): no shift can be rejected
        return p, np.full_like(diff, -np.inf), np.full_like(diff, np.inf)
    low = np.sort(low_d, axis=0)[need - 1]
    high = -np.sort(-high_d, axis=0)[need - 1]
    return p, low, high


def smallest_p(n_a: int, n_b: int, *, n_resamples: int = N_RESAMPLES) -> float:
    """The smallest p-value :func:`compare` can give groups of these sizes, whatever their difference."""
    from math import comb

    splits_made = min(comb(n_a + n_b, n_a) - 1, n_resamples)
    return (1 + (n_a == n_b and comb(n_a + n_b, n_a) - 1 <= n_resamples)) / (1 + splits_made)


def compare(
    a: np.ndarray, b: np.ndarray, *, seed: int = 0, n_resamples: int = N_RESAMPLES, level: float = LEVEL
) -> dict:
    """Two groups' units (rows; one column per measure): the difference of their means (a - b) per column,
    its interval and two-sided p-value from one permutation test (:func:`inverted_permutation`), so that
    p < 0.05 exactly when the 95% interval leaves 0 out; and one permutation test over all columns together
    (the sum of absolute differences), which answers "do they differ at all" without testing each column.

    Returns {"difference", "low", "high", "p", "p_any"}; intervals and p-values are NaN when a group has
    fewer than two units, and infinite when the groups are too small for any shift to be rejected."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    diff = a.mean(axis=0) - b.mean(axis=0)
    nan = np.full_like(diff, np.nan)
    if len(a) < 2 or len(b) < 2:
        return {"difference": diff, "low": nan, "high": nan.copy(), "p": nan.copy(), "p_any": float("nan")}
    rng = np.random.default_rng(seed)
    pooled = np.concatenate([a, b])
    in_first = splits(len(a), len(b), n_resamples=n_resamples, rng=rng)
    split_diffs = (in_first / len(a)) @ pooled - (~in_first / len(b)) @ pooled
    p, low, high = inverted_permutation(diff, split_diffs, in_first, len(a), level=level)

    def distance(ia, ib, axis=-1):  # on indices into the pooled units, so that one number sums all columns
        ia, ib = np.asarray(ia, dtype=int), np.asarray(ib, dtype=int)
        return np.abs(pooled[ia].mean(axis=-2) - pooled[ib].mean(axis=-2)).sum(axis=-1)

    overall = stats.permutation_test(
        (np.arange(len(a)), np.arange(len(a), len(pooled))),
        distance,
        vectorized=True,
        n_resamples=n_resamples,
        alternative="greater",
        random_state=rng,
    )
    return {"difference": diff, "low": low, "high": high, "p": p, "p_any": float(overall.pvalue)}
