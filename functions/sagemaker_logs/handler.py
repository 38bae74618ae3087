"""Custom resource: SageMaker's job log groups get the stage's retention and the project key
(``log_groups.SageMakerLogGroups``)."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext
from driftline_runtime.observability import observability
from log_groups import SageMakerLogGroups, Services

OBS = observability("sagemaker_logs")
LOG_GROUPS = SageMakerLogGroups(Services(logs=boto3.client("logs"), obs=OBS))


@OBS.logger.inject_lambda_context(log_event=True, correlation_id_path="RequestId")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    answer: dict[str, Any] = LOG_GROUPS.handle(event)
    return answer
