"""Evaluating a trained challenger against the approved champion of its dataset.

Both numbers come from the challenger's training job: its own metrics on its held-out
split, and the champion's on the same split (Prepare gave the job the champion's model
as its ``champion`` channel), so the comparison is paired and evaluation needs no copy
of either model here; the decision is ``driftline_runtime.approval.decide``, under the
stage's margin and the dataset's own metric, direction and minimum (its ``DatasetSpec``).
If another model was approved while the job ran, the challenger was not compared with the
champion it would replace, and is rejected with that reason rather than approved on stale
terms.
"""

from __future__ import annotations

from dataclasses import dataclass

from driftline_contracts import contract
from driftline_runtime import layout, names
from driftline_runtime.approval import ApprovalPolicy, Champion, MissingMetric, decide
from driftline_runtime.observability import Observability
from driftline_runtime.registry import ModelRegistry
from driftline_runtime.settings import FunctionSettings
from driftline_runtime.steps.training import (
    ChampionScore,
    EvaluateModelInput,
    Evaluation,
    PairedEvaluation,
)
from pydantic import Json


class Settings(FunctionSettings):
    model_package_group_prefix: str
    approval_policy: Json[ApprovalPolicy]


@dataclass(frozen=True)
class Services:
    registry: ModelRegistry
    obs: Observability


class UnknownDataset(ValueError):
    pass


def dataset_policy(stage: ApprovalPolicy, dataset: str) -> ApprovalPolicy:
    """The stage's margin with the dataset's primary metric, direction and minimum."""
    spec = contract(dataset)
    if spec is None or spec.kind != "training":
        raise UnknownDataset(f"{dataset!r} is not a declared training dataset")
    return stage.model_copy(
        update={
            "primary_metric": spec.primary_metric_name,
            "direction": spec.metric_direction,
            "minimum": spec.approval_minimum,
        }
    )


class ModelEvaluation:
    def __init__(self, settings: Settings, services: Services) -> None:
        self.settings = settings
        self.services = services

    def group(self, dataset: str) -> str:
        return layout.model_group(self.settings.model_package_group_prefix, dataset)

    def evaluate(self, request: EvaluateModelInput) -> Evaluation:
        registry = self.services.registry
        policy = dataset_policy(self.settings.approval_policy, request.dataset)
        group = self.group(request.dataset)
        registry.ensure_group(group, f"Models trained on the {request.dataset} dataset")
        # A job whose output matched no metric regex reported no metrics at all; decide()
        # then fails with MissingMetric, which the state machine catches.
        metrics = request.training.metrics
        champion = self.paired_champion(request, metrics, policy.primary_metric)
        decision = decide(policy, metrics, champion)
        current = registry.newest_approved_arn(group)
        if decision.status == "Approved" and current != (
            champion.model_package_arn if champion else None
        ):
            decision = decision.model_copy(
                update={
                    "status": "Rejected",
                    "reason": f"{current} was approved while this model trained; it was "
                    "not compared with that champion, so it does not replace it",
                }
            )
        self.services.obs.logger.info("Evaluated", extra={"decision": decision.model_dump()})
        paired = PairedEvaluation(
            holdout=request.holdout,
            challenger=decision.metric,
            champion=ChampionScore(
                model_version=champion.model_version or "", metric=champion.metric
            )
            if champion
            else None,
        )
        return Evaluation(group=group, metrics=metrics, evaluation=paired, **decision.model_dump())

    @staticmethod
    def paired_champion(
        request: EvaluateModelInput, metrics: dict[str, float], primary: str
    ) -> Champion | None:
        """The champion with its metric on the challenger's holdout, as the job measured it."""
        if request.champion is None:
            return None
        measure = primary.split(":", 1)[-1]
        name = names.champion_metric(measure)
        if name not in metrics:
            raise MissingMetric(
                f"The training job was given the champion {request.champion.model_version} to "
                f"score but reported no {name!r} (it reported {sorted(metrics) or 'nothing'})"
            )
        return Champion(
            model_package_arn=request.champion.model_package_arn,
            model_version=request.champion.model_version,
            metric=metrics[name],
        )
