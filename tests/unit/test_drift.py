"""Drift statistics (driftline_runtime.drift) against hand-computed values."""

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
    DriftThresholds,
    MissingFeatureError,
    categorical_drift,
    chi_square,
    drift_report,
    numeric_drift,
    prediction_drift,
    psi,
)


def numeric_profile(
    edges: list[float], shares: list[float], *, null_share: float = 0.0, mean: float = 0.0
) -> dict[str, Any]:
    """A baseline numeric profile in the schema of training/train.py::build_baseline."""
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


def test_chi_square_matches_the_hand_computed_value() -> None:
    # Given expected shares a: 0.5, b: 0.5 (no other, no nulls in training)
    baseline = categorical_profile({"a": 0.5, "b": 0.5, OTHER_CATEGORY: 0.0, NULL_CATEGORY: 0.0})
    # When 4 rows arrive: a, a, a, b
    drift = categorical_drift(baseline, ["a", "a", "a", "b"])
    # Then E = 4 * 0.5 = 2 per category, chi2 = (3-2)^2/2 + (1-2)^2/2 = 0.5 + 0.5 = 1.0,
    # over k = 2 categories (the empty __other__/__null__ are left out): dof = 1
    assert drift.chi_square == pytest.approx(1.0)
    assert drift.dof == 1
    # And PSI = (0.75-0.5) ln(1.5) + (0.25-0.5) ln(0.5) = 0.25 ln 3
    assert drift.psi == pytest.approx(0.25 * math.log(3))


def test_chi_square_of_a_perfect_fit_is_zero() -> None:
    statistic, dof = chi_square([0.25, 0.75], [1, 3])
    assert statistic == 0.0
    assert dof == 1


def test_a_single_row_categorical_batch_gives_finite_numbers() -> None:
    baseline = categorical_profile({"a": 0.6, "b": 0.4, OTHER_CATEGORY: 0.0, NULL_CATEGORY: 0.0})
    drift = categorical_drift(baseline, ["b"])
    assert math.isfinite(drift.psi)
    assert drift.chi_square == pytest.approx((1 - 0.4) ** 2 / 0.4 + (0 - 0.6) ** 2 / 0.6)
    assert drift.dof == 1


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
@pytest.fixture
def baseline() -> dict[str, Any]:
    """A small baseline following training/train.py::build_baseline's schema."""
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


def test_a_batch_like_training_does_not_drift(baseline: dict[str, Any]) -> None:
    # Given 10 rows with the training shares (amount 3/4/3, channel 6/4, foreign 9/1)
    table = batch(
        [5.0] * 3 + [50.0] * 4 + [500.0] * 3,
        ["web"] * 6 + ["pos"] * 4,
        [False] * 9 + [True],
    )
    # When the report runs with the default thresholds
    report = drift_report(baseline, table, np.array([0.1] * 9 + [0.9]), DriftThresholds())
    # Then nothing drifted, and every feature is reported in order
    assert [f.feature for f in report.features] == ["amount", "channel", "is_foreign"]
    assert all(f.psi == pytest.approx(0.0, abs=1e-12) for f in report.features)
    assert report.prediction is not None and report.prediction.psi == pytest.approx(0.0)
    assert report.drifted_features == []
    assert report.drifted is False
    assert report.rows == 10


def test_the_per_kind_thresholds_decide_what_drifted(baseline: dict[str, Any]) -> None:
    # Given a batch whose channel moved to 50/50 (PSI 0.0405) and booleans given as text
    table = batch([5.0, 50.0, 500.0, 50.0], ["web", "pos", "web", "pos"], ["0", "1", "0", "0"])
    probabilities = np.array([0.9, 0.9, 0.1, 0.1])  # prediction shares 0.5/0.5 vs 0.9/0.1
    # When the categorical threshold is below that PSI and the others are defaults
    report = drift_report(baseline, table, probabilities, DriftThresholds(categorical=0.03))
    # Then channel drifted ((0.5-0.6) ln(5/6) + (0.5-0.4) ln(5/4) = 0.0405465 > 0.03)
    by_name = {f.feature: f for f in report.features}
    assert by_name["channel"].psi == pytest.approx(0.1 * math.log(1.2) + 0.1 * math.log(1.25))
    assert by_name["channel"].drifted is True
    assert by_name["channel"].threshold == 0.03
    # And the prediction drifted: PSI = 0.4 ln(0.9/0.5) + 0.4 ln(0.5/0.1) = 0.8789 > 0.1
    assert report.prediction is not None and report.prediction.threshold == 0.1
    assert report.prediction.psi == pytest.approx(0.4 * math.log(1.8) + 0.4 * math.log(5))
    assert "channel" in report.drifted_features
    assert PREDICTION_FEATURE in report.drifted_features
    assert report.drifted is True
    # And the boolean text maps onto false/true
    foreign = by_name["is_foreign"]
    assert dict(zip(foreign.labels, foreign.actual_shares, strict=True))["true"] == 0.25


def test_raising_the_thresholds_clears_the_drift(baseline: dict[str, Any]) -> None:
    table = batch([5.0, 50.0, 500.0, 50.0], ["web", "pos", "web", "pos"], [False] * 4)
    thresholds = DriftThresholds(numeric=50.0, categorical=50.0, prediction=50.0)
    report = drift_report(baseline, table, np.array([0.9] * 4), thresholds)
    assert report.drifted_features == []
    assert report.drifted is False


def test_a_single_row_report_has_no_nan(baseline: dict[str, Any]) -> None:
    # Given a one-row batch (with a null amount) and no probabilities
    report = drift_report(baseline, batch([None], ["app"], [None]), None, DriftThresholds())
    # Then every number is finite and the prediction is absent
    numbers = [
        value
        for f in report.features
        for value in (f.psi, f.null_psi, f.chi_square, *f.actual_shares)
        if value is not None
    ]
    assert all(math.isfinite(value) for value in numbers)
    assert report.prediction is None
    assert report.drifted is True  # an unseen channel and a null amount are large moves


def test_a_missing_feature_column_is_a_clear_error(baseline: dict[str, Any]) -> None:
    table = pa.table({"amount": [1.0]})
    with pytest.raises(MissingFeatureError, match=r"'channel', 'is_foreign'"):
        drift_report(baseline, table, None, DriftThresholds())


def test_the_report_serialises_to_json(baseline: dict[str, Any]) -> None:
    table = batch([5.0], ["web"], [False])
    report = drift_report(baseline, table, np.array([0.2]), DriftThresholds())
    document = report.model_dump(mode="json")
    assert document["features"][0]["labels"] == ["(-inf, 10]", "(10, 100]", "(100, +inf)"]
    assert document["thresholds"] == {"numeric": 0.2, "categorical": 0.2, "prediction": 0.1}
