"""A deployed model's measured quality on labelled scored rows, and when it has degraded.

The measures themselves are ``driftline_runtime.quality_measures`` (per problem type). A
model has degraded when its primary metric on a batch's labelled rows is worse than its
own test metric (the reference) by more than the labels dataset allows
(``QualitySettings``): by ``max_drop`` in the metric's units when higher is better (AUC,
macro F1, accuracy, R2, all on a 0..1 scale), by ``max_error_increase`` of the reference
when lower is better (RMSE and MAE are in the target's units, so only a share of the
model's own error means the same for every dataset). Fewer than ``min_labelled_rows``
rows give no verdict.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from driftline_runtime.contracts import QualitySettings
from driftline_runtime.quality_measures import CalibrationBin

Direction = Literal["higher", "lower"]


def allowed_worsening(direction: Direction, reference: float, settings: QualitySettings) -> float:
    """How much worse than ``reference`` the primary metric may be, in its own units."""
    if direction == "higher":
        return settings.max_drop
    return abs(reference) * settings.max_error_increase


def is_degraded(
    direction: Direction,
    value: float | None,
    reference: float | None,
    rows: int,
    settings: QualitySettings,
) -> bool:
    """Worse than the reference by more than allowed, on enough labelled rows."""
    if value is None or reference is None or rows < settings.min_labelled_rows:
        return False
    worse_by = reference - value if direction == "higher" else value - reference
    return worse_by > allowed_worsening(direction, reference, settings)


class ModelQuality(BaseModel):
    """A deployed model's measured quality on one scored run's labelled rows so far:
    ``status --json``'s ``model_quality[]``, written to ``quality/<dataset>/<version>/<run>.json``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset: str  # the inference dataset
    version: str  # the scored batch
    run: str
    model_group: str
    model_version: str
    model_package_arn: str
    labelled_rows: int
    metrics: dict[str, float]
    primary_metric: str
    # The model's own test metric (its training job's), which quality is held to.
    reference_metric: float | None
    # How much worse than the reference the primary metric may be, in its units (the
    # labels dataset's max_drop, or max_error_increase of the reference), and which way
    # is better.
    max_drop: float
    direction: Direction = "higher"
    problem: Literal["binary", "multiclass", "regression"] = "binary"
    min_labelled_rows: int
    degraded: bool
    calibration: list[CalibrationBin]
    time: str
