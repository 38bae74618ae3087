"""The ingest function on moto: contract verdicts, outputs, events and exactly-once effect."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pyarrow.parquet as pq
import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "transactions.csv"
RAW, CURATED, QUARANTINE = "raw", "curated", "quarantine"
BUS, LINEAGE, IDEMPOTENCY = "driftline-test", "lineage", "idempotency"


@dataclass
class FakeContext:
    function_name: str = "driftline-test-ingest"
    memory_limit_in_mb: int = 1769
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:ingest"
    aws_request_id: str = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


class Cloud:
    """moto-backed buckets, tables and bus, plus a queue that records the bus's events."""

    def __init__(self) -> None:
        self.s3 = boto3.client("s3")
        for bucket in (RAW, CURATED, QUARANTINE):
            self.s3.create_bucket(Bucket=bucket)
        self.s3.put_bucket_versioning(Bucket=RAW, VersioningConfiguration={"Status": "Enabled"})
        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(
            TableName=LINEAGE,
            KeySchema=[
                {"AttributeName": "dataset", "KeyType": "HASH"},
                {"AttributeName": "version", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "dataset", "AttributeType": "S"},
                {"AttributeName": "version", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.create_table(
            TableName=IDEMPOTENCY,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        events = boto3.client("events")
        events.create_event_bus(Name=BUS)
        sqs = boto3.client("sqs")
        self.queue_url = sqs.create_queue(QueueName="recorded-events")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events.put_rule(
            Name="record-all",
            EventBusName=BUS,
            EventPattern=json.dumps({"source": [{"prefix": ""}]}),
        )
        events.put_targets(
            Rule="record-all", EventBusName=BUS, Targets=[{"Id": "queue", "Arn": queue_arn}]
        )

    def drop(self, key: str, body: bytes) -> dict[str, Any]:
        response = self.s3.put_object(Bucket=RAW, Key=key, Body=body)
        return {
            "Records": [
                {
                    "eventTime": "2026-11-01T10:00:00.000Z",
                    "s3": {
                        "bucket": {"name": RAW},
                        "object": {
                            "key": key.replace(" ", "+"),
                            "size": len(body),
                            "versionId": response["VersionId"],
                        },
                    },
                }
            ]
        }

    def events(self) -> list[dict[str, Any]]:
        messages = (
            boto3.client("sqs")
            .receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            .get("Messages", [])
        )
        return [json.loads(m["Body"]) for m in messages]

    def lineage(self) -> list[dict[str, Any]]:
        return list(boto3.resource("dynamodb").Table(LINEAGE).scan()["Items"])

    def keys(self, bucket: str) -> list[str]:
        return sorted(o["Key"] for o in self.s3.list_objects_v2(Bucket=bucket).get("Contents", []))

    def read_json(self, bucket: str, key: str) -> dict[str, Any]:
        return dict(json.loads(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()))


@pytest.fixture
def cloud(aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cloud]:
    for name, value in {
        "CURATED_BUCKET": CURATED,
        "QUARANTINE_BUCKET": QUARANTINE,
        "LINEAGE_TABLE": LINEAGE,
        "IDEMPOTENCY_TABLE": IDEMPOTENCY,
        "EVENT_BUS_NAME": BUS,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "driftline",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield Cloud()


@pytest.fixture
def handler(cloud: Cloud, load_function: Callable[[str], ModuleType]) -> ModuleType:
    return load_function("ingest")


def invoke(handler: ModuleType, event: dict[str, Any]) -> dict[str, Any]:
    outcomes: list[dict[str, Any]] = handler.handler(event, FakeContext())["outcomes"]
    assert len(outcomes) == 1
    return outcomes[0]


def with_bad_amounts(share: float) -> bytes:
    """The sample with the first ``share`` of its rows given a negative amount."""
    rows = list(csv.DictReader(io.StringIO(SAMPLE.read_text())))
    for row in rows[: int(len(rows) * share)]:
        row["amount"] = "-12.5"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def test_good_file_becomes_a_curated_version_with_manifest_lineage_and_event(
    cloud: Cloud, handler: ModuleType
) -> None:
    # Given the sample training file dropped under its dataset
    event = cloud.drop("transactions/2026-11/sample file.csv", SAMPLE.read_bytes())
    # When the function handles the event
    outcome = invoke(handler, event)
    # Then it is validated as a new version
    assert outcome["status"] == "validated"
    version = outcome["version"]
    manifest = cloud.read_json(CURATED, f"manifests/transactions/{version}.json")
    assert manifest["source"]["key"] == "transactions/2026-11/sample file.csv"
    assert manifest["contract_version"] == "1.0.0"
    data_key = manifest["data_uri"].removeprefix(f"s3://{CURATED}/")
    # partitioned by the date S3 saw the object arrive (the event time), not by "now"
    assert data_key.startswith("curated/transactions/ingest_date=2026-11-01/")
    table = pq.read_table(
        io.BytesIO(cloud.s3.get_object(Bucket=CURATED, Key=data_key)["Body"].read())
    )
    assert table.num_rows == manifest["rows"] > 0
    assert table.column_names[:2] == ["transaction_id", "event_time"]
    # And lineage and the bus know about it
    (record,) = cloud.lineage()
    assert record["state"] == "validated" and record["event_published"] is True
    (bus_event,) = cloud.events()
    assert bus_event["detail-type"] == "DatasetValidated"
    assert bus_event["source"] == "driftline.ingest"
    assert bus_event["detail"]["version"] == version
    assert bus_event["detail"]["kind"] == "training"
    # And the original stays in raw, untouched
    assert cloud.keys(RAW) == ["transactions/2026-11/sample file.csv"]
    assert cloud.keys(QUARANTINE) == []


def test_file_breaking_the_contract_is_quarantined_with_a_report(
    cloud: Cloud, handler: ModuleType
) -> None:
    # Given a file where a fifth of the rows have negative amounts (limit: 5 %)
    event = cloud.drop("transactions/bad.csv", with_bad_amounts(0.2))
    outcome = invoke(handler, event)
    # Then it is rejected, with the reason naming the share of bad rows
    assert outcome["status"] == "rejected"
    folder = f"transactions/{outcome['version']}"
    assert cloud.keys(QUARANTINE) == [f"{folder}/bad.csv", f"{folder}/report.json"]
    report = cloud.read_json(QUARANTINE, f"{folder}/report.json")
    assert report["outcome"] == "rejected"
    rules = {r["rule"]: r for r in report["validation"]["rules"]}
    assert rules["amount.gt"]["failed"] == 400
    assert rules["amount.gt"]["examples"][0]["row"] == 1
    (bus_event,) = cloud.events()
    assert bus_event["detail-type"] == "DatasetRejected"
    assert bus_event["detail"]["reasons"] == outcome["reasons"]
    assert cloud.keys(RAW) == ["transactions/bad.csv"]


def test_a_few_bad_rows_are_dropped_under_the_datasets_policy(
    cloud: Cloud, handler: ModuleType
) -> None:
    # Given 1 % bad rows where the transactions dataset drops up to 5 %
    outcome = invoke(handler, cloud.drop("transactions/mostly-good.csv", with_bad_amounts(0.01)))
    assert outcome["status"] == "validated"
    manifest = cloud.read_json(CURATED, f"manifests/transactions/{outcome['version']}.json")
    assert manifest["dropped_rows"] == 20
    assert manifest["rows"] == 1980


def with_extra_columns(**extras: str) -> bytes:
    """The sample with added columns, each a copy of an existing column."""
    rows = list(csv.DictReader(io.StringIO(SAMPLE.read_text())))
    for row in rows:
        row.update({name: row[source] for name, source in extras.items()})
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def test_undeclared_columns_are_accepted_recorded_and_left_out_of_the_curated_data(
    cloud: Cloud, handler: ModuleType
) -> None:
    # Given a training file that also carries a copy of the label and another model's
    # score, neither declared by the contract
    body = with_extra_columns(label_copy="is_fraud", other_score="amount_ratio_to_avg")
    # When the function handles it
    outcome = invoke(handler, cloud.drop("transactions/extras.csv", body))
    # Then the file is accepted, and the manifest and the report name what was dropped
    assert outcome["status"] == "validated"
    version = outcome["version"]
    manifest = cloud.read_json(CURATED, f"manifests/transactions/{version}.json")
    assert manifest["dropped_columns"] == ["label_copy", "other_score"]
    report = cloud.read_json(CURATED, f"reports/transactions/{version}.json")
    assert report["validation"]["dropped_columns"] == ["label_copy", "other_score"]
    # And the curated data holds exactly the declared columns
    data_key = manifest["data_uri"].removeprefix(f"s3://{CURATED}/")
    table = pq.read_table(
        io.BytesIO(cloud.s3.get_object(Bucket=CURATED, Key=data_key)["Body"].read())
    )
    assert "label_copy" not in table.column_names and "other_score" not in table.column_names
    assert [field["name"] for field in manifest["schema"]] == table.column_names


def test_same_event_twice_and_same_content_again_make_one_version(
    cloud: Cloud, handler: ModuleType
) -> None:
    body = SAMPLE.read_bytes()
    event = cloud.drop("transactions/a.csv", body)
    first = invoke(handler, event)
    # When S3 delivers the same event again
    again = invoke(handler, event)
    # And a user uploads the same content again (a new object version, a new key)
    reupload = invoke(handler, cloud.drop("transactions/copy-of-a.csv", body))
    # Then there is one dataset version, one manifest and one event
    assert again == first
    assert reupload["status"] == "duplicate"
    assert reupload["version"] == first["version"]
    assert len(cloud.lineage()) == 1
    assert len([k for k in cloud.keys(CURATED) if k.startswith("manifests/")]) == 1
    assert len(cloud.events()) == 1


@pytest.mark.parametrize(
    ("key", "body", "reason"),
    [
        ("customers/c.csv", b"id\n1\n", "undeclared_dataset"),
        ("loose-file.csv", b"id\n1\n", "no_dataset"),
        ("transactions/garbage.csv", bytes(range(256)) * 8, "not_text"),
        ("transactions/empty.csv", b"", "empty_file"),
    ],
)
def test_unusable_files_are_rejected_with_a_specific_reason(
    cloud: Cloud, handler: ModuleType, key: str, body: bytes, reason: str
) -> None:
    outcome = invoke(handler, cloud.drop(key, body))
    assert outcome["status"] == "rejected"
    assert outcome["reasons"][0]["code"] == reason
    assert key in cloud.keys(RAW)
    assert any(k.endswith("/report.json") for k in cloud.keys(QUARANTINE))


def test_an_unexpected_error_in_validation_quarantines_the_file_with_an_error_id(
    cloud: Cloud,
    handler: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a validator that fails in a way nobody foresaw
    from driftline_runtime import checking

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a fault of ours")

    monkeypatch.setattr(checking, "check_source", broken)
    # When a file is dropped
    outcome = invoke(handler, cloud.drop("transactions/any.csv", SAMPLE.read_bytes()))
    # Then it is quarantined with the reason internal_error and an error id
    assert outcome["status"] == "rejected"
    (reason,) = outcome["reasons"]
    assert reason["code"] == "internal_error"
    error_id = reason["details"]["error_id"]
    assert error_id in reason["message"] and reason["details"]["error"] == "RuntimeError"
    folder = f"transactions/{outcome['version']}"
    assert cloud.keys(QUARANTINE) == [f"{folder}/any.csv", f"{folder}/report.json"]
    # And the same id is in the function's log, with the traceback
    (logged,) = [r for r in caplog.records if getattr(r, "error_id", None) == error_id]
    assert logged.exc_info is not None and str(logged.exc_info[1]) == "a fault of ours"
    # And the original stays where it was dropped, and the bus hears of the rejection
    assert cloud.keys(RAW) == ["transactions/any.csv"]
    assert [e["detail-type"] for e in cloud.events()] == ["DatasetRejected"]


def test_an_event_that_failed_to_publish_is_published_on_retry(
    cloud: Cloud, handler: ModuleType
) -> None:
    # Given a version recorded but whose event was not published (a crash in between)
    event = cloud.drop("transactions/a.csv", SAMPLE.read_bytes())
    outcome = invoke(handler, event)
    cloud.events()
    table = boto3.resource("dynamodb").Table(LINEAGE)
    table.update_item(
        Key={"dataset": "transactions", "version": outcome["version"]},
        UpdateExpression="SET event_published = :no",
        ExpressionAttributeValues={":no": False},
    )
    # When the same content arrives again
    handler.INGESTION.ingest(
        handler.ObjectRef(RAW, "transactions/a.csv", None, 1), now=handler.datetime.now(handler.UTC)
    )
    # Then the missing event is published, once
    (bus_event,) = cloud.events()
    assert bus_event["detail"]["version"] == outcome["version"]


class ProcessKilled(BaseException):
    """Stands in for SIGKILL: not an Exception, so nothing cleans up after it."""


def test_a_retry_after_a_crashed_attempt_ingests_despite_the_in_progress_record(
    cloud: Cloud, handler: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an attempt that died mid-ingestion, leaving its idempotency record in progress
    event = cloud.drop("transactions/crashed.csv", SAMPLE.read_bytes())
    with monkeypatch.context() as patch:

        def die(*args: object, **kwargs: object) -> None:
            raise ProcessKilled

        patch.setattr(handler.INGESTION, "ingest", die)
        with pytest.raises(ProcessKilled):
            invoke(handler, event)
    statuses = [i["status"] for i in boto3.resource("dynamodb").Table(IDEMPOTENCY).scan()["Items"]]
    assert statuses == ["INPROGRESS"]
    # When Lambda retries the event (well before the record's in-progress expiry)
    outcome = invoke(handler, event)
    # Then the retry ingests the object, once
    assert outcome["status"] == "validated"
    assert len(cloud.lineage()) == 1


def emf_records(output: str) -> list[dict[str, Any]]:
    """The embedded-metric-format lines a function printed (CloudWatch reads them)."""
    records = []
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            records.append(json.loads(line))
    return records


def test_outcomes_are_counted_per_dataset_once_per_file(
    cloud: Cloud, handler: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a good file, a rejected one, and the good one's event delivered again
    good = cloud.drop("transactions/good.csv", SAMPLE.read_bytes())
    invoke(handler, good)
    invoke(handler, cloud.drop("transactions/bad.csv", with_bad_amounts(0.2)))
    invoke(handler, good)
    invoke(handler, cloud.drop("nowhere/x.csv", SAMPLE.read_bytes()))
    # When CloudWatch reads the function's output
    records = emf_records(capsys.readouterr().out)
    # Then each file made one record in namespace driftline, per dataset and stage
    assert len(records) == 3
    ingested, rejected, undeclared = records
    for record in records:
        (directive,) = record["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "driftline"
        assert sorted(directive["Dimensions"][0]) == ["dataset", "service", "stage"]
        assert record["stage"] == "test" and record["service"] == "ingest"
    # (EMF values are lists of samples)
    assert ingested["dataset"] == "transactions" and ingested["FilesIngested"] == [1.0]
    assert ingested["RowsIngested"] == [2000.0] and ingested["RowsRejected"] == [0.0]
    assert ingested["version"] != rejected["version"]
    assert rejected["FilesRejected"] == [1.0] and rejected["RowsRejected"] == [2000.0]
    assert "FilesIngested" not in rejected
    # an undeclared folder name does not become a dimension value
    assert undeclared["dataset"] == "_undeclared" and undeclared["FilesRejected"] == [1.0]
    # and the redelivery, answered from the idempotency store, counted nothing


@pytest.mark.parametrize("share", [0.0, 0.2])
def test_drop_check_judges_a_file_as_the_function_does_with_the_same_report(
    cloud: Cloud,
    handler: ModuleType,
    share: float,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from driftline.cli import main

    # Given a file, good or with a fifth of its rows bad
    body = with_bad_amounts(share)
    path = tmp_path / "today.csv"
    path.write_bytes(body)
    # When the ingest function ingests it and `driftline drop --check --json` checks it
    outcome = invoke(handler, cloud.drop("transactions/today.csv", body))
    capsys.readouterr()  # the function's own log lines
    code = main(["drop", str(path), "--dataset", "transactions", "--check", "--json"])
    checked = json.loads(capsys.readouterr().out)
    # Then both reach the same verdict on the same version, with the same report
    folder = (CURATED, f"reports/transactions/{outcome['version']}.json")
    if outcome["status"] == "rejected":
        folder = (QUARANTINE, f"transactions/{outcome['version']}/report.json")
    stored = cloud.read_json(*folder)
    assert code == (0 if outcome["status"] == "validated" else 1)
    assert checked["outcome"] == stored["outcome"] == ("accepted" if share == 0 else "rejected")
    for field in ("dataset", "version", "reasons"):
        assert checked[field] == stored[field], field
    same = ("validated_at",)  # the moment of each check differs, nothing else may
    assert {k: v for k, v in checked["validation"].items() if k not in same} == {
        k: v for k, v in stored["validation"].items() if k not in same
    }
