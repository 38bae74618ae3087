"""Evaluating a trained challenger against the approved champion of its dataset.

The metrics come from the training job itself (measured on the held-out test split and
reported through the job's metric definitions), so evaluation needs no copy of the
model here; the decision is ``driftline_runtime.approval.decide``, under the stage's
margin and the dataset's own metric, direction and minimum (its ``DatasetSpec``).
"""

from __future__ import annotations

from dataclasses import dataclass

from driftline_contracts import contract
from driftline_runtime import layout
from driftline_runtime.approval import ApprovalPolicy, decide
from driftline_runtime.observability import Observability
from driftline_runtime.registry import ModelRegistry
from driftline_runtime.settings import FunctionSettings
from driftline_runtime.steps.training import EvaluateModelInput, Evaluation
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
        champion = registry.champion(group, policy.primary_metric)
        # A job whose output matched no metric regex reported no metrics at all; decide()
        # then fails with MissingMetric, which the state machine catches.
        metrics = request.training.metrics
        decision = decide(policy, metrics, champion)
        self.services.obs.logger.info("Evaluated", extra={"decision": decision.model_dump()})
        return Evaluation(group=group, metrics=metrics, **decision.model_dump())
