"""The local cloud's registry events (driftline_localcloud.sagemaker.registry_events): a
model package's state change as SageMaker puts it on the default bus, delivered by a
rule that matches it as the deployment rule does, and a failure that never fails the call.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT, REGION = "123456789012", "us-east-1"
GROUP = "driftline-test-transactions"
ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{GROUP}/3"
CREATED = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def registry_events() -> ModuleType:
    sys.path.insert(0, str(ROOT / "local"))
    try:
        return importlib.import_module("driftline_localcloud.sagemaker.registry_events")
    finally:
        sys.path.remove(str(ROOT / "local"))


def package(status: str, group: str = GROUP) -> dict[str, Any]:
    return {
        "ModelPackageGroupName": group,
        "ModelPackageVersion": 3,
        "ModelPackageArn": ARN.replace(GROUP, group),
        "CreationTime": CREATED,
        "LastModifiedTime": CREATED,
        "ModelPackageStatus": "Completed",
        "ModelApprovalStatus": status,
        "CustomerMetadataProperties": {"training_job": "dl-test-transactions-1"},
        "InferenceSpecification": {"Containers": [{"Image": "sklearn"}]},
    }


@pytest.fixture
def delivered(aws_credentials: None) -> Iterator[tuple[Any, Any, str]]:
    """A queue that a rule on the default bus fills with the approvals of the stage's
    groups (the deployment rule's pattern)."""
    with mock_aws():
        events, sqs = boto3.client("events"), boto3.client("sqs")
        url = sqs.create_queue(QueueName="approvals")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events.put_rule(
            Name="approvals",
            EventPattern=json.dumps(
                {
                    "source": ["aws.sagemaker"],
                    "detail-type": ["SageMaker Model Package State Change"],
                    "detail": {
                        "ModelApprovalStatus": ["Approved"],
                        "ModelPackageGroupName": [{"prefix": "driftline-test-"}],
                    },
                }
            ),
        )
        events.put_targets(Rule="approvals", Targets=[{"Id": "queue", "Arn": arn}])
        yield events, sqs, url


def received(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


def test_the_entry_is_sagemakers_state_change_with_the_description_as_detail(
    registry_events: ModuleType,
) -> None:
    # Given an approved package's description
    # When its state change is built
    entry = registry_events.state_change_entry(package("Approved"))
    # Then it goes to the default bus from aws.sagemaker, names the package as its
    # resource, and carries the description with times in epoch milliseconds
    assert entry["EventBusName"] == "default"
    assert (entry["Source"], entry["DetailType"]) == (
        "aws.sagemaker",
        "SageMaker Model Package State Change",
    )
    assert entry["Resources"] == [ARN]
    detail = json.loads(entry["Detail"])
    assert detail["ModelPackageArn"] == ARN
    assert detail["ModelApprovalStatus"] == "Approved"
    assert detail["ModelPackageVersion"] == 3
    assert detail["CreationTime"] == int(CREATED.timestamp() * 1000)
    assert detail["CustomerMetadataProperties"]["training_job"] == "dl-test-transactions-1"


def test_an_approval_of_the_stages_group_is_delivered_and_others_are_not(
    registry_events: ModuleType, delivered: tuple[Any, Any, str]
) -> None:
    events, sqs, url = delivered
    # Given a rejection, another stage's approval and this stage's approval
    for description in (
        package("Rejected"),
        package("Approved", group="driftline-prod-transactions"),
        package("Approved"),
    ):
        # When each is announced
        assert registry_events.announce(description, ACCOUNT, REGION, lambda a, r: events)
    # Then the rule delivers only this stage's approval, as SageMaker's event
    (event,) = received(sqs, url)
    assert event["source"] == "aws.sagemaker"
    assert event["detail-type"] == "SageMaker Model Package State Change"
    assert event["detail"]["ModelPackageArn"] == ARN


def test_a_failure_to_put_the_event_is_logged_and_not_raised(
    registry_events: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    # Given EventBridge that fails, and one that refuses the entry
    class Down:
        def put_events(self, **_: Any) -> dict[str, Any]:
            raise ConnectionError("EventBridge is not running")

    class Refusing:
        def put_events(self, **_: Any) -> dict[str, Any]:
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure"}]}

    with caplog.at_level(logging.ERROR):
        # When a package's state change is announced to each
        down = registry_events.announce(package("Approved"), ACCOUNT, REGION, lambda a, r: Down())
        refused = registry_events.announce(
            package("Approved"), ACCOUNT, REGION, lambda a, r: Refusing()
        )
    # Then neither raises, both say so, and the log names the package and why
    assert (down, refused) == (False, False)
    assert "EventBridge is not running" in caplog.text
    assert "InternalFailure" in caplog.text
    assert ARN in caplog.text
