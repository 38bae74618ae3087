"""Drift reports and verdicts (driftline_runtime.drift) against hand-computed values."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from driftline_runtime.drift import (
    NULL_CATEGORY,
    OTHER_CATEGORY,
    PREDICTION_FEATURE,
    DriftReport,
    DriftSettings,
    MissingFeatureError,
    categorical_drift,
    drift_report,
    numeric_drift,
    prediction_drift,
    psi,
)
from driftline_runtime.drift.distributions import chi2_sf
from pydantic import ValidationError


def numeric_profile(
    edges: list[float], shares: list[float], *, null_share: float = 0.0, mean: float = 0.0
) -> dict[str, Any]:
    """A baseline numeric profile in the schema of driftline_runtime.baseline.Baseline."""
    return {
        "kind": "numeric",
        "count": 100,
        "null_share": null_share,
        "bin_edges": edges,
        "bin_shares": shares,
        "mean": mean,
        "std": 1.0,
        "min": 0.0,
        "max": 1.0,
    }


def categorical_profile(frequencies: dict[str, float], kind: str = "categorical") -> dict[str, Any]:
    return {
        "kind": kind,
        "count": 100,
        "null_share": frequencies.get(NULL_CATEGORY, 0.0),
        "distinct": len(frequencies),
        "frequencies": frequencies,
    }


# -- psi -----------------------------------------------------------------------------------
def test_psi_matches_the_hand_computed_value() -> None:
    # Given expected [0.5, 0.5] and actual [0.25, 0.75]
    # When PSI is computed
    result = psi([0.5, 0.5], [0.25, 0.75])
    # Then it is (0.25 - 0.5) * ln(0.25 / 0.5) + (0.75 - 0.5) * ln(0.75 / 0.5)
    #        = -0.25 * ln(0.5) + 0.25 * ln(1.5) = 0.25 * (ln 2 + ln 1.5) = 0.25 * ln 3
    #        = 0.25 * 1.0986123 = 0.2746531
    assert result == pytest.approx(0.25 * math.log(3))
    assert result == pytest.approx(0.2746531, abs=1e-7)


def test_psi_of_a_three_bin_shift_matches_the_hand_computed_value() -> None:
    # Given expected [0.2, 0.3, 0.5] and actual [0.3, 0.3, 0.4]
    # Then PSI = 0.1 * ln(0.3/0.2) + 0 + (-0.1) * ln(0.4/0.5)
    #          = 0.1 * 0.4054651 + 0.1 * 0.2231436 = 0.0628609
    assert psi([0.2, 0.3, 0.5], [0.3, 0.3, 0.4]) == pytest.approx(0.0628609, abs=1e-7)


def test_identical_distributions_have_zero_psi() -> None:
    # Given the same shares on both sides, Then PSI is exactly 0
    assert psi([0.1, 0.2, 0.7], [0.1, 0.2, 0.7]) == 0.0


def test_empty_bins_are_floored_at_epsilon_and_psi_stays_finite() -> None:
    # Given a bin empty in the batch and another empty in training
    # When PSI is computed with epsilon = 1e-4
    result = psi([0.5, 0.5, 0.0], [0.5, 0.0, 0.5])
    # Then each empty side counts as 1e-4:
    #   bin 2: (1e-4 - 0.5) * ln(1e-4 / 0.5) = 0.4999 * ln(5000) = 0.4999 * 8.5171932
    #   bin 3: (0.5 - 1e-4) * ln(0.5 / 1e-4) = the same
    expected = 2 * 0.4999 * math.log(5000)
    assert math.isfinite(result)
    assert result == pytest.approx(expected)


def test_psi_rejects_share_vectors_of_different_lengths() -> None:
    with pytest.raises(ValueError, match="shape"):
        psi([0.5, 0.5], [1.0])


# -- numeric -------------------------------------------------------------------------------
def test_numeric_values_are_binned_with_the_training_rule() -> None:
    # Given edges [1, 2] (bins (-inf, 1], (1, 2], (2, +inf)) and equal training shares
    baseline = numeric_profile([1.0, 2.0], [1 / 3, 1 / 3, 1 / 3], mean=1.5)
    # When the batch holds values on the edges (right-closed: 1 -> bin 0, 2 -> bin 1)
    drift = numeric_drift(baseline, np.array([0.0, 1.0, 2.0, 3.0]), feature="amount")
    # Then the shares are [2/4, 1/4, 1/4] and PSI is hand-computed from them:
    #   (1/2 - 1/3) ln(3/2) + 2 * (1/4 - 1/3) ln(3/4) = 0.0675775 + 0.0479451 = 0.1155226
    assert drift.labels == ["(-inf, 1]", "(1, 2]", "(2, +inf)"]
    assert drift.actual_shares == [0.5, 0.25, 0.25]
    assert drift.psi == pytest.approx(
        (1 / 2 - 1 / 3) * math.log(1.5) + 2 * (1 / 4 - 1 / 3) * math.log(0.75)
    )
    assert drift.actual_mean == pytest.approx(1.5)
    assert drift.mean_shift == pytest.approx(0.0)


def test_numeric_nulls_are_compared_separately_from_the_values() -> None:
    # Given a training column with 10 % nulls
    baseline = numeric_profile([1.0], [0.5, 0.5], null_share=0.1)
    # When half the batch is null but the non-null values keep the training shares
    drift = numeric_drift(baseline, np.array([0.0, 2.0, np.nan, np.nan]))
    # Then the value PSI is 0 and the null shares (0.1 vs 0.5) are both reported,
    #   null_psi = (0.5 - 0.9) ln(0.5/0.9) + (0.5 - 0.1) ln(0.5/0.1)
    #            = 0.4 * 0.5877867 + 0.4 * 1.6094379 = 0.8788898
    assert drift.psi == 0.0
    assert drift.expected_null_share == 0.1
    assert drift.actual_null_share == 0.5
    assert drift.null_psi == pytest.approx(0.8788898, abs=1e-7)


def test_an_all_null_batch_reports_the_null_shift_without_nan() -> None:
    baseline = numeric_profile([1.0], [0.5, 0.5])
    drift = numeric_drift(baseline, np.array([np.nan, np.nan]))
    assert drift.psi == 0.0
    assert drift.actual_shares == [0.0, 0.0]
    assert drift.actual_mean is None
    assert drift.null_psi is not None and drift.null_psi > 0.2


def test_a_constant_training_column_does_not_crash() -> None:
    # Given a constant column: one edge, every training value in the first bin
    baseline = numeric_profile([5.0], [1.0, 0.0], mean=5.0)
    # When the batch holds the constant and a larger value
    drift = numeric_drift(baseline, np.array([5.0, 5.0, 7.0, 7.0]))
    # Then the shares are [0.5, 0.5] and PSI floors the empty training bin at 1e-4:
    #   (0.5 - 1) ln(0.5) + (0.5 - 1e-4) ln(0.5 / 1e-4)
    assert drift.labels == ["(-inf, 5]", "(5, +inf)"]
    assert drift.psi == pytest.approx(-0.5 * math.log(0.5) + 0.4999 * math.log(5000))
    assert drift.mean_shift == pytest.approx(1.0)


def test_an_all_null_training_column_has_no_bins() -> None:
    # Given a column with no non-null training values (no edges, no shares)
    baseline = numeric_profile([], [], null_share=1.0)
    baseline.update(mean=None, std=None)
    # When the batch has values
    drift = numeric_drift(baseline, np.array([1.0, np.nan]))
    # Then there are no bins to compare, and the null share carries the change
    assert drift.psi == 0.0
    assert drift.labels == []
    assert drift.null_psi is not None and drift.null_psi > 0.2
    assert drift.mean_shift is None


def test_a_single_row_batch_gives_finite_numbers() -> None:
    baseline = numeric_profile([1.0, 2.0], [0.3, 0.4, 0.3])
    drift = numeric_drift(baseline, np.array([1.5]))
    # (0 -> 1e-4): 2 * (1e-4 - 0.3) ln(1e-4 / 0.3) + (1 - 0.4) ln(1 / 0.4)
    expected = 2 * (1e-4 - 0.3) * math.log(1e-4 / 0.3) + 0.6 * math.log(2.5)
    assert drift.psi == pytest.approx(expected)
    assert all(math.isfinite(value) for value in (drift.psi, drift.null_psi or 0.0))


# -- categorical ---------------------------------------------------------------------------
def test_unseen_categories_count_as_other_and_none_as_null() -> None:
    # Given categories a and b in training
    baseline = categorical_profile({"a": 0.5, "b": 0.3, OTHER_CATEGORY: 0.1, NULL_CATEGORY: 0.1})
    # When the batch holds a, an unseen z, a None and a blank
    drift = categorical_drift(baseline, ["a", "z", None, "  "])
    # Then z is __other__ and None/blank are __null__
    shares = dict(zip(drift.labels, drift.actual_shares, strict=True))
    assert shares == {"a": 0.25, "b": 0.0, OTHER_CATEGORY: 0.25, NULL_CATEGORY: 0.5}
    assert drift.actual_null_share == 0.5
    assert math.isfinite(drift.psi)


def test_categories_missing_from_the_baseline_are_added_to_the_union() -> None:
    # Given a hand-built baseline without __other__/__null__
    drift = categorical_drift(categorical_profile({"a": 1.0}), ["a", "x"])
    assert drift.labels == ["a", OTHER_CATEGORY, NULL_CATEGORY]
    assert drift.expected_shares == [1.0, 0.0, 0.0]
    assert drift.actual_shares == [0.5, 0.5, 0.0]


def test_categories_are_tested_for_homogeneity_with_the_training_rows() -> None:
    # Given training shares a: 0.5, b: 0.5 over 100 rows (no other, no nulls)
    baseline = categorical_profile({"a": 0.5, "b": 0.5, OTHER_CATEGORY: 0.0, NULL_CATEGORY: 0.0})
    # When 40 rows arrive: 30 a, 10 b
    drift = categorical_drift(baseline, ["a"] * 30 + ["b"] * 10, reference_rows=100)
    # Then the 2 x 2 table [[50, 50], [30, 10]] gives Pearson's statistic by hand:
    #   column totals 80, 60 of 140; expected batch 80*40/140 = 22.857, 60*40/140 = 17.143,
    #   expected training 57.143, 42.857;
    #   (30-22.857)^2/22.857 + (10-17.143)^2/17.143 + (50-57.143)^2/57.143
    #     + (50-42.857)^2/42.857 = 2.2321 + 2.9762 + 0.8929 + 1.1905 = 7.2917
    assert drift.test == "chi_square"
    assert drift.statistic == pytest.approx(7.2916667, abs=1e-6)
    assert drift.dof == 1
    assert drift.reference_rows == 100
    assert drift.p_value == pytest.approx(math.erfc(math.sqrt(7.2916667 / 2)))
    # And PSI = (0.75-0.5) ln(1.5) + (0.25-0.5) ln(0.5) = 0.25 ln 3
    assert drift.psi == pytest.approx(0.25 * math.log(3))


def test_without_the_training_row_count_nothing_is_tested() -> None:
    baseline = categorical_profile({"a": 0.6, "b": 0.4, OTHER_CATEGORY: 0.0, NULL_CATEGORY: 0.0})
    drift = categorical_drift(baseline, ["b"] * 20)
    assert drift.test is None and drift.p_value is None
    assert drift.note == "the baseline does not say how many training rows it describes"
    assert math.isfinite(drift.psi)


def test_a_single_row_categorical_batch_gives_finite_numbers() -> None:
    baseline = categorical_profile({"a": 0.6, "b": 0.4, OTHER_CATEGORY: 0.0, NULL_CATEGORY: 0.0})
    drift = categorical_drift(baseline, ["b"], reference_rows=100)
    assert math.isfinite(drift.psi)
    # One row expects fewer than five in any category: nothing to test
    assert drift.p_value is None
    assert drift.note == "too few rows to expect five in two bins or categories"


def test_arrow_columns_and_python_lists_count_the_same() -> None:
    baseline = categorical_profile({"a": 0.5, "b": 0.3, OTHER_CATEGORY: 0.1, NULL_CATEGORY: 0.1})
    values = ["a", "z", None, "  ", "b", "a"]
    from_list = categorical_drift(baseline, values)
    from_arrow = categorical_drift(baseline, pa.chunked_array([values[:2], values[2:]]))
    assert from_list.actual_shares == from_arrow.actual_shares


# -- prediction ----------------------------------------------------------------------------
def test_prediction_drift_reports_the_psi_and_the_mean_shift() -> None:
    # Given training probabilities split evenly around 0.5 with mean 0.3
    baseline = numeric_profile([0.5], [0.5, 0.5], mean=0.3)
    # When the batch's probabilities are all high
    drift = prediction_drift(baseline, np.array([0.6, 0.8]))
    # Then PSI = (1e-4 - 0.5) ln(1e-4/0.5) + (1 - 0.5) ln(1/0.5), and the mean moved by 0.4
    assert drift.kind == "prediction"
    assert drift.feature == PREDICTION_FEATURE
    assert drift.psi == pytest.approx(0.4999 * math.log(5000) + 0.5 * math.log(2))
    assert drift.actual_mean == pytest.approx(0.7)
    assert drift.mean_shift == pytest.approx(0.4)


# -- the report ----------------------------------------------------------------------------
LOOSE = DriftSettings(min_rows=1)


@pytest.fixture
def baseline() -> dict[str, Any]:
    """A small baseline in the schema of driftline_runtime.baseline.Baseline (v1)."""
    return {
        "schema_version": 1,
        "split": "train",
        "rows": 100,
        "positive_rate": 0.1,
        "target_column": "is_fraud",
        "id_column": "transaction_id",
        "feature_columns": ["amount", "channel", "is_foreign"],
        "binning": {"quantiles": [0.1 * q for q in range(1, 10)]},
        "features": {
            "amount": numeric_profile([10.0, 100.0], [0.3, 0.4, 0.3], mean=60.0),
            "channel": categorical_profile(
                {"web": 0.6, "pos": 0.4, OTHER_CATEGORY: 0.0, NULL_CATEGORY: 0.0}
            ),
            "is_foreign": categorical_profile(
                {"false": 0.9, "true": 0.1, OTHER_CATEGORY: 0.0, NULL_CATEGORY: 0.0}, "boolean"
            ),
        },
        "prediction": numeric_profile([0.5], [0.9, 0.1], mean=0.1),
    }


def batch(
    amounts: Sequence[float | None], channels: Sequence[str | None], foreign: Sequence[Any]
) -> pa.Table:
    return pa.table(
        {"amount": list(amounts), "channel": list(channels), "is_foreign": list(foreign)}
    )


def like_training(times: int) -> pa.Table:
    """``10 * times`` rows with the training shares (amount 3/4/3, channel 6/4, foreign 9/1)."""
    return batch(
        ([5.0] * 3 + [50.0] * 4 + [500.0] * 3) * times,
        (["web"] * 6 + ["pos"] * 4) * times,
        ([False] * 9 + [True]) * times,
    )


def test_a_batch_like_training_does_not_drift(baseline: dict[str, Any]) -> None:
    # Given 100 rows with the training shares
    table = like_training(10)
    # When the report runs with the default settings
    report = drift_report(baseline, table, np.array([0.1, 0.9] * 50))
    # Then nothing drifted, every feature is reported in order, and all were tested
    assert [f.feature for f in report.features] == ["amount", "channel", "is_foreign"]
    assert all(f.psi == pytest.approx(0.0, abs=1e-12) for f in report.features)
    assert all(f.p_value == pytest.approx(1.0) for f in report.features)
    assert report.outcome == "no_drift"
    assert report.drifted_features == []
    assert report.drifted is False
    assert report.rows == 100
    assert report.correction == "holm"
    assert report.settings == DriftSettings()


def test_an_old_baseline_tests_numeric_bins_and_leaves_its_prediction_untested(
    baseline: dict[str, Any],
) -> None:
    # Given a v1 baseline: decile bins but no quantile sketch, in-sample predictions
    report = drift_report(baseline, like_training(10), np.array([0.9] * 100))
    amount = report.features[0]
    # Then amount is tested by chi-square over its 3 bins plus the null bin (empty on both
    # sides, so left out): dof 2
    assert amount.test == "chi_square" and amount.dof == 2
    # And the prediction, far off as it is, has numbers but no test and no verdict
    assert report.prediction is not None
    assert report.prediction.psi > 1.0
    assert report.prediction.p_value is None and report.prediction.drifted is False
    assert report.prediction.note is not None and "training rows" in report.prediction.note
    assert report.tested == 3


def test_a_new_baseline_tests_numeric_values_with_ks_and_its_held_out_prediction(
    baseline: dict[str, Any],
) -> None:
    # Given a v2 baseline: 100 training amounts (uniform 0..99) and 50 held-out predictions
    baseline["features"]["amount"].update(quantiles=[float(v) for v in range(100)], rows=100)
    baseline["prediction"].update(quantiles=[0.1] * 45 + [0.9] * 5, rows=50, count=50, split="test")
    # When 200 rows arrive whose amounts are all above 50 and predictions as in training
    table = batch([float(50 + v % 50) for v in range(200)], ["web", "pos"] * 100, [False] * 200)
    report = drift_report(baseline, table, np.array(([0.1] * 9 + [0.9]) * 20))
    amount = report.features[0]
    # Then amount's KS distance is 0.5 (half the training mass lies below 50), tested
    # against the 100 training rows, significant and above its critical value
    assert amount.test == "ks"
    assert amount.statistic == pytest.approx(0.5)
    assert amount.reference_rows == 100
    assert amount.significant is True
    assert amount.critical_value is not None and amount.statistic is not None
    assert amount.statistic > amount.critical_value
    # And the prediction is tested too (KS against its 50 held-out rows), without drift
    assert report.prediction is not None and report.prediction.test == "ks"
    assert report.prediction.reference_rows == 50
    assert report.prediction.drifted is False
    assert report.tested == 4


def test_holm_levels_and_critical_values_agree_with_the_verdicts(baseline: dict[str, Any]) -> None:
    # Given a batch where channel moved a lot and the rest stayed
    table = batch(
        ([5.0] * 3 + [50.0] * 4 + [500.0] * 3) * 10,
        ["pos"] * 90 + ["web"] * 10,
        ([False] * 9 + [True]) * 10,
    )
    report = drift_report(baseline, table, None, DriftSettings(false_alarm_rate=0.05))
    by_name = {f.feature: f for f in report.features}
    channel = by_name["channel"]
    # Then channel has the smallest p-value, judged first at 0.05 / 3, and drifted
    assert channel.level == pytest.approx(0.05 / 3)
    assert channel.significant is True and channel.drifted is True
    assert channel.adjusted_p_value == pytest.approx(3 * (channel.p_value or 0.0))
    # And every tested feature is significant exactly when its statistic passes its
    # critical value, which is the statistic's value at its level
    for drift in report.features:
        assert drift.critical_value is not None and drift.level is not None
        assert drift.statistic is not None and drift.p_value is not None
        assert drift.significant == (drift.statistic > drift.critical_value)
        assert drift.significant == (drift.p_value <= drift.level)
    assert chi2_sf(channel.critical_value or 0.0, channel.dof or 1) == pytest.approx(channel.level)
    assert report.drifted_features == ["channel"]
    assert report.outcome == "drifted"


def test_a_significant_shift_below_the_psi_floor_is_not_drift(baseline: dict[str, Any]) -> None:
    # Given 100,000 rows whose channel share moved from 60 % to 58 % web: PSI 0.0017
    table = batch([50.0] * 100_000, ["web"] * 58_000 + ["pos"] * 42_000, [False] * 100_000)
    baseline["rows"] = 1_000_000
    report = drift_report(baseline, table, None)
    channel = report.features[1]
    # Then the test finds it (p far below any level) but the effect is negligible
    assert channel.significant is True
    assert channel.score < 0.01 < DriftSettings().min_psi == channel.threshold
    assert channel.drifted is False
    # And with no floor it would count as drift
    floorless = drift_report(baseline, table, None, DriftSettings(min_psi=0.0))
    assert floorless.features[1].drifted is True


def test_a_batch_below_the_minimum_gets_no_verdict(baseline: dict[str, Any]) -> None:
    # Given 20 rows that moved as far as they can (an unseen channel, amounts all high)
    table = batch([500.0] * 20, ["app"] * 20, [True] * 20)
    # When the report runs with the default minimum of 50 rows
    report = drift_report(baseline, table, np.array([0.9] * 20))
    # Then the outcome says so, with the numbers, and nothing was tested or drifted
    assert report.outcome == "insufficient_rows"
    assert report.rows == 20 and report.settings is not None
    assert report.settings.min_rows == 50
    assert report.drifted is False and report.drifted_features == []
    assert report.tested == 0
    for drift in report.judged:
        assert drift.p_value is None and drift.test is None and not drift.drifted
        assert drift.note == "20 rows, fewer than the 50 a verdict needs"
    # But the numbers a report plots are there
    assert report.features[1].psi > 1.0


def test_a_stricter_budget_holds_every_feature_to_a_smaller_level(
    baseline: dict[str, Any],
) -> None:
    table = like_training(10)
    loose = drift_report(baseline, table, None, DriftSettings(false_alarm_rate=0.1))
    strict = drift_report(baseline, table, None, DriftSettings(false_alarm_rate=0.001))
    for a, b in zip(loose.features, strict.features, strict=True):
        assert a.level is not None and b.level is not None
        assert b.level == pytest.approx(a.level / 100)
        assert (b.critical_value or 0.0) > (a.critical_value or 0.0)


def test_booleans_given_as_text_map_onto_false_and_true(baseline: dict[str, Any]) -> None:
    table = batch([5.0, 50.0, 500.0, 50.0], ["web", "pos", "web", "pos"], ["0", "1", "0", " 0 "])
    report = drift_report(baseline, table, None, LOOSE)
    foreign = report.features[2]
    assert dict(zip(foreign.labels, foreign.actual_shares, strict=True))["true"] == 0.25
    assert dict(zip(foreign.labels, foreign.actual_shares, strict=True))["false"] == 0.75


def test_a_single_row_report_has_no_nan(baseline: dict[str, Any]) -> None:
    # Given a one-row batch (with a null amount) and no probabilities
    report = drift_report(baseline, batch([None], ["app"], [None]), None, LOOSE)
    # Then every number is finite, the prediction is absent, and one row decides nothing
    numbers = [
        value
        for f in report.features
        for value in (f.psi, f.null_psi, f.statistic, f.p_value, *f.actual_shares)
        if value is not None
    ]
    assert all(math.isfinite(value) for value in numbers)
    assert report.prediction is None
    assert report.drifted is False


def test_a_missing_feature_column_is_a_clear_error(baseline: dict[str, Any]) -> None:
    table = pa.table({"amount": [1.0]})
    with pytest.raises(MissingFeatureError, match=r"'channel', 'is_foreign'"):
        drift_report(baseline, table, None)


def test_the_report_serialises_to_json_and_back(baseline: dict[str, Any]) -> None:
    report = drift_report(baseline, like_training(10), np.array([0.2] * 100))
    document = report.model_dump(mode="json")
    assert document["features"][0]["labels"] == ["(-inf, 10]", "(10, 100]", "(100, +inf)"]
    assert document["settings"] == {"false_alarm_rate": 0.01, "min_rows": 50, "min_psi": 0.1}
    assert DriftReport.model_validate(document) == report


def test_a_report_written_before_calibrated_verdicts_still_parses() -> None:
    # Given a stored report of the PSI-threshold era
    old = {
        "rows": 10,
        "thresholds": {"numeric": 0.2, "categorical": 0.2, "prediction": 0.1},
        "features": [
            {
                "feature": "channel",
                "kind": "categorical",
                "rows": 10,
                "psi": 0.5,
                "chi_square": 3.1,
                "dof": 1,
                "labels": ["web", "pos"],
                "expected_shares": [0.6, 0.4],
                "actual_shares": [0.1, 0.9],
                "threshold": 0.2,
                "drifted": True,
            }
        ],
        "prediction": None,
        "drifted_features": ["channel"],
        "drifted": True,
    }
    report = DriftReport.model_validate(old)
    assert report.outcome is None and report.settings is None
    assert report.thresholds == {"numeric": 0.2, "categorical": 0.2, "prediction": 0.1}
    assert report.features[0].score == 0.5


def test_a_document_that_is_no_baseline_is_refused(baseline: dict[str, Any]) -> None:
    # Given a baseline whose schema version no training job wrote
    baseline["schema_version"] = 3
    # When drift is measured against it, then the Baseline model refuses it first
    with pytest.raises(ValidationError, match="schema_version"):
        drift_report(baseline, like_training(10), None, LOOSE)
