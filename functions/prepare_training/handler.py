"""Prepare training: a validated dataset version -> channels and a training job request.

Started by the training state machine with its execution input: a ``DatasetValidated``
event, ``{"dataset": ..., "version": ...}`` by hand, or the retraining gate's request.
The work is ``preparation.TrainingPreparation``'s.
"""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext
from driftline_runtime.observability import observability
from driftline_runtime.registry import ModelRegistry
from driftline_runtime.steps import step
from driftline_runtime.steps.training import PreparedTraining, PrepareTrainingInput
from preparation import Services, Settings, TrainingPreparation

OBS = observability("prepare_training")
PREPARATION = TrainingPreparation(
    Settings.from_environ(),
    Services(s3=boto3.client("s3"), registry=ModelRegistry(boto3.client("sagemaker")), obs=OBS),
)


@OBS.logger.inject_lambda_context(log_event=True, correlation_id_path="execution")
@OBS.tracer.capture_lambda_handler
@step(PrepareTrainingInput, PreparedTraining)
def handler(event: PrepareTrainingInput, context: LambdaContext) -> PreparedTraining:
    prepared: PreparedTraining = PREPARATION.prepare(
        event.request, now=datetime.now(UTC), execution=event.execution
    )
    return prepared
