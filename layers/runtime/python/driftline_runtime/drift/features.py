"""One feature of a batch against its training profile: the numbers and the test.

* Numeric features are binned at the training deciles (bins right-closed with open ends,
  ``numpy.searchsorted(edges, v, side="left")``) for the PSI and the report's picture.
  They are tested with the two-sample KS statistic against the training values the
  baseline keeps (``quantiles``), nulls counted as a value below every number. A
  baseline from before the sketch (no ``quantiles``) is tested with the chi-square
  test of homogeneity over its decile bins plus a null bin instead.
* Categorical and boolean features compare the category shares of all rows (nulls are
  the category ``__null__``, categories unseen in training count as ``__other__``)
  with PSI, tested with the chi-square test of homogeneity.
* The prediction is a numeric distribution; it is tested only when the baseline's
  predictions were made on rows the model did not learn from.

The verdict (which p-value is small enough, and whether the PSI reaches its floor) is
made for all features of a batch together, in :mod:`driftline_runtime.drift.verdict`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from driftline_runtime import names
from driftline_runtime.drift.distributions import chi2_sf, ks_two_sample_sf
from driftline_runtime.drift.models import PREDICTION_FEATURE, FeatureDrift, Kind
from driftline_runtime.drift.statistics import (
    DEFAULT_EPSILON,
    FloatArray,
    chi_square_homogeneity,
    ks_statistic,
    psi,
)

# The baseline's vocabulary.
from driftline_runtime.names import NULL_CATEGORY as NULL_CATEGORY
from driftline_runtime.names import OTHER_CATEGORY as OTHER_CATEGORY

# Where the baseline's predictions come from: only held-out rows compare fairly with a
# batch the model has never seen (its own training rows score more confidently).
HELD_OUT_SPLITS = frozenset({names.VALIDATION_SPLIT, names.HELD_OUT_SPLIT})

# Boolean text as the training job reads it (training/sklearn_classifier/features.py).
_TRUE = pa.array(["true", "t", "yes", "y", "1", "1.0"])
_FALSE = pa.array(["false", "f", "no", "n", "0", "0.0"])

type Values = Sequence[str | None] | pa.Array | pa.ChunkedArray


def bin_labels(edges: Sequence[float]) -> list[str]:
    """``(-inf, e0]``, ``(e0, e1]``, ..., ``(e_last, +inf)``: the training bins."""
    bounds = ["-inf", *(f"{edge:g}" for edge in edges), "+inf"]
    return [
        f"({low}, {high}{')' if high == '+inf' else ']'}"
        for low, high in zip(bounds, bounds[1:], strict=False)
    ]


def _shares(counts: npt.NDArray[Any]) -> FloatArray:
    total = counts.sum()
    if total == 0:
        return np.zeros(len(counts), dtype=np.float64)
    return np.asarray(counts / total, dtype=np.float64)


def _untested(note: str) -> dict[str, Any]:
    return {"note": note}


def _ks(
    profile: Mapping[str, Any], array: FloatArray, reference_rows: int | None
) -> dict[str, Any]:
    if not reference_rows:
        return _untested("the baseline does not say how many training rows it describes")
    null_share = float(profile.get("null_share") or 0.0)
    statistic = ks_statistic(array, profile["quantiles"], null_share)
    return {
        "test": "ks",
        "statistic": statistic,
        "reference_rows": reference_rows,
        "p_value": ks_two_sample_sf(statistic, len(array), reference_rows),
    }


def _chi_square(
    shares: FloatArray, counts: npt.NDArray[Any], reference_rows: int | None
) -> dict[str, Any]:
    if not reference_rows:
        return _untested("the baseline does not say how many training rows it describes")
    result = chi_square_homogeneity(shares, reference_rows, counts)
    if result.dof < 1:
        return _untested("too few rows to expect five in two bins or categories")
    return {
        "test": "chi_square",
        "statistic": result.statistic,
        "dof": result.dof,
        "reference_rows": reference_rows,
        "p_value": chi2_sf(result.statistic, result.dof),
    }


def numeric_drift(
    feature_baseline: Mapping[str, Any],
    values: npt.ArrayLike,
    *,
    feature: str = "",
    kind: Kind = "numeric",
    reference_rows: int | None = None,
    tested: bool = True,
    epsilon: float = DEFAULT_EPSILON,
) -> FeatureDrift:
    """Drift of one numeric column (NaN or None is null) against its baseline profile.

    ``psi`` compares the bin shares of the non-null values; it is 0 when either side has
    no non-null values (nothing to compare), in which case ``null_psi`` still shows the
    change. A constant training column (one edge) or an all-null one (no edges) works:
    the bins are simply fewer. ``reference_rows`` is how many training rows (nulls
    included) the profile describes; without it nothing is tested.
    """
    array = np.asarray(values, dtype=np.float64).ravel()
    present = array[~np.isnan(array)]
    edges = np.asarray(feature_baseline.get("bin_edges") or [], dtype=np.float64)
    expected = np.asarray(feature_baseline.get("bin_shares") or [], dtype=np.float64)
    if len(expected) and len(expected) != len(edges) + 1:
        raise ValueError(f"{feature or 'feature'}: bin_shares must have len(bin_edges) + 1")
    labels = bin_labels(edges.tolist()) if len(expected) else []
    counts = np.bincount(np.searchsorted(edges, present, side="left"), minlength=len(edges) + 1)
    actual = _shares(counts) if len(expected) else np.zeros(0, dtype=np.float64)
    value_psi = psi(expected, actual, epsilon) if len(present) and len(expected) else 0.0
    expected_null = float(feature_baseline.get("null_share") or 0.0)
    actual_null = float(1 - len(present) / len(array)) if len(array) else 0.0
    null_psi = (
        psi([1 - expected_null, expected_null], [1 - actual_null, actual_null], epsilon)
        if len(array)
        else 0.0
    )
    expected_mean = feature_baseline.get("mean")
    actual_mean = float(present.mean()) if len(present) else None
    shift = None if expected_mean is None or actual_mean is None else actual_mean - expected_mean
    evidence: dict[str, Any] = {}
    if not len(array):
        evidence = _untested("the batch has no rows")
    elif not tested:
        evidence = _untested("not tested")
    elif feature_baseline.get("quantiles") is not None:
        evidence = _ks(feature_baseline, array, reference_rows)
    elif len(expected):
        shares = np.append(expected * (1 - expected_null), expected_null)
        evidence = _chi_square(shares, np.append(counts, len(array) - len(present)), reference_rows)
    else:
        evidence = _untested("the baseline has no values to compare with")
    return FeatureDrift(
        feature=feature,
        kind=kind,
        rows=len(array),
        psi=value_psi,
        null_psi=null_psi,
        labels=labels,
        expected_shares=expected.tolist(),
        actual_shares=actual.tolist(),
        expected_null_share=expected_null,
        actual_null_share=actual_null,
        expected_mean=None if expected_mean is None else float(expected_mean),
        actual_mean=actual_mean,
        mean_shift=shift,
        **evidence,
    )


def _text(values: Values) -> pa.Array | pa.ChunkedArray:
    """The values as Arrow strings, NaN as null."""
    if not isinstance(values, pa.Array | pa.ChunkedArray):
        values = pa.array(list(values), type=pa.string())
    if pa.types.is_floating(values.type):
        values = pc.if_else(pc.is_nan(values), pa.scalar(None, values.type), values)
    if not pa.types.is_string(values.type):
        values = pc.cast(values, pa.string())
    return values


def boolean_text(values: Values) -> pa.Array | pa.ChunkedArray:
    """``true``/``false`` for the texts the training job reads as booleans; other
    non-blank text as it is (lower case), blank text as null."""
    low = pc.utf8_lower(pc.utf8_trim_whitespace(_text(values)))
    true = pc.is_in(low, value_set=_TRUE)
    false = pc.is_in(low, value_set=_FALSE)
    mapped = pc.if_else(true, "true", pc.if_else(false, "false", low))
    return pc.if_else(pc.equal(mapped, ""), pa.scalar(None, pa.string()), mapped)


def category_counts(values: Values, labels: Sequence[str]) -> npt.NDArray[np.int64]:
    """Rows per label: null or blank text counts as ``__null__``, text that is not a
    label as ``__other__`` (both must be labels)."""
    text = _text(values)
    blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(text), ""), True)
    index = pc.index_in(text, value_set=pa.array(list(labels), type=pa.string()))
    codes = pc.fill_null(index, labels.index(OTHER_CATEGORY))
    codes = pc.if_else(blank, labels.index(NULL_CATEGORY), codes)
    found = np.asarray(codes.to_numpy(zero_copy_only=False), dtype=np.int64)
    return np.bincount(found, minlength=len(labels)).astype(np.int64)


def categorical_drift(
    feature_baseline: Mapping[str, Any],
    values: Values,
    *,
    feature: str = "",
    kind: Kind = "categorical",
    reference_rows: int | None = None,
    epsilon: float = DEFAULT_EPSILON,
) -> FeatureDrift:
    """Drift of one categorical column against its baseline ``frequencies``.

    None (or blank text) counts as ``__null__``; a category the baseline does not list
    counts as ``__other__``. PSI runs over the union of the baseline's categories and
    ``__other__``/``__null__``; the chi-square test of homogeneity compares the batch's
    counts with the ``reference_rows`` training rows' (see
    :func:`~driftline_runtime.drift.statistics.chi_square_homogeneity`).
    """
    frequencies: Mapping[str, float] = feature_baseline.get("frequencies") or {}
    labels = list(frequencies)
    labels += [label for label in (OTHER_CATEGORY, NULL_CATEGORY) if label not in frequencies]
    counts = category_counts(values, labels)
    expected = np.asarray([float(frequencies.get(label, 0.0)) for label in labels])
    actual = _shares(counts)
    rows = int(counts.sum())
    evidence = (
        _chi_square(expected, counts, reference_rows)
        if rows
        else _untested("the batch has no rows")
    )
    return FeatureDrift(
        feature=feature,
        kind=kind,
        rows=rows,
        psi=psi(expected, actual, epsilon) if rows else 0.0,
        labels=labels,
        expected_shares=expected.tolist(),
        actual_shares=actual.tolist(),
        expected_null_share=float(frequencies.get(NULL_CATEGORY, 0.0)),
        actual_null_share=float(actual[labels.index(NULL_CATEGORY)]),
        **evidence,
    )


def prediction_drift(
    baseline_prediction: Mapping[str, Any],
    probabilities: npt.ArrayLike | Values,
    *,
    reference_rows: int | None = None,
    epsilon: float = DEFAULT_EPSILON,
) -> FeatureDrift:
    """The distribution of what the model predicts: the predicted probability (binary) or
    value (regression) with the shift of its mean, or the predicted classes' shares
    (multiclass, a categorical profile).

    Tested only when the profile names a held-out ``split``: a model scores the rows it
    learned from more confidently than new ones, so a baseline of its own training
    rows would flag every batch once the batch is large enough.
    """
    held_out = baseline_prediction.get("split") in HELD_OUT_SPLITS
    if baseline_prediction.get("kind") == "categorical":
        return categorical_drift(
            baseline_prediction,
            probabilities,  # the predicted classes' labels
            feature=PREDICTION_FEATURE,
            kind="prediction",
            reference_rows=(reference_rows or baseline_prediction.get("rows"))
            if held_out
            else None,
            epsilon=epsilon,
        )
    drift = numeric_drift(
        baseline_prediction,
        probabilities,  # type: ignore[arg-type]  # numbers, for a numeric profile
        feature=PREDICTION_FEATURE,
        kind="prediction",
        reference_rows=reference_rows or baseline_prediction.get("rows"),
        tested=held_out,
        epsilon=epsilon,
    )
    if held_out or drift.note != "not tested":
        return drift
    return drift.model_copy(
        update={"note": "the baseline's predictions are of the training rows (an old model)"}
    )
