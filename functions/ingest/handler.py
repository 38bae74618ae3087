"""Ingest function: S3 object-created events in the raw bucket -> a receipt per object."""

from __future__ import annotations

from typing import Any

import boto3
from arrival import arrival_from_record, receipt_key
from aws_lambda_powertools.utilities.typing import LambdaContext
from driftline_runtime.observability import observability
from driftline_runtime.settings import FunctionSettings


class Settings(FunctionSettings):
    curated_bucket: str


SETTINGS = Settings.from_environ()
OBS = observability("ingest")
S3 = boto3.client("s3")


@OBS.logger.inject_lambda_context(correlation_id_path="Records[0].s3.object.key")
@OBS.tracer.capture_lambda_handler
@OBS.metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    receipts = []
    for record in event.get("Records", []):
        arrival = arrival_from_record(record)
        key = receipt_key(arrival)
        S3.put_object(
            Bucket=SETTINGS.curated_bucket,
            Key=key,
            Body=arrival.model_dump_json().encode(),
            ContentType="application/json",
        )
        OBS.logger.info("Recorded arrival", extra={"receipt": key, "dataset": arrival.dataset})
        OBS.metrics.add_metric(name="ObjectsReceived", unit="Count", value=1)
        receipts.append(key)
    return {"receipts": receipts}
