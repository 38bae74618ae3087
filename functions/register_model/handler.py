"""Register: the trained model as a package of its dataset's group, approved by policy.

The work is ``registration.ModelRegistration``'s.
"""

from __future__ import annotations

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext
from driftline_runtime.observability import observability
from driftline_runtime.registry import ModelRegistry
from driftline_runtime.steps import step
from driftline_runtime.steps.training import RegisterModelInput, Registration
from registration import ModelRegistration, Services, Settings

OBS = observability("register_model")
REGISTRATION = ModelRegistration(
    Settings.from_environ(),
    Services(s3=boto3.client("s3"), registry=ModelRegistry(boto3.client("sagemaker")), obs=OBS),
)


@OBS.logger.inject_lambda_context(log_event=True, correlation_id_path="execution")
@OBS.tracer.capture_lambda_handler
@step(RegisterModelInput, Registration)
def handler(event: RegisterModelInput, context: LambdaContext) -> Registration:
    registration: Registration = REGISTRATION.register(event)
    return registration
