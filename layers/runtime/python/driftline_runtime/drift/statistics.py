"""The statistics behind a drift verdict: effect size, two-sample tests, Holm's procedure.

* :func:`psi`: the population stability index, the effect size (how far apart two share
  vectors are), whatever the sample sizes.
* :func:`ks_statistic`: the two-sample Kolmogorov-Smirnov distance between a batch and
  the training values, the latter as the quantile sketch the baseline keeps. A null
  counts as a value below every number, so one statistic sees both a moved
  distribution and a changed share of nulls.
* :func:`chi_square_homogeneity`: Pearson's test that batch and training counts over
  the same bins or categories come from one distribution. It is the two-sample form:
  the training counts are a sample too, which matters once a batch is as large as the
  training data. Categories too rare to expect five batch rows are pooled first (the
  usual condition for the chi-square approximation); the pooling depends on the
  training shares and the batch size only, never on the batch's own counts.
* :func:`holm`: Holm's step-down procedure, which keeps the chance that a batch drawn
  like the training data flags *any* feature at or below the budget, whatever the
  dependence between features.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

DEFAULT_EPSILON = 1e-4
# Pearson's chi-square approximation wants about five expected rows per cell.
MIN_EXPECTED = 5.0

FloatArray = npt.NDArray[np.float64]


def psi(
    expected: Sequence[float] | npt.ArrayLike,
    actual: Sequence[float] | npt.ArrayLike,
    epsilon: float = DEFAULT_EPSILON,
) -> float:
    """Population stability index ``sum((a - e) * ln(a / e))`` of two share vectors.

    Both sides are floored at ``epsilon`` first: a bin that is empty on one side (an
    empty training decile, a category never seen in a small batch) would otherwise make
    ``ln(a / e)`` infinite or undefined. The floor caps one empty bin's contribution at
    about ``share * ln(share / epsilon)`` (0.92 for a 10 % bin at 1e-4), so PSI stays
    finite and comparable with the usual 0.1 / 0.2 / 0.25 rules of thumb. Bins empty on
    both sides contribute exactly 0.
    """
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    if e.shape != a.shape or e.ndim != 1:
        raise ValueError(f"share vectors differ in shape: {e.shape} vs {a.shape}")
    if epsilon <= 0:
        raise ValueError("epsilon must be positive")
    e = np.maximum(e, epsilon)
    a = np.maximum(a, epsilon)
    # Every term is >= 0: a - e and ln(a / e) always share their sign.
    return float(np.sum((a - e) * np.log(a / e)))


def ks_statistic(
    batch: npt.ArrayLike,
    sketch: npt.ArrayLike,
    reference_null_share: float = 0.0,
) -> float:
    """``sup |F_batch - F_training|`` with nulls (NaN) as a point mass below every value.

    ``sketch`` holds the training's non-null values (all of them, or evenly spaced
    quantiles of them: each value stands for an equal share), ``reference_null_share``
    the training's share of nulls. Both empirical distribution functions are
    right-continuous steps, so the supremum is reached at one of their jumps: at the
    nulls, or at a value of either side.
    """
    values = np.asarray(batch, dtype=np.float64).ravel()
    if len(values) == 0:
        raise ValueError("the batch has no rows")
    if not 0.0 <= reference_null_share <= 1.0:
        raise ValueError(f"a null share lies in [0, 1], not {reference_null_share}")
    present = np.sort(values[~np.isnan(values)])
    reference = np.sort(np.asarray(sketch, dtype=np.float64).ravel())
    batch_null = 1.0 - len(present) / len(values)
    distance = abs(batch_null - reference_null_share)
    points = np.concatenate([present, reference])
    if len(points) == 0:
        return float(distance)
    batch_cdf = batch_null + (1.0 - batch_null) * _cdf(present, points)
    reference_cdf = reference_null_share + (1.0 - reference_null_share) * _cdf(reference, points)
    return float(max(distance, np.max(np.abs(batch_cdf - reference_cdf))))


def _cdf(sorted_values: FloatArray, points: FloatArray) -> FloatArray:
    if len(sorted_values) == 0:
        return np.zeros(len(points), dtype=np.float64)
    found = np.searchsorted(sorted_values, points, side="right")
    return np.asarray(found / len(sorted_values), dtype=np.float64)


@dataclass(frozen=True)
class Homogeneity:
    """Pearson's statistic over the pooled cells; ``dof`` is 0 when nothing can be tested."""

    statistic: float
    dof: int
    cells: int


def pool_cells(
    reference_shares: npt.ArrayLike, rows: int, min_expected: float = MIN_EXPECTED
) -> npt.NDArray[np.int64]:
    """Cell index per category: categories expecting fewer than ``min_expected`` of
    ``rows`` batch rows are pooled, rarest first, until the pool expects enough.

    The result depends on the training shares and the batch size only, so it is fixed
    before the batch is looked at.
    """
    shares = np.asarray(reference_shares, dtype=np.float64)
    cells = np.arange(len(shares), dtype=np.int64)
    expected = shares * rows
    order = np.argsort(expected, kind="stable")
    pool: list[int] = []
    pooled = 0.0
    for index in order:
        if expected[index] >= min_expected and (not pool or pooled >= min_expected):
            break
        pool.append(int(index))
        pooled += expected[index]
    if pool:
        cells[pool] = pool[0]
    # Renumber 0..k-1 in first-seen order.
    _, renumbered = np.unique(cells, return_inverse=True)
    return np.asarray(renumbered, dtype=np.int64)


def chi_square_homogeneity(
    reference_shares: npt.ArrayLike,
    reference_rows: int | float,
    batch_counts: npt.ArrayLike,
    min_expected: float = MIN_EXPECTED,
) -> Homogeneity:
    """Pearson's chi-square test of homogeneity for a 2 x k table of counts.

    The training row of the table is ``reference_shares * reference_rows``; categories
    are pooled first (see :func:`pool_cells`), and cells with no rows on either side are
    left out. ``dof = cells - 1``; with fewer than two cells there is nothing to test.
    """
    shares = np.asarray(reference_shares, dtype=np.float64)
    counts = np.asarray(batch_counts, dtype=np.float64)
    if shares.shape != counts.shape or shares.ndim != 1:
        raise ValueError(f"shares and counts differ in shape: {shares.shape} vs {counts.shape}")
    n = float(counts.sum())
    m = float(reference_rows)
    if n <= 0 or m <= 0:
        return Homogeneity(0.0, 0, 0)
    cells = pool_cells(shares, int(n), min_expected)
    size = int(cells.max()) + 1 if len(cells) else 0
    reference = np.bincount(cells, weights=shares * m, minlength=size)
    batch = np.bincount(cells, weights=counts, minlength=size)
    keep = (reference + batch) > 0
    reference, batch = reference[keep], batch[keep]
    if len(batch) < 2:
        return Homogeneity(0.0, 0, len(batch))
    column = reference + batch
    expected_batch = column * n / (n + m)
    expected_reference = column * m / (n + m)
    statistic = float(
        np.sum((batch - expected_batch) ** 2 / expected_batch)
        + np.sum((reference - expected_reference) ** 2 / expected_reference)
    )
    return Homogeneity(statistic, len(batch) - 1, len(batch))


@dataclass(frozen=True)
class HolmDecision:
    """Per hypothesis, in input order: rejected?, the level it was judged at, the
    Holm-adjusted p-value (reject exactly when it is at most the family's level)."""

    rejected: list[bool]
    levels: list[float]
    adjusted: list[float]


def holm(p_values: Sequence[float], family_level: float) -> HolmDecision:
    """Holm's step-down procedure at family-wise level ``family_level``.

    Sorted ascending, the i-th smallest p-value (1-based) is compared with
    ``level / (k - i + 1)``; the procedure rejects until the first comparison fails.
    Each hypothesis's level is the one it was compared with, and after the first
    failure every later hypothesis is held to that failing level, so "p-value at most
    its level" and "rejected" always agree.
    """
    if not 0.0 < family_level < 1.0:
        raise ValueError(f"a family-wise level lies in (0, 1), not {family_level}")
    k = len(p_values)
    order = sorted(range(k), key=lambda index: (p_values[index], index))
    rejected = [False] * k
    levels = [0.0] * k
    adjusted = [1.0] * k
    stopped_at: int | None = None
    running = 0.0
    for rank, index in enumerate(order):
        step = stopped_at if stopped_at is not None else rank
        level = family_level / (k - step)
        if stopped_at is None and p_values[index] > level:
            stopped_at = rank
        levels[index] = level
        rejected[index] = stopped_at is None
        running = max(running, min(1.0, (k - rank) * p_values[index]))
        adjusted[index] = running
    return HolmDecision(rejected, levels, adjusted)
