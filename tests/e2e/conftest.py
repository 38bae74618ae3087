"""End-to-end tests run against the local cloud, started once for the session.

The session starts the local cloud only if it is not running already, and then stops
it again in a ``finally``: CI starts from nothing and leaves nothing behind, while a
developer's running local cloud is reused and left as it was.
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from driftline import deploy
from driftline.localcloud import LocalCloud
from driftline.target import Target


def wait_for[T](
    probe: Callable[[], T | None], timeout: float, what: str, interval: float = 0.1
) -> T:
    """Poll ``probe`` until it returns something other than None, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


@pytest.fixture(scope="session")
def local_cloud() -> Iterator[LocalCloud]:
    cloud = LocalCloud()
    cloud.install()
    started_here = cloud.start()
    try:
        yield cloud
    finally:
        if started_here:
            cloud.stop()


@pytest.fixture(scope="session")
def target(local_cloud: LocalCloud) -> Target:
    return Target("local")


@pytest.fixture(scope="session")
def deployed(local_cloud: LocalCloud, target: Target) -> dict[str, str]:
    """The driftline app, deployed with the CDK CLI; returns the data stack's outputs."""
    deploy_once(local_cloud)
    return target.outputs("data")


@functools.cache
def deploy_once(cloud: LocalCloud) -> None:
    """One deployment per test process, however many suites' fixtures ask for it."""
    deploy.bootstrap_local(cloud)
    deploy.deploy(cloud)


class EventRecorder:
    """A queue subscribed to the project bus by a rule: the events a rule really delivered."""

    def __init__(self, target: Target, bus: str, sources: list[str]) -> None:
        self.sqs = target.client("sqs")
        self.events = target.client("events")
        self.bus = bus
        self.name = f"driftline-test-recorder-{uuid.uuid4().hex[:8]}"
        self.queue_url = self.sqs.create_queue(QueueName=self.name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.events.put_rule(
            Name=self.name,
            EventBusName=bus,
            EventPattern=json.dumps({"source": sources}),
        )
        self.events.put_targets(
            Rule=self.name, EventBusName=bus, Targets=[{"Id": "recorder", "Arn": arn}]
        )
        self.seen: list[dict[str, Any]] = []

    def wait_for(
        self,
        detail_type: str | tuple[str, ...],
        source_key: str,
        timeout: float = 60,
        key: str = "source_key",
    ) -> dict[str, Any]:
        """The first recorded event of ``detail_type`` (or any of several) whose detail
        has ``key`` equal to ``source_key``."""
        wanted = (detail_type,) if isinstance(detail_type, str) else detail_type

        def probe() -> dict[str, Any] | None:
            messages = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", [])
            for message in messages:
                self.seen.append(json.loads(message["Body"]))
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
            for event in self.seen:
                if event["detail-type"] in wanted and event["detail"].get(key) == source_key:
                    return event
            return None

        return wait_for(probe, timeout, f"{detail_type} with {key}={source_key}", interval=0)

    def close(self) -> None:
        self.events.remove_targets(Rule=self.name, EventBusName=self.bus, Ids=["recorder"])
        self.events.delete_rule(Name=self.name, EventBusName=self.bus)
        self.sqs.delete_queue(QueueUrl=self.queue_url)


@pytest.fixture
def recorder(deployed: dict[str, str], target: Target) -> Iterator[EventRecorder]:
    recording = EventRecorder(target, deployed["EventBusName"], ["driftline.ingest"])
    try:
        yield recording
    finally:
        recording.close()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int) -> None:
    if exitstatus != 0 and terminalreporter.stats.get("failed"):
        terminalreporter.section("local cloud log (last lines)")
        terminalreporter.write_line(LocalCloud().log_tail(80))
