"""A scored batch's drift verdict: every feature and the prediction, judged together.

1. A batch with fewer than ``min_rows`` rows gets the outcome ``insufficient_rows``:
   its numbers are reported, nothing is tested, nothing drifted.
2. Every feature (and the prediction) is tested against the training sample: KS on
   numeric values, chi-square on categories (see :mod:`.features`).
3. Holm's procedure at ``false_alarm_rate`` across all tested hypotheses of the batch
   decides which are significant: a batch drawn like the training data has at most
   that chance of flagging anything, however the features depend on each other.
4. A significant feature is drifted only if its PSI reaches ``min_psi``: with enough
   rows any shift is significant, and a negligible one should not retrain a model.

The batch is drifted when any feature or the prediction is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from driftline_runtime.baseline import Baseline
from driftline_runtime.contracts import DriftSettings
from driftline_runtime.drift.distributions import chi2_critical, ks_two_sample_critical
from driftline_runtime.drift.features import (
    boolean_text,
    categorical_drift,
    numeric_drift,
    prediction_drift,
)
from driftline_runtime.drift.models import DriftReport, FeatureDrift
from driftline_runtime.drift.statistics import DEFAULT_EPSILON, FloatArray, holm

UNTESTED: dict[str, Any] = dict.fromkeys(("test", "statistic", "dof", "p_value"))


class MissingFeatureError(ValueError):
    """The scoring table lacks feature column(s) the baseline describes."""


def _numbers(column: pa.ChunkedArray, feature: str) -> FloatArray:
    try:
        cast = pc.cast(column, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise ValueError(f"column {feature!r} is not numeric: {error}") from error
    return np.asarray(cast.to_numpy(zero_copy_only=False), dtype=np.float64)


def feature_drift(
    feature: str,
    profile: Mapping[str, Any],
    column: pa.ChunkedArray,
    reference_rows: int | None,
    epsilon: float = DEFAULT_EPSILON,
) -> FeatureDrift:
    """One column against its profile, by the profile's kind (not yet judged)."""
    kind = profile.get("kind")
    rows = profile.get("rows") or reference_rows
    if kind == "numeric":
        values = _numbers(column, feature)
        return numeric_drift(profile, values, feature=feature, reference_rows=rows, epsilon=epsilon)
    if kind == "boolean":
        text = boolean_text(column)
        return categorical_drift(
            profile, text, feature=feature, kind="boolean", reference_rows=rows, epsilon=epsilon
        )
    if kind == "categorical":
        return categorical_drift(
            profile, column, feature=feature, reference_rows=rows, epsilon=epsilon
        )
    raise ValueError(f"feature {feature!r} has an unknown kind {kind!r} in the baseline")


def _critical_value(drift: FeatureDrift, level: float) -> float | None:
    if drift.test == "ks" and drift.reference_rows:
        return ks_two_sample_critical(level, drift.rows, drift.reference_rows)
    if drift.test == "chi_square" and drift.dof:
        return chi2_critical(level, drift.dof)
    return None


def judge(drifts: list[FeatureDrift], settings: DriftSettings) -> list[FeatureDrift]:
    """Holm's procedure over the tested ones, then the PSI floor; in input order."""
    tested = [index for index, drift in enumerate(drifts) if drift.p_value is not None]
    decision = holm([drifts[i].p_value or 0.0 for i in tested], settings.false_alarm_rate)
    judged = [d.model_copy(update={"threshold": settings.min_psi}) for d in drifts]
    for position, index in enumerate(tested):
        drift, level = judged[index], decision.levels[position]
        significant = decision.rejected[position]
        judged[index] = drift.model_copy(
            update={
                "level": level,
                "adjusted_p_value": decision.adjusted[position],
                "critical_value": _critical_value(drift, level),
                "significant": significant,
                "drifted": significant and drift.score >= settings.min_psi,
            }
        )
    return judged


def drift_report(
    baseline: Baseline | Mapping[str, Any],
    table: pa.Table,
    probabilities: npt.ArrayLike | pa.Array | pa.ChunkedArray | None = None,
    settings: DriftSettings | None = None,
    *,
    epsilon: float = DEFAULT_EPSILON,
) -> DriftReport:
    """Drift of every baseline feature column (and of the prediction, when given:
    ``probabilities`` is the predictions table's ``names.drift_column`` of the problem).

    Raises :class:`MissingFeatureError` naming every feature column the table lacks, and
    pydantic's ``ValidationError`` for a document that is no :class:`Baseline`.
    """
    settings = settings or DriftSettings()
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
    # Version 1 profiles give no row count: they describe the whole train split.
    rows = baseline.rows
    drifts = [
        feature_drift(name, profiles[name], table.column(name), rows, epsilon) for name in columns
    ]
    if probabilities is not None:
        profile = baseline.prediction.model_dump()
        drifts.append(prediction_drift(profile, probabilities, epsilon=epsilon))
    enough = table.num_rows >= settings.min_rows
    if enough:
        drifts = judge(drifts, settings)
    else:
        note = f"{table.num_rows} rows, fewer than the {settings.min_rows} a verdict needs"
        drifts = [d.model_copy(update={**UNTESTED, "note": note}) for d in drifts]
    features, prediction = (
        (drifts[:-1], drifts[-1]) if probabilities is not None else (drifts, None)
    )
    drifted_features = [drift.feature for drift in drifts if drift.drifted]
    outcome = "insufficient_rows" if not enough else "drifted" if drifted_features else "no_drift"
    return DriftReport(
        rows=table.num_rows,
        outcome=outcome,
        settings=settings,
        correction="holm",
        tested=sum(1 for drift in drifts if drift.p_value is not None) if enough else 0,
        features=features,
        prediction=prediction,
        drifted_features=drifted_features,
        drifted=bool(drifted_features),
    )
