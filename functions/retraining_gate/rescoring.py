"""Promotion: an approved retraining's model rescores the batches that asked for it.

An approved challenger scores the next batches of its inference datasets without help
(batch inference resolves the newest approved package). The batches whose drift or
labels asked for the retraining were scored by the champion it replaced; with the stage
setting ``rescore_trigger_batch`` (on in dev) the gate, on the new model's
``ModelRegistered`` event, starts the batch-inference state machine on each of them
again, so their predictions come from the model trained because of them. They are:

- the batch that started the training, for a retraining the gate started
  (``TrainingRequest.retraining``);
- for any other approved training of the dataset (a validated training file, labels fed
  back among them, starts it through the training rule), the batches whose retraining
  waited for labels (``waiting#`` items of the cooldown table) recorded before that
  training started and answered by no approved model yet; each is marked answered.

Redelivery is safe: an execution's name derives from the model package and the batch,
and Step Functions refuses a second execution of that name, which counts as done. A
rescored batch still drifts from the new model's baseline (mostly the older data), and
its monitor says so, but the gate does not take that drift as a request: the batch's
first run asked already, and asking again would rescore it after every approval.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from driftline_runtime import names
from driftline_runtime.cooldown import CooldownGuard
from driftline_runtime.events import EventEnvelope, ModelRegistered
from driftline_runtime.steps import StepModel
from driftline_runtime.steps.training import RetrainingTrigger, TrainingRequest
from pydantic import Field

RescoreInput = EventEnvelope[ModelRegistered]


class RescoredBatch(StepModel):
    dataset: str = Field(description="the inference dataset")
    version: str = Field(description="the batch")
    trigger: str = Field(description="what it asked for: drift or model_quality")
    execution: str = Field(description="its batch-inference execution")


class RescoreDecision(StepModel):
    rescored: list[RescoredBatch]
    reason: str


@dataclass(frozen=True)
class RescoreSettings:
    enabled: bool
    batch_inference_state_machine_arn: str | None


def rescore_name(model_package_arn: str, version: str) -> str:
    """``rescore-<package version>-<batch version>-<group>``, within 80 characters."""
    group, package = model_package_arn.rsplit("/", 2)[-2:]
    name = f"{names.RESCORE_EXECUTION_PREFIX}{package}-{version}-{group}"
    return re.sub(r"[^A-Za-z0-9_-]", "-", name)[:80]


class Rescoring:
    def __init__(self, settings: RescoreSettings, sfn: Any, guard: CooldownGuard) -> None:
        self.settings = settings
        self.sfn = sfn
        self.guard = guard

    def rescore(self, event: RescoreInput) -> RescoreDecision:
        registered = event.detail
        if registered.status != "Approved":
            return RescoreDecision(rescored=[], reason=f"the model is {registered.status}")
        if not self.settings.enabled or self.settings.batch_inference_state_machine_arn is None:
            return RescoreDecision(rescored=[], reason="rescoring is off in this stage")
        started = self.sfn.describe_execution(executionArn=registered.execution)
        request = TrainingRequest.from_execution_input(json.loads(started["input"]))
        if request.retraining is not None:
            batch = self.start(registered.model_package_arn, request.retraining)
            return RescoreDecision(
                rescored=[batch],
                reason=f"the {batch.trigger} of batch {batch.version} started this retraining",
            )
        training_started: datetime = started["startDate"]
        rescored = []
        for item in self.guard.unanswered_waiting(registered.dataset):
            if datetime.fromisoformat(str(item["time"])) > training_started:
                continue  # it asked after this training began: a later model answers it
            trigger = RetrainingTrigger.model_validate(item["trigger"])
            rescored.append(self.start(registered.model_package_arn, trigger))
            self.guard.answer_waiting(
                registered.dataset, str(item["sk"]), registered.model_package_arn
            )
        reason = (
            f"{len(rescored)} batch(es) waited for labels before this training started"
            if rescored
            else "not a retraining the gate started, and no batch waited for labels"
        )
        return RescoreDecision(rescored=rescored, reason=reason)

    def start(self, model_package_arn: str, trigger: RetrainingTrigger) -> RescoredBatch:
        """Start (or find) the batch-inference execution that rescores ``trigger``'s batch."""
        machine = self.settings.batch_inference_state_machine_arn
        assert machine is not None  # rescore() checked
        name = rescore_name(model_package_arn, trigger.version)
        # The execution's input is an InferenceRequest (its module is not imported here:
        # it brings the drift statistics and numpy to a light function).
        batch = json.dumps({"dataset": trigger.dataset, "version": trigger.version})
        try:
            response = self.sfn.start_execution(stateMachineArn=machine, name=name, input=batch)
            execution = str(response["executionArn"])
        except self.sfn.exceptions.ExecutionAlreadyExists:
            execution = f"{machine.replace(':stateMachine:', ':execution:')}:{name}"
        return RescoredBatch(
            dataset=trigger.dataset,
            version=trigger.version,
            trigger=trigger.trigger,
            execution=execution,
        )
