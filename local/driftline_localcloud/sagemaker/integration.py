"""What Step Functions' optimized SageMaker integrations mean, whichever interpreter runs them.

As on AWS: ``createTrainingJob``, ``createTransformJob``, ``createProcessingJob``,
``createModel`` and the endpoint actions (``createEndpointConfig``, ``createEndpoint``,
``updateEndpoint``) are served request-response (the API's response is the task's
result); the three jobs also ``.sync``, which follows Describe* until the job ends and
returns the whole description when it Completed. A job that Failed or Stopped fails
the task with ``States.TaskFailed`` and the description as the cause.
``.waitForTaskToken`` is refused, as AWS does for SageMaker. API errors become
``SageMaker.<Java SDK exception>``, the names AWS's Java-based integrations produce: a
modelled error gets its class name (``ResourceInUse`` ->
``SageMaker.ResourceInUseException``), any other (ValidationException, throttling) the
service's base exception ``SageMaker.AmazonSageMakerException``. Timestamps come out
as epoch milliseconds, as those integrations serialize them (``registry_events``' one
``epoch_millis``).

MiniStack's interpreter reaches these rules through its dispatch entry
(``driftline_ministack.stepfunctions_sagemaker``); nothing here imports MiniStack.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Final

from driftline_localcloud.sagemaker.shapes import service_model

SERVICE_NAME: Final = "sagemaker"


@dataclass(frozen=True)
class JobKind:
    """How ``.sync`` follows one kind of job (operation names in SageMaker's API)."""

    name_key: str
    status_key: str
    describe: str
    stop: str


SYNC_JOBS: Final = {
    "createtrainingjob": JobKind(
        "TrainingJobName", "TrainingJobStatus", "DescribeTrainingJob", "StopTrainingJob"
    ),
    "createtransformjob": JobKind(
        "TransformJobName", "TransformJobStatus", "DescribeTransformJob", "StopTransformJob"
    ),
    "createprocessingjob": JobKind(
        "ProcessingJobName", "ProcessingJobStatus", "DescribeProcessingJob", "StopProcessingJob"
    ),
}
REQUEST_RESPONSE: Final = {
    "createtrainingjob",
    "createtransformjob",
    "createprocessingjob",
    "createmodel",
    "createendpointconfig",
    "createendpoint",
    "updateendpoint",
}
RUNNING: Final = {"InProgress", "Stopping"}
# SageMaker's modelled errors: the Java SDK has a class for each (name + "Exception").
MODELLED_ERRORS: Final = {
    "ResourceInUse",
    "ResourceNotFound",
    "ResourceLimitExceeded",
    "ConflictException",
}


def error_name(code: str) -> str:
    if code in MODELLED_ERRORS:
        return f"SageMaker.{code if code.endswith('Exception') else code + 'Exception'}"
    return "SageMaker.AmazonSageMakerException"


def error_cause(code: str, message: str, status: int, request_id: str) -> str:
    """The cause AWS's Java-based integrations write for a failed API call."""
    return (
        f"{message} (Service: AmazonSageMaker; Status Code: {status}; Error Code: {code}; "
        f"Request ID: {request_id}; Proxy: null)"
    )


def operation_name(action: str) -> str:
    """``createTrainingJob`` -> ``CreateTrainingJob``."""
    return action[:1].upper() + action[1:]


def supported_parameters(action: str) -> set[str] | None:
    """The request members of a request-response action (None for any other)."""
    if action.lower() not in REQUEST_RESPONSE:
        return None
    operation = service_model().operation_model(operation_name(action))
    return set(operation.input_shape.members)


def request_from_input(action: str, effective_input: Any) -> dict[str, Any]:
    """A task without ``Parameters`` calls the API with its effective input.

    That is AWS's rule (the input after ``InputPath`` is the request), keeping only the
    members the API takes. The training state machine relies on it: the prepare
    function builds the whole CreateTrainingJob request.
    """
    if not isinstance(effective_input, dict):
        raise ValueError("A SageMaker task without Parameters needs an object as its input")
    parameters = copy.deepcopy(effective_input)
    supported = supported_parameters(action)
    if supported:
        parameters = {k: v for k, v in parameters.items() if k in supported}
    return parameters


def unsupported_resource(resource: str, action: str, condition: str | None) -> str | None:
    """Why a ``sagemaker`` task resource cannot run here, or None if it can."""
    if action.lower() not in REQUEST_RESPONSE:
        return f"The resource {resource} is not a SageMaker integration the local cloud serves"
    if condition is None:
        return None
    if condition != "sync" or action.lower() not in SYNC_JOBS:
        return (
            f"The resource provided {resource} not recognized: SageMaker supports .sync for "
            "createTrainingJob, createTransformJob and createProcessingJob only, and no "
            ".waitForTaskToken."
        )
    return None
