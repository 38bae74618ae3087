"""Step Functions' optimized SageMaker integrations for LocalStack's ASL interpreter.

LocalStack lists ``sagemaker`` among its unsupported task services. ``register`` wraps
``state_task_service_for`` in the one module that calls it (``state_task_factory``,
which looks the name up at call time), so that ``arn:aws:states:::sagemaker:<action>``
resources get ``StateTaskServiceSageMaker``; every other service goes to LocalStack's
own factory unchanged. What the integrations mean (results, error names, ``.sync``) is
in ``sagemaker.integration``, shared with the MiniStack base; this is LocalStack's
plumbing: a failed job fails the task as Glue and Batch jobs do there, and when the
execution stops or the task times out while a ``.sync`` job runs, the job is stopped too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from botocore import xform_name
from botocore.exceptions import ClientError
from localstack.aws.api.stepfunctions import HistoryEventType, TaskFailedEventDetails
from localstack.services.stepfunctions.asl.component.common.error_name.custom_error_name import (
    CustomErrorName,
)
from localstack.services.stepfunctions.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from localstack.services.stepfunctions.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from localstack.services.stepfunctions.asl.component.common.error_name.states_error_name_type import (  # noqa: E501
    StatesErrorNameType,
)
from localstack.services.stepfunctions.asl.component.state.state_execution.state_task import (
    state_task_factory,
)
from localstack.services.stepfunctions.asl.component.state.state_execution.state_task.service.resource import (  # noqa: E501
    ResourceCondition,
)
from localstack.services.stepfunctions.asl.component.state.state_execution.state_task.service.state_task_service_callback import (  # noqa: E501
    StateTaskServiceCallback,
)
from localstack.services.stepfunctions.asl.eval.event.event_detail import EventDetails
from localstack.services.stepfunctions.asl.utils.boto_client import boto_client_for
from localstack.services.stepfunctions.asl.utils.encoding import to_json_str

from driftline_localcloud.sagemaker.integration import (
    RUNNING,
    SERVICE_NAME,
    SYNC_JOBS,
    JobKind,
    error_cause,
    error_name,
    request_from_input,
    supported_parameters,
)
from driftline_localcloud.sagemaker.registry_events import epoch_millis

LOG = logging.getLogger(__name__)


class JobPoller:
    """The ``.sync`` resolver: None while the job runs, its description once it Completed."""

    def __init__(
        self, task: StateTaskServiceSageMaker, env: Any, client: Any, kind: JobKind, name: str
    ) -> None:
        self.task, self.env, self.client = task, env, client
        self.kind, self.name = kind, name
        self.ended = False

    def __call__(self) -> dict[str, Any] | None:
        description: dict[str, Any] = getattr(self.client, xform_name(self.kind.describe))(
            **{self.kind.name_key: self.name}
        )
        description.pop("ResponseMetadata", None)
        if description[self.kind.status_key] in RUNNING:
            return None
        self.ended = True
        result: dict[str, Any] = epoch_millis(description)
        if description[self.kind.status_key] == "Completed":
            return result
        raise FailureEventException(
            FailureEvent(
                env=self.env,
                error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                event_type=HistoryEventType.TaskFailed,
                event_details=EventDetails(
                    taskFailedEventDetails=TaskFailedEventDetails(
                        resource=self.task._get_sfn_resource(),
                        resourceType=self.task._get_sfn_resource_type(),
                        error=StatesErrorNameType.StatesTaskFailed.to_name(),
                        cause=to_json_str(result),
                    )
                ),
            )
        )

    def stop_job(self) -> None:
        """Called when the task ended before the job did (execution stopped, time-out)."""
        if self.ended:
            return
        try:
            getattr(self.client, xform_name(self.kind.stop))(**{self.kind.name_key: self.name})
        except ClientError as error:  # it may have ended meanwhile
            LOG.debug("Could not stop SageMaker job %s: %s", self.name, error)


class StateTaskServiceSageMaker(StateTaskServiceCallback):
    def __init__(self) -> None:
        super().__init__(supported_integration_patterns={ResourceCondition.Sync})

    def _action(self) -> str:
        return str(self.resource.api_action).lower()

    def _eval_parameters(self, env: Any) -> dict[str, Any]:
        """A task without ``Parameters`` calls the API with its effective input (AWS's
        rule, which LocalStack's interpreter lacks: it would call with no parameters)."""
        if self.parargs is not None:
            return dict(super()._eval_parameters(env))
        return request_from_input(str(self.resource.api_action), env.stack[-1])

    def _get_supported_parameters(self) -> set[str] | None:
        return supported_parameters(str(self.resource.api_action))

    def _validate_service_integration_is_supported(self) -> None:
        super()._validate_service_integration_is_supported()
        condition = self.resource.condition
        if condition is None:
            return
        if condition != ResourceCondition.Sync or self._action() not in SYNC_JOBS:
            raise ValueError(
                f"The resource provided {self.resource.resource_arn} not recognized: SageMaker "
                "supports .sync for createTrainingJob, createTransformJob and "
                "createProcessingJob only, and no "
                ".waitForTaskToken."
            )

    def _client(self, resource_runtime_part: Any, state_credentials: Any) -> Any:
        return boto_client_for(
            service=SERVICE_NAME,
            region=resource_runtime_part.region,
            state_credentials=state_credentials,
        )

    def _eval_service_task(
        self,
        env: Any,
        resource_runtime_part: Any,
        normalised_parameters: dict[str, Any],
        state_credentials: Any,
    ) -> None:
        client = self._client(resource_runtime_part, state_credentials)
        response = getattr(client, self._get_boto_service_action())(**normalised_parameters)
        response.pop("ResponseMetadata", None)
        env.stack.append(epoch_millis(response))

    def _build_sync_resolver(
        self,
        env: Any,
        resource_runtime_part: Any,
        normalised_parameters: dict[str, Any],
        state_credentials: Any,
    ) -> Callable[[], Any | None]:
        env.stack.pop()  # the Create*Job response; the job is followed by its name
        kind = SYNC_JOBS[self._action()]
        client = self._client(resource_runtime_part, state_credentials)
        return JobPoller(self, env, client, kind, normalised_parameters[kind.name_key])

    def _eval_sync(
        self,
        env: Any,
        sync_resolver: Callable[[], Any | None],
        timeout_seconds: int | None,
        callback_endpoint: Any,
        heartbeat_endpoint: Any,
    ) -> Any:
        result = super()._eval_sync(
            env=env,
            sync_resolver=sync_resolver,
            timeout_seconds=timeout_seconds,
            callback_endpoint=callback_endpoint,
            heartbeat_endpoint=heartbeat_endpoint,
        )
        if result is None and isinstance(sync_resolver, JobPoller):
            sync_resolver.stop_job()  # the loop ended because the execution no longer runs
        return result

    def _from_error(self, env: Any, ex: Exception) -> Any:
        if not isinstance(ex, ClientError):
            return super()._from_error(env=env, ex=ex)
        error = ex.response.get("Error", {})
        metadata = ex.response.get("ResponseMetadata", {})
        code = str(error.get("Code", "Unknown"))
        name = error_name(code)
        cause = error_cause(
            code,
            str(error.get("Message", "")),
            int(metadata.get("HTTPStatusCode", 400)),
            str(metadata.get("RequestId", "")),
        )
        return FailureEvent(
            env=env,
            error_name=CustomErrorName(name),
            event_type=HistoryEventType.TaskFailed,
            event_details=EventDetails(
                taskFailedEventDetails=TaskFailedEventDetails(
                    error=name,
                    cause=cause,
                    resource=self._get_sfn_resource(),
                    resourceType=self._get_sfn_resource_type(),
                )
            ),
        )


def register() -> None:
    """Routes ``sagemaker`` task resources to this module; idempotent."""
    original = state_task_factory.state_task_service_for
    if getattr(original, "driftline_sagemaker", False):
        return

    def state_task_service_for(service_name: str) -> Any:
        if service_name == SERVICE_NAME:
            return StateTaskServiceSageMaker()
        return original(service_name)

    state_task_service_for.driftline_sagemaker = True  # type: ignore[attr-defined]
    state_task_factory.state_task_service_for = state_task_service_for
