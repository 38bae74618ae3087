"""Evaluate: the trained challenger against the approved champion of its dataset.

The work is ``evaluation.ModelEvaluation``'s.
"""

from __future__ import annotations

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext
from driftline_runtime.observability import observability
from driftline_runtime.registry import ModelRegistry
from driftline_runtime.steps import step
from driftline_runtime.steps.training import EvaluateModelInput, Evaluation
from evaluation import ModelEvaluation, Services, Settings

OBS = observability("evaluate_model")
EVALUATION = ModelEvaluation(
    Settings.from_environ(),
    Services(registry=ModelRegistry(boto3.client("sagemaker")), obs=OBS),
)


@OBS.logger.inject_lambda_context(log_event=True, correlation_id_path="execution")
@OBS.tracer.capture_lambda_handler
@step(EvaluateModelInput, Evaluation)
def handler(event: EvaluateModelInput, context: LambdaContext) -> Evaluation:
    evaluation: Evaluation = EVALUATION.evaluate(event)
    return evaluation
