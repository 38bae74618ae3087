"""The two null distributions the drift tests need, in plain Python (no SciPy).

SciPy (about 110 MB installed) does not fit: the dependency layer is already 188 MB of
the 212 MB (85 % of Lambda's 250 MB) that ``tests/infra/test_layers.py`` allows. These
are the textbook algorithms, checked against SciPy in
``tests/unit/test_drift_statistics.py``:

* the Kolmogorov distribution (the limit of ``sqrt(n) * D`` for the KS statistic) from
  its two series, each used where it converges in a few terms;
* the two-sample KS p-value from it at the effective size ``n * m / (n + m)`` with
  Stephens' small-sample correction ``sqrt(ne) + 0.12 + 0.11 / sqrt(ne)`` (within a few
  per cent of the exact p-value down to 1e-4 for batches of 50 rows and more);
* the chi-square distribution's survival function, the regularised upper incomplete
  gamma function ``Q(dof / 2, x / 2)`` (series below ``a + 1``, Lentz's continued
  fraction above).

Inverses (the critical values a report shows) are found by bisection: the functions are
monotone, and a critical value is needed once per feature per batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable

_SQRT_2PI = math.sqrt(2 * math.pi)
# Below this x the theta-function series of the Kolmogorov distribution converges in a
# handful of terms, above it the alternating series does.
_KOLMOGOROV_SWITCH = 1.18
_MAX_TERMS = 200
_TINY = 1e-300
_PRECISION = 1e-15


def kolmogorov_sf(x: float) -> float:
    """``P(K > x)`` for the Kolmogorov distribution (``sup |B(t)|`` of a Brownian bridge)."""
    if x <= 0:
        return 1.0
    if x < _KOLMOGOROV_SWITCH:
        # 1 - sqrt(2 pi) / x * sum_j exp(-(2j - 1)^2 pi^2 / (8 x^2))
        c = math.pi**2 / (8 * x * x)
        total = sum(math.exp(-((2 * j - 1) ** 2) * c) for j in range(1, 12))
        return _clip(1.0 - _SQRT_2PI / x * total)
    # 2 * sum_j (-1)^(j - 1) exp(-2 j^2 x^2)
    total = 0.0
    for j in range(1, _MAX_TERMS):
        term = math.exp(-2.0 * j * j * x * x)
        total += term if j % 2 else -term
        if term < _TINY:
            break
    return _clip(2.0 * total)


def effective_size(n: int | float, m: int | float) -> float:
    """``n * m / (n + m)``: the size a one-sample KS test with the same spread would have."""
    return float(n) * float(m) / (float(n) + float(m))


def _stephens(n: int | float, m: int | float) -> float:
    root = math.sqrt(effective_size(n, m))
    return root + 0.12 + 0.11 / root


def ks_two_sample_sf(d: float, n: int | float, m: int | float) -> float:
    """The two-sided p-value of a two-sample KS statistic ``d`` for samples of n and m."""
    if n <= 0 or m <= 0:
        raise ValueError(f"both samples need values: n={n}, m={m}")
    return kolmogorov_sf(_stephens(n, m) * d)


def ks_two_sample_critical(level: float, n: int | float, m: int | float) -> float:
    """The D above which :func:`ks_two_sample_sf` is below ``level``."""
    _check_level(level)
    if n <= 0 or m <= 0:
        raise ValueError(f"both samples need values: n={n}, m={m}")
    return _bisect(kolmogorov_sf, level, 0.0, 40.0) / _stephens(n, m)


def chi2_sf(x: float, dof: int) -> float:
    """``P(X > x)`` for a chi-square variable with ``dof`` degrees of freedom."""
    if dof < 1:
        raise ValueError(f"a chi-square distribution needs dof >= 1, not {dof}")
    if x <= 0:
        return 1.0
    return _gamma_q(dof / 2.0, x / 2.0)


def chi2_critical(level: float, dof: int) -> float:
    """The x above which :func:`chi2_sf` is below ``level``."""
    _check_level(level)
    if dof < 1:
        raise ValueError(f"a chi-square distribution needs dof >= 1, not {dof}")
    upper = float(dof)
    while chi2_sf(upper, dof) > level:
        upper *= 2.0
    return _bisect(lambda x: chi2_sf(x, dof), level, 0.0, upper)


# -- the regularised incomplete gamma function -------------------------------------------
def _gamma_q(a: float, x: float) -> float:
    """``Q(a, x) = Gamma(a, x) / Gamma(a)``."""
    if x < a + 1.0:
        return _clip(1.0 - _gamma_p_series(a, x))
    return _clip(_gamma_q_fraction(a, x))


def _log_prefactor(a: float, x: float) -> float:
    return -x + a * math.log(x) - math.lgamma(a)


def _gamma_p_series(a: float, x: float) -> float:
    term = total = 1.0 / a
    denominator = a
    for _ in range(10_000):
        denominator += 1.0
        term *= x / denominator
        total += term
        if abs(term) < abs(total) * _PRECISION:
            break
    return total * math.exp(_log_prefactor(a, x))


def _gamma_q_fraction(a: float, x: float) -> float:
    # Modified Lentz's method for the continued fraction of Gamma(a, x).
    b = x + 1.0 - a
    c = 1.0 / _TINY
    d = 1.0 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = _TINY if abs(d) < _TINY else d
        c = b + an / c
        c = _TINY if abs(c) < _TINY else c
        d = 1.0 / d
        step = d * c
        h *= step
        if abs(step - 1.0) < _PRECISION:
            break
    return math.exp(_log_prefactor(a, x)) * h


# -- helpers -----------------------------------------------------------------------------
def _clip(p: float) -> float:
    return min(1.0, max(0.0, p))


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"a significance level lies in (0, 1), not {level}")


def _bisect(sf: Callable[[float], float], level: float, low: float, high: float) -> float:
    """The x in [low, high] where the decreasing function ``sf`` crosses ``level``."""
    for _ in range(200):
        middle = 0.5 * (low + high)
        if sf(middle) > level:
            low = middle
        else:
            high = middle
        if high - low <= 1e-12 * max(1.0, high):
            break
    return high
