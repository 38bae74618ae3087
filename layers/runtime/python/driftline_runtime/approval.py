"""The evaluation gate: does a freshly trained model replace the champion?

Plain logic, no AWS: the policy compares the challenger's primary metric with the
current approved champion's, both measured by the challenger's training job on the same
held-out split (a paired comparison: the champion's model is one of the job's inputs).
The metric, its direction and the minimum are the dataset's (``DatasetSpec``); the margin
and what a challenger that is not better becomes are the stage's.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from driftline_runtime.names import PRIMARY_METRIC

ApprovalStatus = Literal["Approved", "Rejected", "PendingManualApproval"]


class ApprovalPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    primary_metric: str = PRIMARY_METRIC
    # Higher is better for AUC, F1 and accuracy; lower for RMSE, MAE and log loss.
    direction: Literal["higher", "lower"] = "higher"
    # The worst metric approved (at least it when higher is better, at most it when
    # lower is); None: no bound, the champion's margin alone decides.
    minimum: float | None = Field(default=0.6, description="No model worse than this")
    min_improvement: float = Field(default=0.005, ge=0)
    # What a challenger that is not better by the margin becomes.
    when_not_better: Literal["Rejected", "PendingManualApproval"] = "Rejected"


class Champion(BaseModel):
    model_package_arn: str
    # Measured on the challenger's holdout, not the number recorded at its own training.
    metric: float
    model_version: str | None = None


class Decision(BaseModel):
    status: ApprovalStatus
    reason: str
    metric: float
    champion: Champion | None


class MissingMetric(ValueError):
    pass


def decide(
    policy: ApprovalPolicy, metrics: dict[str, float], champion: Champion | None
) -> Decision:
    if policy.primary_metric not in metrics:
        raise MissingMetric(
            f"The training job reported no {policy.primary_metric!r} "
            f"(it reported {sorted(metrics) or 'nothing'})"
        )
    metric = metrics[policy.primary_metric]
    name = policy.primary_metric
    higher = policy.direction == "higher"
    bound, worse = ("minimum", "below") if higher else ("maximum", "above")
    if policy.minimum is not None and (
        metric < policy.minimum if higher else metric > policy.minimum
    ):
        return Decision(
            status="Rejected",
            reason=f"{name} {metric:.4f} is {worse} the {bound} {policy.minimum:.4f}",
            metric=metric,
            champion=champion,
        )
    if champion is None:
        meets = (
            f"meets the {bound} {policy.minimum:.4f}"
            if policy.minimum is not None
            else "(no bound set)"
        )
        return Decision(
            status="Approved",
            reason=f"first model: {name} {metric:.4f} {meets}",
            metric=metric,
            champion=None,
        )
    gain = metric - champion.metric if higher else champion.metric - metric
    if gain >= policy.min_improvement:
        return Decision(
            status="Approved",
            reason=f"{name} {metric:.4f} beats the champion's {champion.metric:.4f} on the "
            f"same holdout by {gain:.4f} (margin {policy.min_improvement:.4f}, "
            f"{policy.direction} is better)",
            metric=metric,
            champion=champion,
        )
    return Decision(
        status=policy.when_not_better,
        reason=f"{name} {metric:.4f} does not beat the champion's {champion.metric:.4f} on "
        f"the same holdout by the margin {policy.min_improvement:.4f}",
        metric=metric,
        champion=champion,
    )
