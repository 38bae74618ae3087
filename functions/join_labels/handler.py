"""Join labels: a validated labels file -> the join with predictions, model quality,
``ModelQualityDegraded`` when it fell, and the labelled rows fed back as training data.

The EventBridge rule on ``DatasetValidated`` with ``kind == "labels"`` invokes this
function; the work is ``labelling.LabelJoining``'s.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext
from driftline_runtime import names
from driftline_runtime.events import DatasetValidated, EventEnvelope
from driftline_runtime.observability import observability
from labelling import LabelJoining, Services, Settings

OBS = observability(names.MODEL_QUALITY_SERVICE)
JOINING = LabelJoining(
    Settings.from_environ(),
    Services(
        s3=boto3.client("s3"),
        sagemaker=boto3.client("sagemaker"),
        events=boto3.client("events"),
        obs=OBS,
    ),
)


@OBS.logger.inject_lambda_context(log_event=True, correlation_id_path="detail.source_key")
@OBS.tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    validated = EventEnvelope[DatasetValidated].model_validate(event)
    report: dict[str, Any] = JOINING.process(validated.detail, now=datetime.now(UTC))
    return report
