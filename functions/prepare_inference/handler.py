"""Prepare inference: a validated inference dataset version -> transform input and a model.

Started by the batch inference state machine with its execution input; the work is
``resolution.InferenceResolution``'s.
"""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext
from driftline_runtime.lineage import LineageStore
from driftline_runtime.observability import observability
from driftline_runtime.registry import ModelRegistry
from driftline_runtime.steps import step
from driftline_runtime.steps.batch_inference import ResolvedInference, ResolveInferenceInput
from resolution import InferenceResolution, Services, Settings

OBS = observability("prepare_inference")
SETTINGS = Settings.from_environ()
RESOLUTION = InferenceResolution(
    SETTINGS,
    Services(
        s3=boto3.client("s3"),
        registry=ModelRegistry(boto3.client("sagemaker")),
        lineage=LineageStore(boto3.resource("dynamodb").Table(SETTINGS.lineage_table)),
    ),
)


@OBS.logger.inject_lambda_context(log_event=True, correlation_id_path="execution")
@OBS.tracer.capture_lambda_handler
@step(ResolveInferenceInput, ResolvedInference)
def handler(event: ResolveInferenceInput, context: LambdaContext) -> ResolvedInference:
    resolved: ResolvedInference = RESOLUTION.resolve(
        event.inference_request, now=datetime.now(UTC), execution=event.execution
    )
    OBS.logger.info(
        "Transform input written", extra={"rows": resolved.rows, "parts": resolved.parts}
    )
    return resolved
