"""Step Functions' optimized SageMaker integrations for MiniStack's interpreter.

MiniStack's interpreter looks a task's service integration up by resource prefix in
``stepfunctions._SERVICE_DISPATCH`` (a handler gets the resource and the task's
effective parameters and returns its result, or raises ``_ExecutionError``); an
optimized integration it does not know fails the task. ``register`` adds
``arn:aws:states:::sagemaker:``. What the integrations mean (results, error names,
``.sync``) is ``driftline_localcloud.sagemaker.integration``, which imports no
MiniStack; the calls go to the same provider in-process, as MiniStack's own integrations
call its services.

``.sync`` follows the job every half second (``POLL_SECONDS``) until it ends,
bounded by the job's own limits: MaxRuntimeInSeconds and SageMaker's stop grace for a
training job.

The generic ``arn:aws:states:::aws-sdk:sagemaker:<action>`` tasks (the deployment state
machine's ``describeEndpoint``) go through MiniStack's own aws-sdk dispatcher, to which
``register`` names SageMaker as a JSON-protocol service (``SageMaker.`` targets, errors
as ``SageMaker.<code>``, as Step Functions names an SDK error), served by the same handler
as the API.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Final

from driftline_localcloud.sagemaker.containers import STOP_GRACE_SECONDS
from driftline_localcloud.sagemaker.integration import (
    RUNNING,
    SYNC_JOBS,
    JobKind,
    error_cause,
    error_name,
    operation_name,
    request_from_input,
    unsupported_resource,
)
from driftline_localcloud.sagemaker.registry_events import epoch_millis
from driftline_localcloud.sagemaker.store import SageMakerError
from ministack.services import stepfunctions

from driftline_ministack.sagemaker_api import SERVICE as SERVICE_NAME
from driftline_ministack.sagemaker_api import TARGET_PREFIX, SageMakerGateway

PREFIX: Final = "arn:aws:states:::sagemaker:"
POLL_SECONDS: Final = 0.5
# A transform job has no runtime limit of its own; a day bounds the wait.
TRANSFORM_WAIT_SECONDS: Final = 86_400.0


class SageMakerTasks:
    def __init__(self, gateway: SageMakerGateway) -> None:
        self.gateway = gateway

    def __call__(self, resource: str, parameters: Any) -> Any:
        action, _, condition = resource.removeprefix(PREFIX).partition(".")
        problem = unsupported_resource(resource, action, condition or None)
        if problem is not None:
            raise stepfunctions._ExecutionError("States.Runtime", problem)
        request = request_from_input(action, parameters)
        response = self._call(operation_name(action), request)
        if condition != "sync":
            return epoch_millis(response)
        kind = SYNC_JOBS[action.lower()]
        return self._follow(kind, request)

    def _call(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        try:
            return self.gateway.call(operation, request)
        except SageMakerError as failure:
            raise stepfunctions._ExecutionError(
                error_name(failure.code),
                error_cause(failure.code, failure.message, failure.status, str(uuid.uuid4())),
            ) from None

    def _follow(self, kind: JobKind, request: dict[str, Any]) -> Any:
        name = request[kind.name_key]
        deadline = time.monotonic() + self._longest_wait(kind, request)
        while True:
            description = self._call(kind.describe, {kind.name_key: name})
            status = description[kind.status_key]
            if status not in RUNNING:
                break
            if time.monotonic() > deadline:
                raise stepfunctions._ExecutionError(
                    "States.Timeout", f"SageMaker job {name} did not end in time"
                )
            time.sleep(POLL_SECONDS)
        result = epoch_millis(description)
        if status == "Completed":
            return result
        raise stepfunctions._ExecutionError("States.TaskFailed", json.dumps(result))

    @staticmethod
    def _longest_wait(kind: JobKind, request: dict[str, Any]) -> float:
        if kind.status_key == "TrainingJobStatus":
            condition = request.get("StoppingCondition") or {}
            return float(condition.get("MaxRuntimeInSeconds") or 86_400) + 2 * STOP_GRACE_SECONDS
        return TRANSFORM_WAIT_SECONDS


def register(gateway: SageMakerGateway) -> None:
    stepfunctions._SERVICE_DISPATCH[PREFIX] = SageMakerTasks(gateway)
    stepfunctions._AWS_SDK_SERVICE_MAP[SERVICE_NAME] = {
        "target_prefix": TARGET_PREFIX.removesuffix("."),
        "protocol": "json",
    }
    stepfunctions._AWS_SDK_ERROR_PREFIX[SERVICE_NAME] = "SageMaker"
