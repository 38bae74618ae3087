"""Write predictions: the transform jobs' ``.out`` files -> one predictions table with lineage.

The work is ``predictions.PredictionWriter``'s.
"""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext
from driftline_runtime.observability import observability
from driftline_runtime.steps import step
from driftline_runtime.steps.batch_inference import WritePredictionsInput, WrittenPredictions
from predictions import PredictionWriter, Services, Settings

OBS = observability("write_predictions")
WRITER = PredictionWriter(Settings.from_environ(), Services(s3=boto3.client("s3")))


@OBS.logger.inject_lambda_context(log_event=True, correlation_id_path="execution")
@OBS.tracer.capture_lambda_handler
@step(WritePredictionsInput, WrittenPredictions)
def handler(event: WritePredictionsInput, context: LambdaContext) -> WrittenPredictions:
    written: WrittenPredictions = WRITER.write(event, now=datetime.now(UTC))
    OBS.logger.info(
        "Predictions written", extra={"rows": written.rows, "jobs": len(written.transform_jobs)}
    )
    return written
