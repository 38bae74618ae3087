"""The retraining gate (functions/retraining_gate) over moto: one retraining per window.

The gate's logic is built with moto's clients; one test goes through the handler with
the event as EventBridge delivers it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import boto3
import pytest
from driftline_runtime.cooldown import CooldownGuard
from driftline_runtime.events import DriftDetected, ModelQualityDegraded
from driftline_runtime.lineage import LineageStore
from driftline_runtime.registry import ModelRegistry
from moto import mock_aws

LINEAGE, COOLDOWN, BUS = "lineage", "cooldown", "driftline-test"


class Context:
    function_name = "retraining-gate"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:retraining-gate"
    aws_request_id = "request"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def table(name: str, sort: str) -> None:
    boto3.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "dataset", "KeyType": "HASH"},
            {"AttributeName": sort, "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "dataset", "AttributeType": "S"},
            {"AttributeName": sort, "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def validated_version(version: str, created_at: str) -> None:
    boto3.resource("dynamodb").Table(LINEAGE).put_item(
        Item={
            "dataset": "transactions",
            "version": version,
            "kind": "training",
            "state": "validated",
            "rows": 100,
            "valid_rows": 100,
            "content_sha256": version,
            "contract_version": "1.0.0",
            "source_bucket": "raw",
            "source_key": f"transactions/{version}.csv",
            "source_version_id": None,
            "report_key": "r",
            "outputs": {},
            "created_at": created_at,
        }
    )


@pytest.fixture
def machine(aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with mock_aws():
        table(LINEAGE, "version")
        table(COOLDOWN, "sk")
        boto3.client("events").create_event_bus(Name=BUS)
        arn = boto3.client("stepfunctions").create_state_machine(
            name="training",
            definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
            roleArn="arn:aws:iam::123456789012:role/sfn",
        )["stateMachineArn"]
        for name, value in {
            "COOLDOWN_TABLE": COOLDOWN,
            "LINEAGE_TABLE": LINEAGE,
            "TRAINING_STATE_MACHINE_ARN": arn,
            "EVENT_BUS_NAME": BUS,
            "COOLDOWN_MINUTES": "60",
            "MODEL_PACKAGE_GROUP_PREFIX": "driftline-test",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }.items():
            monkeypatch.setenv(name, value)
        yield arn


def drift_event(event_id: str, version: str) -> dict[str, Any]:
    """A DriftDetected event as EventBridge delivers it to the gate."""
    return {
        "version": "0",
        "id": event_id,
        "time": "2026-11-01T10:00:00Z",
        "detail-type": DriftDetected.detail_type(),
        "source": DriftDetected.SOURCE,
        "account": "123456789012",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "dataset": "scoring",
            "version": version,
            "training_dataset": "transactions",
            "model_package_arn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/g/1",
            "scores": {"amount": 0.7},
            "drifted_features": ["amount"],
            "report_uri": f"s3://predictions/drift/scoring/{version}/run.json",
        },
    }


def executions(arn: str) -> list[dict[str, Any]]:
    sfn = boto3.client("stepfunctions")
    return [
        json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"])
        for e in sfn.list_executions(stateMachineArn=arn)["executions"]
    ]


def test_the_first_drift_retrains_on_the_newest_version_and_a_burst_is_held_back(
    machine: str, load_logic: Callable[[str, str], ModuleType]
) -> None:
    # Given two validated versions of the training dataset and the gate's logic
    validated_version("old", "2026-10-01T00:00:00+00:00")
    validated_version("new", "2026-10-02T00:00:00+00:00")
    module = load_logic("retraining_gate", "gate")
    guard = CooldownGuard(boto3.resource("dynamodb").Table(COOLDOWN))
    gate = module.RetrainingGate(
        module.Settings(
            cooldown_table=COOLDOWN,
            lineage_table=LINEAGE,
            training_state_machine_arn=machine,
            event_bus_name=BUS,
            cooldown_minutes=60,
            model_package_group_prefix="driftline-test",
        ),
        module.Services(
            guard=guard,
            lineage=LineageStore(boto3.resource("dynamodb").Table(LINEAGE)),
            sfn=boto3.client("stepfunctions"),
            events=boto3.client("events"),
            registry=ModelRegistry(boto3.client("sagemaker")),
        ),
    )
    now = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)

    def decide(event_id: str, version: str) -> Any:
        return gate.decide(
            module.RetrainingGateInput.model_validate(drift_event(event_id, version)), now
        )

    # When a drift arrives, the same event again, then two more drifted batches in the window
    first = decide("e-1", "batch-1")
    again = decide("e-1", "batch-1")
    later = [decide(f"e-{n}", f"batch-{n}") for n in (2, 3)]
    # Then one retraining started, on the newest version, and the burst was held back
    assert first.started and again.started
    assert again.execution == first.execution
    assert [result.started for result in later] == [False, False]
    assert [result.suppressed_count for result in later] == [1, 2]
    (request,) = executions(machine)
    assert request["dataset"] == "transactions" and request["version"] == "new"
    assert request["retraining"]["version"] == "batch-1"
    assert request["retraining"]["event_id"] == "e-1"
    suppressed = guard.suppressions("transactions")
    assert sorted(s["trigger"]["version"] for s in suppressed) == ["batch-2", "batch-3"]


def test_drift_with_nothing_to_retrain_on_fails_loudly(
    machine: str, load_function: Callable[[str], ModuleType]
) -> None:
    # Given the gate deployed (its handler, as the DriftDetected rule invokes it) and no
    # validated version of the training dataset yet
    gate = load_function("retraining_gate")
    # When drift arrives, then the gate fails (Lambda retries, then the failure queue)
    with pytest.raises(sys.modules["gate"].NothingToRetrainOn, match="no validated version"):
        gate.handler(drift_event("e-1", "batch-1"), Context())
    # A retry once data exists starts the retraining the first delivery claimed
    validated_version("v1", "2026-10-01T00:00:00+00:00")
    assert gate.handler(drift_event("e-1", "batch-1"), Context())["started"]
    assert len(executions(machine)) == 1


def test_the_drift_of_a_rescored_batch_asks_for_nothing_and_approvals_reach_the_rescoring(
    machine: str, load_function: Callable[[str], ModuleType]
) -> None:
    # Given the gate deployed, with data to retrain on
    validated_version("v1", "2026-10-01T00:00:00+00:00")
    gate = load_function("retraining_gate")
    # When the drift of a batch rescored for a new model arrives (its execution says so)
    event = drift_event("e-9", "batch-1")
    event["detail"]["execution"] = (
        "arn:aws:states:us-east-1:123456789012:execution:batch:rescore-2-batch-1-g"
    )
    decision = gate.handler(event, Context())
    # Then nothing starts and no window is taken: the batch's first run asked already
    assert decision["started"] is False and "rescored batch" in decision["ignored"]
    assert executions(machine) == []
    assert CooldownGuard(boto3.resource("dynamodb").Table(COOLDOWN)).window("transactions") is None
    # And a ModelRegistered event goes to the rescoring (off unless the stage says so)
    registered = {
        **drift_event("e-10", "batch-1"),
        "detail-type": "ModelRegistered",
        "source": "driftline.training",
        "detail": {
            "dataset": "transactions",
            "version": "v1",
            "model_package_arn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/g/2",
            "status": "Approved",
            "reason": "first model",
            "metrics": {"test:auc": 0.9},
            "training_job": "job",
            "execution": "arn:aws:states:us-east-1:123456789012:execution:training:x",
            "model_arn": "arn:aws:sagemaker:us-east-1:123456789012:model/m",
        },
    }
    assert gate.handler(registered, Context()) == {
        "rescored": [],
        "reason": "rescoring is off in this stage",
    }


def test_a_degraded_model_starts_a_retraining_that_says_why(
    machine: str, load_function: Callable[[str], ModuleType]
) -> None:
    # Given a validated training version and the gate as the quality rule invokes it
    validated_version("v1", "2026-10-01T00:00:00+00:00")
    gate = load_function("retraining_gate")
    event = {
        **drift_event("q-1", "batch-9"),
        "detail-type": ModelQualityDegraded.detail_type(),
        "source": ModelQualityDegraded.SOURCE,
        "detail": {
            "dataset": "scoring",
            "version": "batch-9",
            "training_dataset": "transactions",
            "model_package_arn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/g/1",
            "labelled_rows": 900,
            "metrics": {"auc": 0.71},
            "primary_metric": "auc",
            "reference_metric": 0.86,
            "quality_uri": "s3://predictions/quality/scoring/batch-9/run.json",
        },
    }
    # When ModelQualityDegraded arrives
    assert gate.handler(event, Context())["started"]
    # Then the retraining's request names the quality record as its trigger
    (request,) = executions(machine)
    assert request["retraining"]["trigger"] == "model_quality"
    assert request["retraining"]["report_uri"].startswith("s3://predictions/quality/")


def approve_champion(training_versions: str) -> None:
    """An approved champion of the transactions group that learned from those versions."""
    registry = ModelRegistry(boto3.client("sagemaker"))
    registry.ensure_group("driftline-test-transactions", "models")
    registry.register(
        group="driftline-test-transactions",
        status="Approved",
        description="champion",
        image="image",
        model_data_url="s3://artifacts/models/j/output/model.tar.gz",
        environment={},
        metrics={"test:auc": 0.86},
        lineage={
            "dataset_version": training_versions.split(",")[-1],
            "training_versions": training_versions,
        },
    )


def test_drift_with_nothing_new_since_the_champion_waits_for_labels(
    machine: str, load_function: Callable[[str], ModuleType]
) -> None:
    # Given a champion that learned from every validated version there is
    validated_version("v1", "2026-10-01T00:00:00+00:00")
    validated_version("v2", "2026-10-02T00:00:00+00:00")
    approve_champion("v1,v2")
    gate = load_function("retraining_gate")
    # When drift arrives (twice: a redelivery)
    first = gate.handler(drift_event("e-1", "batch-1"), Context())
    gate.handler(drift_event("e-1", "batch-1"), Context())
    # Then nothing starts (it would reproduce the champion): the request is recorded as
    # waiting for labels, once, and no cooldown window is taken
    assert first["started"] is False and first["waiting_for_labels"] is True
    assert executions(machine) == []
    items = boto3.resource("dynamodb").Table(COOLDOWN).scan()["Items"]
    assert [i["sk"] for i in items] == ["waiting#e-1"]
    assert items[0]["trigger"]["version"] == "batch-1"
    # When labelled data the champion never saw is validated, the next drift retrains
    validated_version("v3", "2026-10-03T00:00:00+00:00")
    second = gate.handler(drift_event("e-2", "batch-2"), Context())
    assert second["started"] is True
    (request,) = executions(machine)
    assert request["version"] == "v3"
