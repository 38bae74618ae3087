"""Collect captured real-time traffic: on the stage's schedule, each endpoint's data
capture of the last window becomes a batch of its capture dataset in the raw bucket.

Started by an EventBridge schedule (its event's ``time`` ends the window); the work is
``collection.CaptureCollection``'s.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext
from collection import CaptureCollection, Services, Settings
from driftline_contracts import datasets
from driftline_runtime.observability import observability

OBS = observability("collect_capture")
COLLECTION = CaptureCollection(
    Settings.from_environ(), Services(s3=boto3.client("s3"), datasets=datasets)
)


@OBS.logger.inject_lambda_context(log_event=True, correlation_id_path="id")
@OBS.tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    time = datetime.fromisoformat(event["time"]) if event.get("time") else datetime.now(UTC)
    windows = COLLECTION.collect(time)
    for window in windows:
        OBS.logger.info(
            "Capture collected",
            extra={
                "dataset": window.dataset,
                "capture_dataset": window.capture_dataset,
                "objects": window.objects,
                "records": window.records,
                "rows": window.rows,
                "unnamed": window.unnamed,
                "repeated": window.repeated,
                "key": window.key,
            },
        )
    return {
        "windows": [
            {
                "dataset": w.dataset,
                "capture_dataset": w.capture_dataset,
                "endpoint": w.endpoint,
                "objects": w.objects,
                "records": w.records,
                "rows": w.rows,
                "unnamed": w.unnamed,
                "repeated": w.repeated,
                "key": w.key,
            }
            for w in windows
        ]
    }
