"""Promotion: an approved retraining's model rescores the batches that asked for it: the
one whose drift or labels started it, or those that waited for labels before it began;
anything else rescores nothing."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import boto3
import pytest
from driftline_runtime.cooldown import CooldownGuard
from driftline_runtime.steps.batch_inference import InferenceRequest
from driftline_runtime.steps.training import RetrainingTrigger, TrainingRequest
from moto import mock_aws

BATCH_MACHINE = "arn:aws:states:us-east-1:1:stateMachine:driftline-dev-batch-inference"
TRAINING_EXECUTION = "arn:aws:states:us-east-1:1:execution:driftline-dev-training:retrain-x"
PACKAGE = "arn:aws:sagemaker:us-east-1:1:model-package/driftline-dev-transactions/2"


class AlreadyExists(Exception):
    pass


class FakeStepFunctions:
    """describe_execution answers with the training execution's input; start_execution
    records and, for a name seen before, refuses as Step Functions does."""

    class exceptions:  # noqa: N801 - boto3's attribute name
        ExecutionAlreadyExists = AlreadyExists

    def __init__(self, training_input: dict[str, Any], start: datetime | None = None) -> None:
        self.training_input = training_input
        self.training_started = start or datetime(2026, 11, 2, 9, tzinfo=UTC)
        self.started: list[dict[str, str]] = []

    def describe_execution(self, executionArn: str) -> dict[str, Any]:  # noqa: N803
        assert executionArn == TRAINING_EXECUTION
        return {
            "executionArn": executionArn,
            "input": json.dumps(self.training_input),
            "startDate": self.training_started,
        }

    def start_execution(self, stateMachineArn: str, name: str, input: str) -> dict[str, str]:  # noqa: A002, N803
        if any(s["name"] == name for s in self.started):
            raise AlreadyExists(name)
        self.started.append({"machine": stateMachineArn, "name": name, "input": input})
        return {"executionArn": f"{stateMachineArn}:{name}".replace("stateMachine", "execution")}


def registered(status: str = "Approved") -> dict[str, Any]:
    return {
        "version": "0",
        "id": "e-1",
        "detail-type": "ModelRegistered",
        "source": "driftline.training",
        "account": "1",
        "time": "2026-11-02T10:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "dataset": "transactions",
            "version": "v9",
            "model_package_arn": PACKAGE,
            "status": status,
            "reason": "test:auc 0.91 beats the champion's 0.85 on the same holdout",
            "metrics": {"test:auc": 0.91},
            "training_job": "dl-dev-transactions-v9",
            "execution": TRAINING_EXECUTION,
            "model_arn": "arn:aws:sagemaker:us-east-1:1:model/m",
        },
    }


def trigger_of(batch: str, trigger: str = "drift") -> RetrainingTrigger:
    return RetrainingTrigger(
        event_id=f"e-{batch}",
        dataset="scoring",
        version=batch,
        model_package_arn=PACKAGE.replace("/2", "/1"),
        drifted_features=["amount"],
        report_uri=f"s3://predictions/drift/scoring/{batch}.json",
        time=datetime(2026, 11, 2, tzinfo=UTC).isoformat(),
        trigger=trigger,
    )


def retraining(trigger: str = "drift") -> dict[str, Any]:
    request = TrainingRequest(
        dataset="transactions", version="v9", retraining=trigger_of("b7", trigger)
    )
    return request.model_dump(mode="json", exclude_none=True)


def validated_file() -> dict[str, Any]:
    """A training execution's input as the training rule delivers it: the event, whole."""
    event = {**registered(), "detail-type": "DatasetValidated", "source": "driftline.ingest"}
    event["detail"] = {
        "dataset": "transactions",
        "kind": "training",
        "version": "v9",
        "contract_version": "1.0.0",
        "source_bucket": "raw",
        "source_key": "transactions/feedback-l1.parquet",
        "source_version_id": None,
        "report_uri": "s3://curated/reports/transactions/v9.json",
        "data_uri": "s3://curated/curated/transactions/v9.parquet",
        "manifest_uri": "s3://curated/manifests/transactions/v9.json",
        "rows": 600,
        "dropped_rows": 0,
    }
    return event


@pytest.fixture
def guard(aws_credentials: None) -> Iterator[CooldownGuard]:
    with mock_aws():
        table = boto3.resource("dynamodb").create_table(
            TableName="cooldown",
            KeySchema=[
                {"AttributeName": "dataset", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "dataset", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield CooldownGuard(table)


@pytest.fixture
def rescoring(load_logic: Callable[[str, str], ModuleType]) -> ModuleType:
    return load_logic("retraining_gate", "rescoring")


def make(
    module: ModuleType, sfn: FakeStepFunctions, guard: CooldownGuard, enabled: bool = True
) -> Any:
    return module.Rescoring(
        module.RescoreSettings(enabled=enabled, batch_inference_state_machine_arn=BATCH_MACHINE),
        sfn,
        guard,
    )


@pytest.mark.parametrize("trigger", ["drift", "model_quality"])
def test_an_approved_retraining_rescores_the_batch_that_started_it(
    rescoring: ModuleType, guard: CooldownGuard, trigger: str
) -> None:
    # Given a retraining the gate started for batch b7 of scoring, now approved
    sfn = FakeStepFunctions(retraining(trigger))
    logic = make(rescoring, sfn, guard)
    # When its ModelRegistered event arrives
    decision = logic.rescore(rescoring.RescoreInput.model_validate(registered()))
    # Then batch inference scores b7 again (the newest approved model is the new one)
    (batch,) = decision.rescored
    assert (batch.dataset, batch.version, batch.trigger) == ("scoring", "b7", trigger)
    (started,) = sfn.started
    assert started["machine"] == BATCH_MACHINE
    request = InferenceRequest.from_execution_input(json.loads(started["input"]))
    assert (request.dataset, request.version) == ("scoring", "b7")
    # And a redelivered event finds that execution instead of starting another
    again = logic.rescore(rescoring.RescoreInput.model_validate(registered()))
    assert again.rescored[0].execution == batch.execution and len(sfn.started) == 1


def test_batches_that_waited_for_labels_are_rescored_once_by_the_first_model_after_them(
    rescoring: ModuleType, guard: CooldownGuard
) -> None:
    # Given two batches whose retraining waited for labels before a training started
    # (by their labels' feedback file), and one that asked after it started
    training_started = datetime(2026, 11, 2, 9, tzinfo=UTC)
    for batch, at in (("b7", 7), ("b8", 8), ("b10", 10)):
        guard.record_waiting(
            "transactions",
            datetime(2026, 11, 2, at, tzinfo=UTC),
            trigger_of(batch).model_dump(mode="json"),
            trigger_id=f"e-{batch}",
        )
    sfn = FakeStepFunctions(validated_file(), start=training_started)
    logic = make(rescoring, sfn, guard)
    # When that training's model is approved
    decision = logic.rescore(rescoring.RescoreInput.model_validate(registered()))
    # Then the two batches from before it are rescored, and answered
    assert sorted(b.version for b in decision.rescored) == ["b7", "b8"]
    assert [json.loads(s["input"])["version"] for s in sfn.started] == ["b7", "b8"]
    assert [i["trigger"]["version"] for i in guard.unanswered_waiting("transactions")] == ["b10"]
    # And a redelivered event rescores nothing more
    again = logic.rescore(rescoring.RescoreInput.model_validate(registered()))
    assert again.rescored == [] and len(sfn.started) == 2


def test_a_run_no_batch_asked_for_rescores_nothing(
    rescoring: ModuleType, guard: CooldownGuard
) -> None:
    sfn = FakeStepFunctions(validated_file())
    decision = make(rescoring, sfn, guard).rescore(
        rescoring.RescoreInput.model_validate(registered())
    )
    assert decision.rescored == [] and "no batch waited for labels" in decision.reason
    assert sfn.started == []


def test_nothing_is_rescored_when_the_stage_says_no_or_the_model_is_not_approved(
    rescoring: ModuleType, guard: CooldownGuard
) -> None:
    sfn = FakeStepFunctions(retraining())
    off = make(rescoring, sfn, guard, enabled=False).rescore(
        rescoring.RescoreInput.model_validate(registered())
    )
    assert off.rescored == [] and "off" in off.reason
    pending = make(rescoring, sfn, guard).rescore(
        rescoring.RescoreInput.model_validate(registered("PendingManualApproval"))
    )
    assert pending.rescored == [] and "PendingManualApproval" in pending.reason
    assert sfn.started == []


def test_the_execution_name_is_step_functions_safe_and_short(rescoring: ModuleType) -> None:
    name = rescoring.rescore_name(PACKAGE, "b7" * 40)
    assert len(name) <= 80 and name.startswith("rescore-2-b7")
    assert all(c.isalnum() or c in "-_" for c in name)
