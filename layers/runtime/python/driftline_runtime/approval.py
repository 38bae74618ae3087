"""The evaluation gate: does a freshly trained model replace the champion?

Plain logic, no AWS: the policy compares the challenger's primary metric (measured by
the training job on the held-out test split) with the current approved champion's.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from driftline_runtime.names import PRIMARY_METRIC

ApprovalStatus = Literal["Approved", "Rejected", "PendingManualApproval"]


class ApprovalPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    primary_metric: str = PRIMARY_METRIC
    # Higher is better for the primary metric (AUC, average precision, accuracy).
    minimum: float = Field(default=0.6, description="No model below this is approved")
    min_improvement: float = Field(default=0.005, ge=0)
    # What a challenger that is not better by the margin becomes.
    when_not_better: Literal["Rejected", "PendingManualApproval"] = "Rejected"


class Champion(BaseModel):
    model_package_arn: str
    metric: float


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
    if metric < policy.minimum:
        return Decision(
            status="Rejected",
            reason=f"{name} {metric:.4f} is below the minimum {policy.minimum:.4f}",
            metric=metric,
            champion=champion,
        )
    if champion is None:
        return Decision(
            status="Approved",
            reason=f"first model: {name} {metric:.4f} meets the minimum {policy.minimum:.4f}",
            metric=metric,
            champion=None,
        )
    gain = metric - champion.metric
    if gain >= policy.min_improvement:
        return Decision(
            status="Approved",
            reason=f"{name} {metric:.4f} beats the champion's {champion.metric:.4f} by "
            f"{gain:.4f} (margin {policy.min_improvement:.4f})",
            metric=metric,
            champion=champion,
        )
    return Decision(
        status=policy.when_not_better,
        reason=f"{name} {metric:.4f} does not beat the champion's {champion.metric:.4f} by "
        f"the margin {policy.min_improvement:.4f}",
        metric=metric,
        champion=champion,
    )
