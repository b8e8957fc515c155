"""Uncertainty of emotion shares: bootstrap intervals and permutation tests over independent units.

A *unit* is one participant's mean reading (their mean probability of each emotion and their mean
satisfaction): readings of one person are not independent of each other, people are. A group with a single
person has no spread between people, so its units are blocks of that person's consecutive readings
(``block_means``), as a block bootstrap does for a time series.

SciPy does the resampling (``scipy.stats.bootstrap``, percentile intervals; ``scipy.stats.permutation_test``).
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


def block_means(values: np.ndarray, t_s: np.ndarray, *, block_s: float = BLOCK_S) -> np.ndarray:
    """Means of consecutive blocks of ``block_s`` seconds of one person's readings (rows of ``values``)."""
    values, t_s = np.asarray(values, dtype=float), np.asarray(t_s, dtype=float)
    if len(values) == 0:
        return values.reshape(0, *values.shape[1:])
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


def mean_ci(units: np.ndarray, *, seed: int = 0, n_resamples: int = N_RESAMPLES, level: float = LEVEL):
    """Mean of the units (rows) per column and its expanded percentile bootstrap interval: (mean, low, high)
    arrays. Fewer than two units give no interval (NaN)."""
    units = np.asarray(units, dtype=float)
    mean = units.mean(axis=0)
    if len(units) < 2:
        return mean, np.full_like(mean, np.nan), np.full_like(mean, np.nan)
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


def _difference(x, y, axis=-1):
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


def compare(
    a: np.ndarray, b: np.ndarray, *, seed: int = 0, n_resamples: int = N_RESAMPLES, level: float = LEVEL
) -> dict:
    """Two groups' units (rows; one column per measure): the difference of their means (a - b) per column,
    its bootstrap interval (each group resampled on its own), a two-sided permutation test per column, and
    one permutation test over all columns together (the sum of absolute differences), which answers "do
    they differ at all" without testing each column separately.

    Returns {"difference", "low", "high", "p", "p_any"}; intervals and p-values are NaN when a group has
    fewer than two units."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    diff = a.mean(axis=0) - b.mean(axis=0)
    nan = np.full_like(diff, np.nan)
    if len(a) < 2 or len(b) < 2:
        return {"difference": diff, "low": nan, "high": nan.copy(), "p": nan.copy(), "p_any": float("nan")}
    rng = np.random.default_rng(seed)
    boot = stats.bootstrap(
        (a, b),
        _difference,
        axis=0,
        vectorized=True,
        method="percentile",
        n_resamples=n_resamples,
        confidence_level=expanded_level(min(len(a), len(b)), level),
        random_state=rng,
    )
    per_column = stats.permutation_test(
        (a, b), _difference, axis=0, vectorized=True, n_resamples=n_resamples, random_state=rng
    )
    pooled = np.concatenate([a, b])

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
    low, high = boot.confidence_interval
    return {
        "difference": diff,
        "low": np.where(np.isnan(low), diff, low),  # a column without spread: the interval is the point
        "high": np.where(np.isnan(high), diff, high),
        "p": np.asarray(per_column.pvalue, dtype=float),
        "p_any": float(overall.pvalue),
    }
