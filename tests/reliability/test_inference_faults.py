"""Faults in batch inference: a transform job that fails or times out ends in an
InferenceFailed event that says why, with no predictions written; SageMaker throttling
on CreateTransformJob is absorbed by the state machine's Retry.

Faults are scoped to the batch's own transform jobs: their names carry the first eight
digits of the dataset version, which is the hash of the file's content.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from driftline.faults import armed, armed_faults
from driftline.localcloud import LocalCloud
from driftline.samples import generate_transactions
from driftline.target import Target
from tests.e2e.conftest import EventRecorder, write_salted
from tests.e2e.test_batch_inference import END, approved_model, events, read_s3
from tests.reliability.conftest import Figures
from tests.reliability.test_faults import version_of

__all__ = ["approved_model", "events"]  # fixtures shared with the end-to-end tests

pytestmark = pytest.mark.reliability

ROWS = 1_000  # one transform job at the dev stage's part size
OUTCOMES = ("InferenceCompleted", "InferenceFailed")


def outcome_of(events: EventRecorder, version: str) -> dict[str, Any]:
    """The run's outcome: InferenceCompleted names the version, InferenceFailed its input."""

    def of_version(event: dict[str, Any]) -> bool:
        detail = event["detail"]
        named = detail.get("version") or (detail.get("input") or {}).get("version")
        return event["detail-type"] in OUTCOMES and named == version

    return events.wait_until(of_version, 300, f"the inference outcome of {version}")


def score_with_faults(
    target: Target,
    events: EventRecorder,
    local_cloud: LocalCloud,
    tmp_path: Path,
    seed: int,
    *faults: dict[str, Any],
) -> tuple[str, dict[str, Any], float]:
    table = generate_transactions(ROWS, seed=seed, labelled=False, end=END)
    path = write_salted(tmp_path / f"batch-{seed}.csv", table)
    version = version_of(path.read_bytes())
    bucket = target.outputs("data")["RawBucketName"]
    started = time.monotonic()
    with armed_faults(local_cloud, *({**f, "match": version[:8]} for f in faults)):
        target.client("s3").upload_file(str(path), bucket, f"scoring/faults/{path.name}")
        event = outcome_of(events, version)
        assert armed(local_cloud) == []
    return version, event, time.monotonic() - started


def predictions_of(target: Target, version: str) -> list[str]:
    bucket = target.outputs("pipeline")["PredictionsBucketName"]
    listed = target.client("s3").list_objects_v2(
        Bucket=bucket, Prefix=f"predictions/scoring/{version}/"
    )
    return [item["Key"] for item in listed.get("Contents", [])]


def test_a_failing_transform_job_ends_in_an_inference_failed_event(
    target: Target,
    events: EventRecorder,
    local_cloud: LocalCloud,
    approved_model: str,
    tmp_path: Path,
    figures: Figures,
) -> None:
    fault = {"kind": "transform-job", "action": "fail", "reason": "ClientError: model crashed"}
    version, event, elapsed = score_with_faults(target, events, local_cloud, tmp_path, 61, fault)
    assert event["detail-type"] == "InferenceFailed"
    assert "ClientError: model crashed" in event["detail"]["cause"]
    assert predictions_of(target, version) == []
    figures.add(
        "Faults",
        "transform job failing",
        f"InferenceFailed event, no predictions ({elapsed:.1f} s)",
    )


def test_a_transform_request_past_its_timeout_ends_in_an_inference_failed_event(
    target: Target,
    events: EventRecorder,
    local_cloud: LocalCloud,
    approved_model: str,
    tmp_path: Path,
    figures: Figures,
) -> None:
    fault = {"kind": "transform-job", "action": "timeout", "seconds": 0}
    version, event, elapsed = score_with_faults(target, events, local_cloud, tmp_path, 62, fault)
    assert event["detail-type"] == "InferenceFailed"
    assert "timed out" in event["detail"]["cause"].lower()
    assert predictions_of(target, version) == []
    figures.add(
        "Faults", "transform request past its timeout", f"InferenceFailed event ({elapsed:.1f} s)"
    )


def test_throttled_transform_jobs_are_retried_and_every_row_is_scored(
    target: Target,
    events: EventRecorder,
    local_cloud: LocalCloud,
    approved_model: str,
    tmp_path: Path,
    figures: Figures,
) -> None:
    throttled = {"kind": "sagemaker-api", "action": "error", "operation": "CreateTransformJob"}
    version, event, elapsed = score_with_faults(
        target,
        events,
        local_cloud,
        tmp_path,
        63,
        {**throttled, "code": "ThrottlingException"},
        {**throttled, "code": "ResourceLimitExceeded"},
    )
    assert event["detail-type"] == "InferenceCompleted", event["detail"]
    assert event["detail"]["rows"] == ROWS
    assert read_s3(target, event["detail"]["predictions_uri"])
    figures.add(
        "Faults",
        "CreateTransformJob throttled, then ResourceLimitExceeded",
        f"absorbed by Retry, every row scored ({elapsed:.1f} s)",
    )
