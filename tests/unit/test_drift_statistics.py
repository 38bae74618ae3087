"""The drift tests' statistics and distributions against SciPy and known distributions.

The runtime layer implements them without SciPy (see
``driftline_runtime.drift.distributions``); here SciPy is the reference.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from driftline_runtime.drift.distributions import (
    chi2_critical,
    chi2_sf,
    kolmogorov_sf,
    ks_two_sample_critical,
    ks_two_sample_sf,
)
from driftline_runtime.drift.statistics import (
    chi_square_homogeneity,
    holm,
    ks_statistic,
    pool_cells,
)
from scipy import special, stats


# -- the distributions -------------------------------------------------------------------
@pytest.mark.parametrize("x", [0.05, 0.3, 0.6, 0.9, 1.1, 1.17, 1.18, 1.2, 1.5, 2.0, 3.0, 5.0])
def test_the_kolmogorov_distribution_matches_scipy(x: float) -> None:
    # Given a point on either side of the switch between the two series
    # Then the survival function is SciPy's to 1e-12 relative
    assert kolmogorov_sf(x) == pytest.approx(special.kolmogorov(x), rel=1e-12, abs=1e-300)


def test_the_kolmogorov_distribution_is_one_at_zero_and_below() -> None:
    assert kolmogorov_sf(0.0) == 1.0
    assert kolmogorov_sf(-1.0) == 1.0


@pytest.mark.parametrize("dof", [1, 2, 3, 9, 30, 120])
@pytest.mark.parametrize("x", [0.1, 1.0, 4.0, 12.0, 40.0, 150.0])
def test_the_chi_square_survival_function_matches_scipy(dof: int, x: float) -> None:
    # Given both branches of the incomplete gamma function (series and continued fraction)
    # Then the survival function is SciPy's to 1e-10 relative
    assert chi2_sf(x, dof) == pytest.approx(stats.chi2.sf(x, dof), rel=1e-10, abs=1e-300)


@pytest.mark.parametrize("dof", [1, 4, 11, 49])
@pytest.mark.parametrize("level", [0.05, 1e-3, 1e-6])
def test_chi_square_critical_values_match_scipy(dof: int, level: float) -> None:
    assert chi2_critical(level, dof) == pytest.approx(stats.chi2.isf(level, dof), rel=1e-9)


@pytest.mark.parametrize(("n", "m"), [(60, 400), (100, 2_000), (300, 1_000), (200, 200)])
@pytest.mark.parametrize("shift", [0.0, 0.3, 0.5])
def test_the_two_sample_ks_p_value_is_close_to_the_exact_one(n: int, m: int, shift: float) -> None:
    # Given two normal samples, the first shifted by 0, 0.3 or 0.5 standard deviations
    rng = np.random.default_rng(n * 7 + m)
    a, b = rng.normal(shift, 1.0, n), rng.normal(0.0, 1.0, m)
    exact = stats.ks_2samp(a, b, method="exact")
    # When our statistic and p-value are computed (b as the training sample)
    d = ks_statistic(a, b)
    p = ks_two_sample_sf(d, n, m)
    # Then the statistic is SciPy's, and the p-value within 10 % of the exact one when
    # the training sample is the larger (the usual case); with equal sizes the exact
    # distribution is a coarse lattice and the approximation up to 25 % low
    assert d == pytest.approx(exact.statistic, abs=1e-12)
    if exact.pvalue > 1e-6:
        assert p == pytest.approx(exact.pvalue, rel=0.1 if m >= 3 * n else 0.25)


def test_the_ks_critical_value_is_where_the_p_value_crosses_the_level() -> None:
    critical = ks_two_sample_critical(0.001, 1_000, 14_000)
    assert ks_two_sample_sf(critical, 1_000, 14_000) == pytest.approx(0.001, rel=1e-6)
    # And a larger batch needs a smaller distance
    assert ks_two_sample_critical(0.001, 10_000, 14_000) < critical


@pytest.mark.parametrize("level", [0.0, 1.0, -0.1])
def test_levels_outside_zero_one_are_refused(level: float) -> None:
    with pytest.raises(ValueError, match="level"):
        chi2_critical(level, 3)
    with pytest.raises(ValueError, match="level"):
        ks_two_sample_critical(level, 10, 10)


# -- p-values under the null hypothesis are uniform ----------------------------------------
def test_ks_p_values_of_samples_from_one_distribution_are_uniform() -> None:
    # Given 2,000 batches of 100 rows and training samples of 1,000, all from one gamma
    rng = np.random.default_rng(11)
    distances = [
        ks_statistic(rng.gamma(2.0, size=100), rng.gamma(2.0, size=1_000)) for _ in range(2_000)
    ]
    p_values = np.array([ks_two_sample_sf(d, 100, 1_000) for d in distances])
    # Then about 5 % and 1 % fall below 0.05 and 0.01 (binomial 99.9 % bounds)
    assert 0.035 <= np.mean(p_values < 0.05) <= 0.066
    assert 0.003 <= np.mean(p_values < 0.01) <= 0.019
    # And the whole distribution is uniform by SciPy's own KS test
    assert stats.kstest(p_values, "uniform").pvalue > 0.001


def test_chi_square_p_values_of_counts_from_one_distribution_are_uniform() -> None:
    # Given 2,000 batches of 300 rows over six categories, one of them rare, against a
    # training sample of 2,000 rows from the same distribution
    rng = np.random.default_rng(12)
    shares = np.array([0.4, 0.25, 0.15, 0.1, 0.08, 0.02])
    p_values = []
    for _ in range(2_000):
        training = rng.multinomial(2_000, shares) / 2_000
        result = chi_square_homogeneity(training, 2_000, rng.multinomial(300, shares))
        p_values.append(chi2_sf(result.statistic, result.dof))
    rejected = np.array(p_values)
    # Then about 5 % and 1 % fall below 0.05 and 0.01
    assert 0.035 <= np.mean(rejected < 0.05) <= 0.066
    assert 0.003 <= np.mean(rejected < 0.01) <= 0.019


# -- the KS statistic --------------------------------------------------------------------
def test_nulls_count_as_values_below_every_number() -> None:
    # Given a batch with a null and training values with 25 % nulls
    batch = np.array([np.nan, 1.0, 2.0, 3.0])
    sketch = np.array([1.0, 2.0, 3.0])
    # When the KS statistic is computed with the training null share
    d = ks_statistic(batch, sketch, reference_null_share=0.25)
    # Then it equals SciPy's on the same data with nulls as -1e300 (4 vs 4 rows, same)
    assert d == pytest.approx(0.0)
    # And a batch without nulls differs by the null share at the bottom
    assert ks_statistic(np.array([1.0, 2.0, 3.0, 3.0]), sketch, 0.25) == pytest.approx(0.25)
    reference = np.array([-1e300, 1.0, 2.0, 3.0])
    expected = stats.ks_2samp(np.array([1.0, 2.0, 3.0, 3.0]), reference).statistic
    assert ks_statistic(np.array([1.0, 2.0, 3.0, 3.0]), sketch, 0.25) == pytest.approx(expected)


def test_a_quantile_sketch_gives_the_full_samples_statistic_to_within_its_resolution() -> None:
    # Given 50,000 training values and their 1,000 quantiles at (i + 0.5) / 1,000
    rng = np.random.default_rng(3)
    training = rng.lognormal(3.0, 0.8, 50_000)
    sketch = np.quantile(training, (np.arange(1_000) + 0.5) / 1_000, method="inverted_cdf")
    batch = rng.lognormal(3.1, 0.8, 2_000)
    # Then the distance against the sketch is the full sample's to within 1 / 1,000
    full = stats.ks_2samp(batch, training).statistic
    assert ks_statistic(batch, sketch) == pytest.approx(full, abs=1e-3)


def test_an_all_null_side_is_a_distance_of_the_null_shares() -> None:
    assert ks_statistic(np.array([np.nan, np.nan]), np.array([1.0, 2.0])) == 1.0
    assert ks_statistic(np.array([1.0, np.nan]), np.array([]), 1.0) == pytest.approx(0.5)


# -- the chi-square test of homogeneity -----------------------------------------------------
def test_homogeneity_matches_scipys_contingency_test() -> None:
    # Given training shares over four categories of 1,000 rows and a batch of 200
    shares = np.array([0.5, 0.3, 0.15, 0.05])
    counts = np.array([90, 70, 25, 15])
    # When the statistic is computed
    result = chi_square_homogeneity(shares, 1_000, counts)
    # Then it is SciPy's for the 2 x 4 table, without continuity correction
    table = np.vstack([shares * 1_000, counts])
    expected = stats.chi2_contingency(table, correction=False)
    assert result.statistic == pytest.approx(expected.statistic)
    assert result.dof == expected.dof == 3


def test_rare_categories_are_pooled_until_five_rows_are_expected() -> None:
    # Given shares where two categories expect fewer than 5 of 100 rows (1 and 3)
    shares = np.array([0.6, 0.01, 0.3, 0.03, 0.06])
    # When cells are pooled for a batch of 100
    cells = pool_cells(shares, 100)
    # Then the 1 % and 3 % categories share a cell, and it took the 6 % one to reach 5
    assert cells[1] == cells[3] == cells[4]
    assert len(set(cells.tolist())) == 3
    # And two rare categories that reach 5 together pool alone
    assert len(set(pool_cells(np.array([0.6, 0.02, 0.3, 0.03, 0.05]), 100).tolist())) == 4
    # And a batch of 1,000 rows pools nothing
    assert len(set(pool_cells(shares, 1_000).tolist())) == 5


def test_unseen_categories_pool_with_the_rarest_seen_one() -> None:
    # Given a category absent from training that makes up half of the batch
    shares = np.array([0.7, 0.3, 0.0])
    result = chi_square_homogeneity(shares, 1_000, np.array([35, 15, 50]))
    # Then the empty training cell is pooled with the 30 % one, and the excess shows
    table = np.vstack([[700, 300], [35, 65]])
    expected = stats.chi2_contingency(table, correction=False)
    assert result.dof == 1
    assert result.statistic == pytest.approx(expected.statistic)


def test_too_few_rows_for_two_cells_test_nothing() -> None:
    # Given 97 % / 3 % shares and 20 rows: the 3 % cell pools with the 97 % one
    result = chi_square_homogeneity(np.array([0.97, 0.03]), 1_000, np.array([20, 0]))
    assert result.dof == 0


# -- Holm's procedure ----------------------------------------------------------------------
def test_holm_steps_down_and_stops_at_the_first_failure() -> None:
    # Given four p-values at a family level of 0.05: sorted 0.001, 0.01, 0.03, 0.04
    p_values = [0.04, 0.001, 0.03, 0.01]
    decision = holm(p_values, 0.05)
    # Then 0.001 <= 0.05/4 and 0.01 <= 0.05/3 are rejected; 0.03 > 0.05/2 stops it, and
    # 0.04 (<= 0.05/1 on its own) is held to the failing level 0.05/2
    assert decision.rejected == [False, True, False, True]
    assert decision.levels == pytest.approx([0.025, 0.0125, 0.025, 0.05 / 3])
    # And the adjusted p-values are max-accumulated (k - i + 1) * p: 0.004, 0.03, 0.06, 0.06
    assert decision.adjusted == pytest.approx([0.06, 0.004, 0.06, 0.03])
    assert all((a <= 0.05) == r for a, r in zip(decision.adjusted, decision.rejected, strict=True))


def test_holm_keeps_the_family_wise_rate_of_correlated_null_tests() -> None:
    # Given 20 tests per family whose p-values are strongly correlated (one shared
    # normal factor), all under the null, in 5,000 families
    rng = np.random.default_rng(21)
    shared = rng.normal(size=(5_000, 1))
    z = 0.8 * shared + 0.6 * rng.normal(size=(5_000, 20))
    p_values = 2 * stats.norm.sf(np.abs(z))
    # When each family is judged at 1 %
    flagged = np.mean([any(holm(list(row), 0.01).rejected) for row in p_values])
    # Then at most about 1 % of families flag anything (99.9 % binomial bound)
    assert flagged <= 0.015
    assert math.isfinite(flagged)


def test_an_empty_family_rejects_nothing() -> None:
    assert holm([], 0.01).rejected == []
