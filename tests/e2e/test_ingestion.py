"""Ingestion on the local cloud: contracts decide, outputs and events follow, nothing is lost."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from driftline_runtime.reasons import Reason, summary

from driftline.actions import drop_file
from driftline.cli import main
from driftline.status import datasets as dataset_versions
from driftline.target import Target
from tests.e2e.conftest import EventRecorder, wait_for

pytestmark = pytest.mark.e2e

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def read_json(target: Target, uri: str) -> dict[str, Any]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return dict(json.loads(target.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()))


def unique_copy(tmp_path: Path, source: Path, name: str) -> Path:
    """The sample with fresh transaction ids: new content, so a new dataset version."""
    rows = list(csv.DictReader(io.StringIO(source.read_text())))
    salt = uuid.uuid4().hex[:4]
    for row in rows:
        row["transaction_id"] = f"t-{salt}{row['transaction_id'][6:]}"
    path = tmp_path / name
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_good_file_becomes_a_dataset_version(
    deployed: dict[str, str], target: Target, recorder: EventRecorder, tmp_path: Path
) -> None:
    # Given a valid training file
    path = unique_copy(tmp_path, SAMPLES / "transactions.csv", "good.csv")
    # When it is dropped
    _, key, _ = drop_file(target, path, "transactions", "training")
    # Then a DatasetValidated event says where the curated data and manifest are
    event = recorder.wait_for("DatasetValidated", key)["detail"]
    manifest = read_json(target, event["manifest_uri"])
    assert manifest["version"] == event["version"]
    assert manifest["rows"] == event["rows"] > 0
    assert manifest["source"]["key"] == key
    bucket, _, data_key = event["data_uri"].removeprefix("s3://").partition("/")
    assert target.client("s3").head_object(Bucket=bucket, Key=data_key)["ContentLength"] > 0
    # And status lists the version
    versions = {d["version"]: d for d in dataset_versions(target)}
    assert versions[event["version"]]["state"] == "validated"


def test_bad_file_is_quarantined_with_a_report_naming_the_rules(
    deployed: dict[str, str], target: Target, recorder: EventRecorder, tmp_path: Path
) -> None:
    path = unique_copy(tmp_path, SAMPLES / "transactions.csv", "bad.csv")
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    for row in rows[:300]:
        row["currency"] = "XXX"
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    _, key, version = drop_file(target, path, "transactions", "training")
    event = recorder.wait_for("DatasetRejected", key)["detail"]
    report = read_json(target, event["report_uri"])
    failed = {r["rule"]: r["failed"] for r in report["validation"]["rules"]}
    assert failed["currency.allowed_values"] == 300
    # The event names the rule that rejected the file, with its numbers
    reasons = [Reason.model_validate(r) for r in event["reasons"]]
    (share,) = [r for r in reasons if r.code == "table.max_bad_row_share"]
    assert share.details["bad_rows"] >= 300  # type: ignore[operator]
    assert "currency.allowed_values" in share.details["rules"]  # type: ignore[operator]
    assert event["summary"] == summary(reasons)
    # The original is quarantined and also still where it was dropped
    quarantined = event["quarantine_uri"].removeprefix("s3://").partition("/")
    target.client("s3").head_object(Bucket=quarantined[0], Key=quarantined[2])
    target.client("s3").head_object(Bucket=deployed["RawBucketName"], Key=key, VersionId=version)


def test_same_file_twice_is_one_version(
    deployed: dict[str, str], target: Target, recorder: EventRecorder, tmp_path: Path
) -> None:
    path = unique_copy(tmp_path, SAMPLES / "transactions.csv", "twice.csv")
    _, first_key, _ = drop_file(target, path, "transactions", "training")
    version = recorder.wait_for("DatasetValidated", first_key)["detail"]["version"]
    _, second_key, _ = drop_file(target, path, "transactions", "training")

    def second_handled() -> bool | None:
        logs = target.client("logs").filter_log_events(
            logGroupName=f"/aws/lambda/{deployed['IngestFunctionName']}",
            filterPattern=f'"{second_key}"',
        )["events"]
        return True if any('"duplicate"' in e["message"] for e in logs) else None

    wait_for(second_handled, 60, f"the ingest function to handle {second_key}")
    matching = [d for d in dataset_versions(target) if d["version"] == version]
    assert len(matching) == 1
    assert matching[0]["source_key"] == first_key


@pytest.mark.parametrize(
    ("name", "body", "reason"),
    [
        ("not-csv.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "not_text"),
        ("empty.csv", b"", "empty_file"),
        ("header-only.csv", b"transaction_id,event_time,amount\r\n", "header_only"),
        ("latin1.csv", "transaction_id,city\nt-1,Müller\n".encode("latin-1"), "not_utf8"),
    ],
)
def test_corrupt_file_gets_a_specific_reason_and_is_kept(
    deployed: dict[str, str], target: Target, tmp_path: Path, name: str, body: bytes, reason: str
) -> None:
    # Given a file that is not a readable table
    path = tmp_path / name
    path.write_bytes(body)
    # When it is dropped
    _, key, version = drop_file(target, path, "transactions", None)
    # Then its version is rejected with a specific reason: a version named by its content
    # (found even if an earlier run dropped the same bytes), or, for a zero-byte object,
    # which no content can name, by the object itself
    content_version = hashlib.sha256(body).hexdigest()[:16]

    def rejected() -> dict[str, Any] | None:
        for dataset in dataset_versions(target):
            ours = dataset["source_key"] == key or dataset["version"] == content_version
            if ours and dataset["state"] == "rejected":
                return dict(dataset)
        return None

    record = wait_for(rejected, 60, f"the rejection of {name}")
    assert record["rejection_reasons"][0]["code"] == reason, record["reasons"]
    assert record["reasons"][0].startswith(f"{reason}: ")
    # And the original is still where it was dropped
    target.client("s3").head_object(Bucket=deployed["RawBucketName"], Key=key, VersionId=version)


def test_status_json_has_the_stable_shape(
    deployed: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert set(facts) >= {"datasets", "executions", "models", "drift_events"}
    for dataset in facts["datasets"]:
        assert set(dataset) >= {
            "dataset",
            "kind",
            "version",
            "state",
            "rows",
            "source_key",
            "report_key",
        }
