"""The functions' embedded-metric-format log lines become CloudWatch metrics on the local
cloud, as CloudWatch Logs makes them on AWS: a function's Powertools metric is listed
with its dimensions, has its statistics, and an alarm on it goes to ALARM."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from driftline_runtime import names

from driftline.actions import drop_file
from driftline.target import Target
from tests.e2e.conftest import EventRecorder, wait_for

pytestmark = pytest.mark.e2e

DATASET = "transactions"


@pytest.fixture
def rejected_file(recorder: EventRecorder, target: Target, tmp_path: Path) -> datetime:
    """A header-only file dropped and rejected; returns when it was dropped.

    The ingest function records ``FilesRejected`` for it (dimensions service, stage and
    dataset) in an EMF line of its log. A rejection costs no training run."""
    started = datetime.now(UTC) - timedelta(seconds=5)
    path = tmp_path / f"{uuid.uuid4().hex[:8]}-header-only.csv"
    path.write_text(f"transaction_id,note_{uuid.uuid4().hex}\n")
    _, key, _ = drop_file(target, path, DATASET, "training")
    recorder.wait_for("DatasetRejected", key)
    return started


def dimensions(target: Target) -> list[dict[str, str]]:
    return [
        {"Name": "service", "Value": "ingest"},
        {"Name": names.STAGE_DIMENSION, "Value": target.stage},
        {"Name": names.DATASET_DIMENSION, "Value": DATASET},
    ]


def rejected_since(target: Target, since: datetime) -> float | None:
    datapoints = target.client("cloudwatch").get_metric_statistics(
        Namespace=names.METRICS_NAMESPACE,
        MetricName=names.FILES_REJECTED_METRIC,
        Dimensions=dimensions(target),
        StartTime=since,
        EndTime=datetime.now(UTC) + timedelta(minutes=1),
        Period=60,
        Statistics=["Sum"],
    )["Datapoints"]
    total = sum(point["Sum"] for point in datapoints)
    return total if total >= 1 else None


def test_a_functions_powertools_metric_reaches_cloudwatch_with_its_dimensions(
    rejected_file: datetime, target: Target
) -> None:
    # Given a file the ingest function rejected (rejected_file)
    cloudwatch = target.client("cloudwatch")

    # When CloudWatch is asked for the function's metric
    total = wait_for(
        lambda: rejected_since(target, rejected_file), 60, "FilesRejected in CloudWatch"
    )

    # Then it has the rejection's count since the drop, and is listed with its dimensions
    assert total >= 1
    listed = cloudwatch.list_metrics(
        Namespace=names.METRICS_NAMESPACE,
        MetricName=names.FILES_REJECTED_METRIC,
        Dimensions=[{"Name": d["Name"], "Value": d["Value"]} for d in dimensions(target)],
    )["Metrics"]
    assert any(
        sorted(d["Name"] for d in metric["Dimensions"]) == ["dataset", "service", "stage"]
        for metric in listed
    ), listed


@pytest.fixture
def rejection_alarm(target: Target) -> Iterator[str]:
    name = f"driftline-test-files-rejected-{uuid.uuid4().hex[:8]}"
    cloudwatch = target.client("cloudwatch")
    try:
        yield name
    finally:
        cloudwatch.delete_alarms(AlarmNames=[name])


def test_an_alarm_on_a_functions_metric_goes_to_alarm(
    rejected_file: datetime, rejection_alarm: str, target: Target
) -> None:
    # Given the rejection's metric in CloudWatch
    cloudwatch = target.client("cloudwatch")
    wait_for(lambda: rejected_since(target, rejected_file), 60, "FilesRejected in CloudWatch")

    # When an alarm watches it (any rejected file in a minute)
    cloudwatch.put_metric_alarm(
        AlarmName=rejection_alarm,
        Namespace=names.METRICS_NAMESPACE,
        MetricName=names.FILES_REJECTED_METRIC,
        Dimensions=dimensions(target),
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=0,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )

    # Then the local cloud's alarm schedule (once per period) sets it to ALARM on that data
    def alarm_state() -> dict[str, Any] | None:
        (alarm,) = cloudwatch.describe_alarms(AlarmNames=[rejection_alarm])["MetricAlarms"]
        return alarm if alarm["StateValue"] == "ALARM" else None

    alarm = wait_for(alarm_state, 150, f"{rejection_alarm} in ALARM", interval=2)
    assert "Threshold Crossed" in alarm["StateReason"]
