"""The reliability suite: load, duplicates, faults and hostile input on the local cloud.

It shares the end-to-end suite's session fixtures (one local cloud, one deployment per
test process) and adds what its checks need: the pipeline's stores read back per
object, the ingest function's REPORT lines, and the figures the suite reports. Each
test records its figures; at the end of the session they are printed and written to
``.cache/reliability/figures.md`` and ``figures.json``.

Waits are bounded polls (``wait_for``); nothing waits a fixed time for correctness.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, unquote_plus

import pytest

from driftline.localcloud import LocalCloud
from driftline.target import Target
from tests.e2e import conftest as e2e
from tests.e2e.conftest import EventRecorder, wait_for

ROOT = Path(__file__).resolve().parents[2]
FIGURES = ROOT / ".cache" / "reliability"
REPORT_LINE = re.compile(r"REPORT RequestId: (?P<request>\S+)\tDuration: (?P<duration>[\d.]+) ms")
# Absent when the process died mid-invocation (crash, timeout): nobody measured it.
MAX_MEMORY = re.compile(r"Max Memory Used: (?P<memory>\d+) MB")
RELIABILITY = Path(__file__).resolve().parent

# The end-to-end suite's session fixtures: one local cloud and one deployment per run.
local_cloud = e2e.local_cloud
target = e2e.target
deployed = e2e.deployed
recorder = e2e.recorder


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if RELIABILITY in item.path.parents:
            item.add_marker(pytest.mark.reliability)


# -- figures ----------------------------------------------------------------------------


@dataclass
class Figures:
    """What the suite measured, section by section, in the order the tests ran."""

    sections: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def add(self, section: str, name: str, value: object) -> None:
        self.sections.setdefault(section, []).append((name, str(value)))

    def markdown(self) -> str:
        lines: list[str] = []
        for section, rows in self.sections.items():
            lines += [f"{section}:"]
            width = max(len(name) for name, _ in rows)
            lines += [f"  {name:<{width}}  {value}" for name, value in rows]
        return "\n".join(lines)


FIGURES_OF_SESSION = Figures()


@pytest.fixture(scope="session")
def figures() -> Figures:
    return FIGURES_OF_SESSION


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int) -> None:
    if not FIGURES_OF_SESSION.sections:
        return
    text = FIGURES_OF_SESSION.markdown()
    FIGURES.mkdir(parents=True, exist_ok=True)
    (FIGURES / "figures.md").write_text(text + "\n")
    (FIGURES / "figures.json").write_text(json.dumps(FIGURES_OF_SESSION.sections, indent=2))
    terminalreporter.section("reliability figures")
    terminalreporter.write_line(text)


# -- the pipeline, read back --------------------------------------------------------------


@dataclass(frozen=True)
class Invocation:
    request_id: str
    duration_ms: float
    max_memory_mb: int | None
    status: str | None  # the ingestion's outcome, from its "Ingested" log line


class Pipeline:
    """The deployed data stack seen from outside: drop, read the stores and the logs."""

    def __init__(self, target: Target, outputs: dict[str, str], cloud: LocalCloud) -> None:
        self.target = target
        self.cloud = cloud
        self.outputs = outputs
        self.s3 = target.client("s3")
        self.raw = outputs["RawBucketName"]
        self.curated = outputs["CuratedBucketName"]
        self.quarantine = outputs["QuarantineBucketName"]
        self.function = outputs["IngestFunctionName"]
        self.lineage = target.resource("dynamodb").Table(outputs["LineageTableName"])
        configuration = target.client("lambda").get_function_configuration(
            FunctionName=self.function
        )
        self.idempotency = target.resource("dynamodb").Table(
            configuration["Environment"]["Variables"]["IDEMPOTENCY_TABLE"]
        )

    @staticmethod
    def salt() -> str:
        """4 hex digits: transaction ids stay valid, and content never repeats a run's."""
        return uuid.uuid4().hex[:4]

    def drop(self, key: str, body: bytes) -> str:
        """Upload ``body`` to the raw bucket at ``key``; returns the S3 version id."""
        version: str = self.s3.put_object(Bucket=self.raw, Key=key, Body=body).get("VersionId", "")
        return version

    def s3_event(self, key: str, version_id: str, size: int) -> dict[str, Any]:
        """The notification S3 sends for ``key`` (the key URL-encoded, as S3 does)."""
        return {
            "Records": [
                {
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Put",
                    "eventTime": "2026-11-01T10:00:00.000Z",
                    "s3": {
                        "bucket": {"name": self.raw},
                        "object": {"key": quote_plus(key), "size": size, "versionId": version_id},
                    },
                }
            ]
        }

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        """Invoke the ingest function synchronously, as a redelivery would run it."""
        response = self.target.client("lambda").invoke(
            FunctionName=self.function, Payload=json.dumps(event).encode()
        )
        result: dict[str, Any] = json.loads(response["Payload"].read())
        assert "FunctionError" not in response, result
        return result

    def records(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"ConsistentRead": True}
        while True:
            page = self.lineage.scan(**kwargs)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def records_of(self, keys: set[str]) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {key: [] for key in keys}
        for item in self.records():
            if item["source_key"] in found:
                found[item["source_key"]].append(item)
        return found

    def wait_for_records(self, keys: set[str], timeout: float) -> dict[str, list[dict[str, Any]]]:
        """The lineage records of every key in ``keys``, once each key has one."""

        def probe() -> dict[str, list[dict[str, Any]]] | None:
            found = self.records_of(keys)
            return found if all(found.values()) else None

        return wait_for(probe, timeout, f"lineage records for {len(keys)} objects", interval=0.5)

    def wait_until_published(
        self, records: dict[str, list[dict[str, Any]]], timeout: float
    ) -> None:
        """Until every validated version among ``records`` has had its event published."""
        keys = {key for key, found in records.items() if found[0]["state"] == "validated"}

        def probe() -> bool | None:
            found = self.records_of(keys)
            return all(f[0].get("event_published") for f in found.values()) or None

        wait_for(probe, timeout, f"the DatasetValidated events of {len(keys)} objects", 0.5)

    def read_json(self, uri: str) -> dict[str, Any]:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        return dict(json.loads(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()))

    def raw_exists(self, key: str, version_id: str) -> bool:
        self.s3.head_object(Bucket=self.raw, Key=key, VersionId=version_id)
        return True

    # -- the function's logs -----------------------------------------------------------
    def log_lines(self, since_ms: int) -> list[str]:
        logs = self.target.client("logs")
        lines: list[str] = []
        kwargs: dict[str, Any] = {"logGroupName": f"/aws/lambda/{self.function}"}
        kwargs["startTime"] = since_ms
        while True:
            page = logs.filter_log_events(**kwargs)
            lines += [event["message"] for event in page["events"]]
            token = page.get("nextToken")
            if not token or not page["events"]:
                return lines
            kwargs["nextToken"] = token

    def invocations(self, since_ms: int) -> dict[str, list[Invocation]]:
        """Per object key, the ingest invocations that logged an outcome for it."""
        lines = self.log_lines(since_ms)
        reports: dict[str, tuple[float, int | None]] = {}
        outcomes: dict[str, list[tuple[str, str]]] = {}
        for line in lines:
            if match := REPORT_LINE.search(line):
                memory = MAX_MEMORY.search(line)
                reports[match.group("request")] = (
                    float(match.group("duration")),
                    int(memory.group("memory")) if memory else None,
                )
            elif '"message":"Ingested"' in line:
                record = json.loads(line)
                # The correlation id is the key as the event carried it: URL-encoded.
                outcomes.setdefault(unquote_plus(record["correlation_id"]), []).append(
                    (record["function_request_id"], record["status"])
                )
        found: dict[str, list[Invocation]] = {}
        for key, runs in outcomes.items():
            for request, status in runs:
                duration, peak = reports.get(request, (0.0, None))
                found.setdefault(key, []).append(Invocation(request, duration, peak, status))
        return found


def drain(recorder: EventRecorder) -> list[dict[str, Any]]:
    """Everything the recorder's queue holds now, added to (and returned as) its ``seen``."""
    while True:
        messages = recorder.sqs.receive_message(
            QueueUrl=recorder.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", [])
        for message in messages:
            recorder.seen.append(json.loads(message["Body"]))
            recorder.sqs.delete_message(
                QueueUrl=recorder.queue_url, ReceiptHandle=message["ReceiptHandle"]
            )
        if not messages:
            return recorder.seen


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture(scope="session")
def pipeline(deployed: dict[str, str], target: Target, local_cloud: LocalCloud) -> Pipeline:
    return Pipeline(target, deployed, local_cloud)


@pytest.fixture
def training_recorder(
    deployed: dict[str, str],
    target: Target,
) -> Iterator[EventRecorder]:
    recording = EventRecorder(target, deployed["EventBusName"], ["driftline.training"])
    try:
        yield recording
    finally:
        recording.close()
