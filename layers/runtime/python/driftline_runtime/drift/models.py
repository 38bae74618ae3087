"""What a drift report holds: per feature the numbers a report plots and the verdict's
evidence, and per batch the outcome.

Reports written before calibrated verdicts (a PSI threshold per feature kind) still
parse: their new fields are simply absent, and ``thresholds`` holds the old PSI
thresholds.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from driftline_runtime.contracts import DriftSettings

# The name the prediction's drift carries in DriftReport.drifted_features.
from driftline_runtime.names import PREDICTION_FEATURE as PREDICTION_FEATURE

Kind = Literal["numeric", "categorical", "boolean", "prediction"]
Test = Literal["ks", "chi_square"]
Outcome = Literal["drifted", "no_drift", "insufficient_rows"]


class FeatureDrift(BaseModel):
    """The drift of one feature (or of the prediction): the numbers a report plots.

    ``labels``, ``expected_shares`` and ``actual_shares`` are parallel lists: bin labels
    such as ``(0.5, 1.25]`` for numeric features, category names for categorical ones.

    The verdict's evidence: ``test`` ran on the batch and the training sample and gave
    ``statistic`` with ``p_value``; ``critical_value`` is the statistic's threshold at
    this batch size and at ``level``, the significance level Holm's procedure held this
    feature to (so ``statistic > critical_value`` exactly when ``significant``). The
    effect size is ``score`` (PSI), and ``threshold`` the PSI floor it must reach:
    ``drifted = significant and score >= threshold``.
    """

    model_config = ConfigDict(frozen=True)

    feature: str
    kind: Kind
    rows: int = Field(ge=0, description="rows in the scoring batch")
    psi: float = Field(ge=0)
    null_psi: float | None = None
    labels: list[str]
    expected_shares: list[float]
    actual_shares: list[float]
    expected_null_share: float | None = None
    actual_null_share: float | None = None
    expected_mean: float | None = None
    actual_mean: float | None = None
    mean_shift: float | None = None
    # The test and its outcome (None: not tested; ``note`` says why).
    test: Test | None = None
    statistic: float | None = None
    dof: int | None = Field(default=None, description="chi-square degrees of freedom")
    reference_rows: int | None = Field(default=None, description="training rows compared")
    p_value: float | None = None
    adjusted_p_value: float | None = Field(default=None, description="Holm-adjusted")
    level: float | None = None
    critical_value: float | None = None
    significant: bool | None = None
    note: str | None = None
    # Before calibrated verdicts: Pearson's goodness-of-fit statistic of categories.
    chi_square: float | None = None
    threshold: float | None = None
    drifted: bool = False

    @property
    def score(self) -> float:
        """The effect size: the larger of the value PSI and the null-share PSI."""
        return max(self.psi, self.null_psi or 0.0)


class DriftReport(BaseModel):
    """A batch against its model's training baseline.

    ``outcome`` is ``insufficient_rows`` when the batch has fewer than
    ``settings.min_rows`` rows: the features' numbers are there, but nothing was tested
    and nothing drifted. Otherwise ``tested`` hypotheses (features and the prediction)
    were judged together by Holm's procedure at ``settings.false_alarm_rate``.
    """

    model_config = ConfigDict(frozen=True)

    rows: int = Field(ge=0)
    outcome: Outcome | None = None
    settings: DriftSettings | None = None
    correction: Literal["holm"] | None = None
    tested: int | None = Field(default=None, ge=0)
    features: list[FeatureDrift]
    prediction: FeatureDrift | None = None
    drifted_features: list[str]
    drifted: bool
    # Before calibrated verdicts: the PSI threshold per feature kind.
    thresholds: dict[str, float] | None = None

    @property
    def judged(self) -> list[FeatureDrift]:
        """The features and the prediction (when scored), in report order."""
        return [*self.features, *([self.prediction] if self.prediction else [])]
