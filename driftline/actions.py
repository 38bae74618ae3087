"""What the CLI, the demo, the tests and the benchmarks do to the pipeline: drop files,
start state machines by hand, and wait — always with a deadline — for outcomes."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from driftline_runtime import names

from driftline import status as status_of
from driftline.errors import DriftlineError, PreconditionFailed
from driftline.target import Target


class CommandError(DriftlineError):
    """An action failed or did not happen in time; the message says which and why."""


def wait_until[T](
    probe: Callable[[], T | None], timeout: float, what: str, interval: float = 0.5
) -> T:
    """Poll ``probe`` until it returns something other than None; CommandError after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise CommandError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(interval)


def raw_key(dataset: str, path: Path, now: datetime) -> str:
    """Where a dropped file goes in the raw bucket: ``<dataset>/<UTC time>-<file name>``."""
    return f"{dataset}/{now:%Y%m%dT%H%M%S%fZ}-{path.name}"


def drop_file(target: Target, path: Path, dataset: str, kind: str | None) -> tuple[str, str, str]:
    """Upload ``path`` to the raw bucket under ``<dataset>/``; returns bucket, key, version."""
    if not path.is_file():
        raise PreconditionFailed(f"{path} is not a file", "Check the path.", code="file_missing")
    if not dataset or "/" in dataset:
        raise CommandError(f"Dataset name {dataset!r} must be non-empty and contain no '/'")
    bucket = target.outputs(names.DATA_STACK)[names.RAW_BUCKET_OUTPUT]
    key = raw_key(dataset, path, datetime.now(UTC))
    metadata = {"driftline-kind": kind} if kind else {}
    with path.open("rb") as body:
        response = target.client("s3").put_object(
            Bucket=bucket, Key=key, Body=body, Metadata=metadata
        )
    return bucket, key, response.get("VersionId", "")


def wait_for_version(target: Target, key: str, timeout: float = 120) -> dict[str, Any]:
    """Bounded wait until the dropped object ``key`` became a dataset version."""

    def probe() -> dict[str, Any] | None:
        return next((d for d in status_of.datasets(target) if d["source_key"] == key), None)

    return wait_until(probe, timeout, f"ingesting {key}", interval=0.2)


def latest_validated(target: Target, dataset: str) -> str:
    versions = [
        d
        for d in status_of.datasets(target)
        if d["dataset"] == dataset and d["state"] == "validated"
    ]
    if not versions:
        raise PreconditionFailed(
            f"No validated version of {dataset!r} yet",
            f"Drop a file first: `driftline drop FILE --dataset {dataset}`, or name one with "
            "--version.",
            code="no_validated_version",
        )
    return str(versions[-1]["version"])


def start_execution(target: Target, output: str, request: dict[str, Any]) -> str:
    arn = target.outputs(names.PIPELINE_STACK)[output]
    execution = target.client("stepfunctions").start_execution(
        stateMachineArn=arn, input=json.dumps(request)
    )
    return str(execution["executionArn"])


def start_training(target: Target, dataset: str, version: str | None) -> str:
    """Start the training state machine by hand; the latest validated version by default."""
    request = {"dataset": dataset, "version": version or latest_validated(target, dataset)}
    return start_execution(target, names.TRAINING_STATE_MACHINE_OUTPUT, request)


def start_inference(target: Target, dataset: str, version: str | None) -> str:
    """Start batch inference by hand; the latest validated version by default."""
    request = {"dataset": dataset, "version": version or latest_validated(target, dataset)}
    return start_execution(target, names.BATCH_INFERENCE_STATE_MACHINE_OUTPUT, request)


def wait_for_model(target: Target, dataset_version: str, timeout: float = 300) -> dict[str, Any]:
    """Bounded wait until a model trained on ``dataset_version`` is in the registry."""
    prefix = target.outputs(names.PIPELINE_STACK)[names.MODEL_PACKAGE_GROUP_PREFIX_OUTPUT]

    def probe() -> dict[str, Any] | None:
        models = status_of.models(target, prefix)
        return next((m for m in models if m["dataset_version"] == dataset_version), None)

    return wait_until(probe, timeout, f"a model trained on version {dataset_version}", 1.0)


def _finished(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    done = [r for r in runs if r["status"] != "RUNNING"]
    return done[-1] if done else None


def wait_for_inference(target: Target, version: str, timeout: float = 300) -> dict[str, Any]:
    """Bounded wait until the batch inference run of a dataset version has finished."""
    arn = target.outputs(names.PIPELINE_STACK)[names.BATCH_INFERENCE_STATE_MACHINE_OUTPUT]

    def probe() -> dict[str, Any] | None:
        described = status_of.executions(target, arn, "batch_inference", described=True)
        runs = status_of.inference_runs(described)
        return _finished([r for r in runs if r["version"] == version])

    return wait_until(probe, timeout, f"the batch inference run of version {version}", 1.0)


def wait_for_retraining(
    target: Target, trigger_version: str, timeout: float = 300
) -> dict[str, Any]:
    """Bounded wait until the retraining that drift in ``trigger_version`` started has finished."""
    arn = target.outputs(names.PIPELINE_STACK)[names.TRAINING_STATE_MACHINE_OUTPUT]

    def probe() -> dict[str, Any] | None:
        described = status_of.executions(target, arn, "training", described=True)
        found = status_of.retrainings(described)
        return _finished([r for r in found if r["trigger_version"] == trigger_version])

    return wait_until(probe, timeout, f"a retraining started by drift in {trigger_version}", 1.0)


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

    def poll(self) -> list[dict[str, Any]]:
        """Take what the queue holds now (waiting up to a second) into ``seen``."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            AttributeNames=["SentTimestamp"],
        ).get("Messages", [])
        for message in messages:
            event = json.loads(message["Body"])
            # When the rule delivered it to the queue (epoch seconds), for latencies.
            event["queued"] = int(message["Attributes"]["SentTimestamp"]) / 1000
            self.seen.append(event)
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return self.seen

    def wait_until(
        self, matches: Callable[[dict[str, Any]], bool], timeout: float, what: str
    ) -> dict[str, Any]:
        """The first recorded event for which ``matches`` is true, polling until ``timeout``."""

        def probe() -> dict[str, Any] | None:
            return next((event for event in self.poll() if matches(event)), None)

        return wait_until(probe, timeout, what, interval=0)

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
        return self.wait_until(
            lambda event: event["detail-type"] in wanted and event["detail"].get(key) == source_key,
            timeout,
            f"{detail_type} with {key}={source_key}",
        )

    def close(self) -> None:
        self.events.remove_targets(Rule=self.name, EventBusName=self.bus, Ids=["recorder"])
        self.events.delete_rule(Name=self.name, EventBusName=self.bus)
        self.sqs.delete_queue(QueueUrl=self.queue_url)
