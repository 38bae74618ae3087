"""The monitoring stack on the local cloud: a pipeline event reaches the notification
topic as a readable line, and the alarms exist for what the other stacks expose."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from driftline_runtime import names

from driftline.actions import drop_file
from driftline.target import Target
from tests.e2e.conftest import wait_for


def delivery_policy(queue_arn: str, topic_arn: str) -> str:
    """The queue policy that lets SNS deliver the topic's messages, and only that topic's."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
                }
            ],
        }
    )


class TopicRecorder:
    """A queue subscribed to the notification topic with raw delivery."""

    def __init__(self, target: Target, topic_arn: str) -> None:
        self.sqs, self.sns = target.client("sqs"), target.client("sns")
        self.queue_url = self.sqs.create_queue(
            QueueName=f"driftline-test-notifications-{uuid.uuid4().hex[:8]}"
        )["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        # As on AWS, the topic may deliver only where the queue's policy lets it
        self.sqs.set_queue_attributes(
            QueueUrl=self.queue_url, Attributes={"Policy": delivery_policy(arn, topic_arn)}
        )
        self.subscription = self.sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=arn,
            Attributes={"RawMessageDelivery": "true"},
        )["SubscriptionArn"]
        self.seen: list[str] = []

    def wait_for(self, text: str, timeout: float = 60) -> str:
        def probe() -> str | None:
            for message in self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", []):
                self.seen.append(message["Body"])
            return next((body for body in self.seen if text in body), None)

        return wait_for(probe, timeout, f"a notification containing {text!r}", interval=0)

    def close(self) -> None:
        self.sns.unsubscribe(SubscriptionArn=self.subscription)
        self.sqs.delete_queue(QueueUrl=self.queue_url)


@pytest.fixture
def notifications(deployed: dict[str, str], target: Target) -> Iterator[TopicRecorder]:
    recorder = TopicRecorder(target, target.outputs("monitoring")["NotificationTopicArn"])
    try:
        yield recorder
    finally:
        recorder.close()


def test_a_rejected_file_is_announced_on_the_topic_in_words(
    notifications: TopicRecorder, target: Target, tmp_path: Path
) -> None:
    # Given a file with a header and no rows (unique content: the same content dropped
    # earlier would be a duplicate of that version, announced once)
    path = tmp_path / f"{uuid.uuid4().hex[:8]}-header-only.csv"
    path.write_text(f"transaction_id,note_{uuid.uuid4().hex}\n")
    # When it is dropped
    _, key, _ = drop_file(target, path, "transactions", "training")
    # Then the topic receives one readable line naming the file, the dataset and why
    message = notifications.wait_for(key)
    assert message.startswith(f'"driftline: file {key} was rejected for dataset transactions')
    assert "header_only" in message and "Report: s3://" in message


def test_every_function_queue_and_state_machine_has_an_alarm(
    deployed: dict[str, str], target: Target
) -> None:
    alarms: list[dict[str, Any]] = target.client("cloudwatch").describe_alarms(
        AlarmNamePrefix="driftline-dev-"
    )["MetricAlarms"]
    alarm_names = {a["AlarmName"] for a in alarms}
    topic = target.outputs("monitoring")["NotificationTopicArn"]
    assert {
        "driftline-dev-ingest-errors",
        "driftline-dev-training-executions-failed",
    } <= alarm_names
    assert "driftline-dev-ingest-failures-depth" in alarm_names
    # And every alarm notifies the topic, except the ones a deployment's guardrails watch
    # to roll a canary back (the rollback itself announces EndpointRolledBack)
    guardrails = tuple(f"-endpoint-{alarm}" for alarm in names.ENDPOINT_ALARMS)
    deployments = f"-endpoint-{names.ENDPOINT_QUALITY_ALARM}-"  # each deployment's own
    notifying = [
        a
        for a in alarms
        if not a["AlarmName"].endswith(guardrails) and deployments not in a["AlarmName"]
    ]
    assert len(notifying) < len(alarms)
    assert all(a["AlarmActions"] == [topic] for a in notifying), json.dumps(notifying, default=str)
