"""Drift statistics: how far scoring data has moved from the training baseline.

The baseline is the ``baseline.json`` the training job writes (its schema is
``driftline_runtime.baseline.Baseline``). Everything here is a pure function
over numpy arrays (plus a pyarrow table in :func:`drift_report`): no I/O, no pandas, no
scipy, so it runs in a Lambda function with only the runtime layer.

* Numeric features are binned at the training bin edges with the training rule (bins
  right-closed with open ends, ``numpy.searchsorted(edges, v, side="left")``) and the bin
  shares of the *non-null* values are compared with the population stability index (PSI).
  Nulls are compared separately: the null shares of both sides are reported, with the PSI
  of the two-bin distribution (non-null, null) as ``null_psi``.
* Categorical and boolean features compare category shares of all rows (nulls are the
  category ``__null__``, categories unseen in training count as ``__other__``) with PSI,
  and report a chi-square goodness-of-fit statistic with its degrees of freedom.
* The prediction is compared as a numeric distribution, plus the shift of its mean.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field

from driftline_runtime.baseline import Baseline

# The baseline's vocabulary; the prediction's drift is named PREDICTION_FEATURE.
from driftline_runtime.names import NULL_CATEGORY as NULL_CATEGORY
from driftline_runtime.names import OTHER_CATEGORY as OTHER_CATEGORY
from driftline_runtime.names import PREDICTION_FEATURE as PREDICTION_FEATURE

DEFAULT_EPSILON = 1e-4

# Boolean text as the training job reads it (training/inference.py).
_TRUE = frozenset({"true", "t", "yes", "y", "1", "1.0"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "0.0"})

Kind = Literal["numeric", "categorical", "boolean", "prediction"]
FloatArray = npt.NDArray[np.float64]


class MissingFeatureError(ValueError):
    """The scoring table lacks feature column(s) the baseline describes."""


# -- models ------------------------------------------------------------------------------
class FeatureDrift(BaseModel):
    """The drift of one feature (or of the prediction): the numbers a report plots.

    ``labels``, ``expected_shares`` and ``actual_shares`` are parallel lists: bin labels
    such as ``(0.5, 1.25]`` for numeric features, category names for categorical ones.
    """

    model_config = ConfigDict(frozen=True)

    feature: str
    kind: Kind
    rows: int = Field(ge=0, description="rows in the scoring batch")
    psi: float = Field(ge=0)
    null_psi: float | None = None
    chi_square: float | None = None
    dof: int | None = None
    labels: list[str]
    expected_shares: list[float]
    actual_shares: list[float]
    expected_null_share: float | None = None
    actual_null_share: float | None = None
    expected_mean: float | None = None
    actual_mean: float | None = None
    mean_shift: float | None = None
    threshold: float | None = None
    drifted: bool = False

    @property
    def score(self) -> float:
        """The larger of the value PSI and the null-share PSI: what thresholds compare."""
        return max(self.psi, self.null_psi or 0.0)


class DriftThresholds(BaseModel):
    """PSI above which a feature counts as drifted, per kind (booleans use categorical)."""

    model_config = ConfigDict(frozen=True)

    numeric: float = Field(default=0.2, ge=0)
    categorical: float = Field(default=0.2, ge=0)
    prediction: float = Field(default=0.1, ge=0)

    def for_kind(self, kind: Kind) -> float:
        if kind == "numeric":
            return self.numeric
        if kind == "prediction":
            return self.prediction
        return self.categorical


class DriftReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    rows: int = Field(ge=0)
    thresholds: DriftThresholds
    features: list[FeatureDrift]
    prediction: FeatureDrift | None = None
    drifted_features: list[str]
    drifted: bool


# -- statistics --------------------------------------------------------------------------
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


def chi_square(
    expected_shares: npt.ArrayLike,
    observed_counts: npt.ArrayLike,
    epsilon: float = DEFAULT_EPSILON,
) -> tuple[float, int]:
    """Pearson's goodness-of-fit statistic ``sum((O - E)^2 / E)`` and its degrees of freedom.

    ``E = n * expected share``. Categories with neither an expected share nor an
    observation are left out; an observed category with no expected share gets the share
    ``epsilon`` (as in :func:`psi`) so the statistic stays finite. ``dof = k - 1`` over
    the ``k`` categories kept.
    """
    e = np.asarray(expected_shares, dtype=np.float64)
    o = np.asarray(observed_counts, dtype=np.float64)
    keep = (e > 0) | (o > 0)
    e, o = e[keep], o[keep]
    n = float(o.sum())
    if n == 0 or len(o) == 0:
        return 0.0, max(len(o) - 1, 0)
    expected_counts = n * np.maximum(e, epsilon)
    return float(np.sum((o - expected_counts) ** 2 / expected_counts)), len(o) - 1


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


def _mean(values: FloatArray) -> float | None:
    return float(values.mean()) if len(values) else None


def numeric_drift(
    feature_baseline: Mapping[str, Any],
    values: npt.ArrayLike,
    *,
    feature: str = "",
    kind: Kind = "numeric",
    epsilon: float = DEFAULT_EPSILON,
) -> FeatureDrift:
    """Drift of one numeric column (NaN or None is null) against its baseline profile.

    ``psi`` compares the bin shares of the non-null values; it is 0 when either side has
    no non-null values (nothing to compare), in which case ``null_psi`` still shows the
    change. A constant training column (one edge) or an all-null one (no edges) works:
    the bins are simply fewer.
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
    actual_mean = _mean(present)
    shift = None if expected_mean is None or actual_mean is None else actual_mean - expected_mean
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
    )


def _category(value: Any, known: Mapping[str, Any]) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return NULL_CATEGORY
    text = str(value)
    if not text.strip():
        return NULL_CATEGORY
    return text if text in known else OTHER_CATEGORY


def categorical_drift(
    feature_baseline: Mapping[str, Any],
    values: Sequence[str | None],
    *,
    feature: str = "",
    kind: Kind = "categorical",
    epsilon: float = DEFAULT_EPSILON,
) -> FeatureDrift:
    """Drift of one categorical column against its baseline ``frequencies``.

    None (or blank text) counts as ``__null__``; a category the baseline does not list
    counts as ``__other__``. PSI runs over the union of the baseline's categories and
    ``__other__``/``__null__``; the chi-square statistic compares the batch's counts with
    the counts the baseline shares predict (see :func:`chi_square`).
    """
    frequencies: Mapping[str, float] = feature_baseline.get("frequencies") or {}
    labels = list(frequencies)
    labels += [label for label in (OTHER_CATEGORY, NULL_CATEGORY) if label not in frequencies]
    index = {label: position for position, label in enumerate(labels)}
    mapped = np.fromiter((index[_category(value, frequencies)] for value in values), dtype=np.int64)
    counts = np.bincount(mapped, minlength=len(labels))
    expected = np.asarray([float(frequencies.get(label, 0.0)) for label in labels])
    actual = _shares(counts)
    rows = int(counts.sum())
    statistic, dof = chi_square(expected, counts, epsilon) if rows else (None, None)
    return FeatureDrift(
        feature=feature,
        kind=kind,
        rows=rows,
        psi=psi(expected, actual, epsilon) if rows else 0.0,
        chi_square=statistic,
        dof=dof,
        labels=labels,
        expected_shares=expected.tolist(),
        actual_shares=actual.tolist(),
        expected_null_share=float(frequencies.get(NULL_CATEGORY, 0.0)),
        actual_null_share=float(actual[index[NULL_CATEGORY]]),
    )


def prediction_drift(
    baseline_prediction: Mapping[str, Any],
    probabilities: npt.ArrayLike,
    *,
    epsilon: float = DEFAULT_EPSILON,
) -> FeatureDrift:
    """PSI of the predicted-probability distribution plus the shift of its mean."""
    return numeric_drift(
        baseline_prediction,
        probabilities,
        feature=PREDICTION_FEATURE,
        kind="prediction",
        epsilon=epsilon,
    )


# -- the report --------------------------------------------------------------------------
def _numbers(column: pa.ChunkedArray, feature: str) -> FloatArray:
    try:
        cast = pc.cast(column, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise ValueError(f"column {feature!r} is not numeric: {error}") from error
    return np.asarray(cast.to_numpy(zero_copy_only=False), dtype=np.float64)


def _boolean_text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip().lower()
    if text in _TRUE:
        return "true"
    if text in _FALSE:
        return "false"
    return text or None


def _feature_drift(
    feature: str, profile: Mapping[str, Any], column: pa.ChunkedArray, epsilon: float
) -> FeatureDrift:
    kind = profile.get("kind")
    if kind == "numeric":
        return numeric_drift(profile, _numbers(column, feature), feature=feature, epsilon=epsilon)
    if kind == "boolean":
        values = [_boolean_text(value) for value in column.to_pylist()]
        return categorical_drift(profile, values, feature=feature, kind="boolean", epsilon=epsilon)
    if kind == "categorical":
        text = [None if value is None else str(value) for value in column.to_pylist()]
        return categorical_drift(profile, text, feature=feature, epsilon=epsilon)
    raise ValueError(f"feature {feature!r} has an unknown kind {kind!r} in the baseline")


def _judged(drift: FeatureDrift, thresholds: DriftThresholds) -> FeatureDrift:
    threshold = thresholds.for_kind(drift.kind)
    return drift.model_copy(update={"threshold": threshold, "drifted": drift.score > threshold})


def drift_report(
    baseline: Baseline | Mapping[str, Any],
    table: pa.Table,
    probabilities: npt.ArrayLike | None = None,
    thresholds: DriftThresholds | None = None,
    *,
    epsilon: float = DEFAULT_EPSILON,
) -> DriftReport:
    """Drift of every baseline feature column (and of the prediction, when given).

    A feature counts as drifted when its PSI (or, for numeric features, the PSI of its
    null share) is above its kind's threshold. Raises :class:`MissingFeatureError` naming
    every feature column the table lacks.
    """
    thresholds = thresholds or DriftThresholds()
    if not isinstance(baseline, Baseline):
        baseline = Baseline.model_validate(baseline)
    columns = baseline.feature_columns
    missing = [column for column in columns if column not in table.column_names]
    if missing:
        raise MissingFeatureError(
            f"the scoring table lacks feature column(s) {', '.join(map(repr, missing))}; "
            f"it has {', '.join(map(repr, table.column_names)) or 'no columns'}"
        )
    profiles = {name: profile.model_dump() for name, profile in baseline.features.items()}
    features = [
        _judged(_feature_drift(name, profiles[name], table.column(name), epsilon), thresholds)
        for name in columns
    ]
    prediction = None
    if probabilities is not None:
        raw = prediction_drift(baseline.prediction.model_dump(), probabilities, epsilon=epsilon)
        prediction = _judged(raw, thresholds)
    judged = [*features, *([prediction] if prediction is not None else [])]
    drifted_features = [drift.feature for drift in judged if drift.drifted]
    return DriftReport(
        rows=table.num_rows,
        thresholds=thresholds,
        features=features,
        prediction=prediction,
        drifted_features=drifted_features,
        drifted=bool(drifted_features),
    )
