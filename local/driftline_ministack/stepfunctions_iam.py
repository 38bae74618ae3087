"""Step Functions' calls checked against the state machine's role, as AWS checks them.

MiniStack's interpreter runs a task's integration in-process, past the gateway where
``AUTH=true`` evaluates IAM: a state machine whose role allows nothing could still
invoke functions, put events and create SageMaker jobs. ``install`` puts a check in
front of each integration the app's state machines use, evaluated by MiniStack's own
evaluator (``iam_evaluator.enforce``, identity and resource policies) for a session of
the execution's role:

- ``lambda:invoke``: ``lambda:InvokeFunction`` on the function;
- ``events:putEvents``: ``events:PutEvents`` on each entry's bus;
- ``sagemaker:createModel``/``createTrainingJob``/``createTransformJob``: the create
  action on the resource's ARN, ``sagemaker:AddTags`` when tags are given,
  ``iam:PassRole`` on the role passed to SageMaker (``iam:PassedToService``), and for
  ``.sync`` the describe action and the managed EventBridge rule's
  ``events:PutTargets``/``PutRule``/``DescribeRule`` that AWS requires;
- a Distributed Map's S3 ``ItemReader``: ``s3:ListBucket`` on the bucket, or
  ``s3:GetObject`` on the object it reads (the ResultWriter already writes as the role,
  ``driftline_ministack.stepfunctions_result_writer``).

A denied task fails with the error name and ``AccessDenied`` cause AWS gives (a Catch
can route it), and the local cloud's log names the action and resource. Generic
``aws-sdk:*`` tasks are not checked here: the app has none, and their IAM action and
resource differ per API (``s3:listBuckets`` is ``s3:ListAllMyBuckets``).
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator
from typing import Any

from ministack import app
from ministack.core import iam_evaluator
from ministack.core.responses import get_account_id, get_region
from ministack.services import stepfunctions

from driftline_ministack.iam import role_credentials

logger = logging.getLogger(__name__)
Check = tuple[str, str, dict[str, str]]  # IAM action, resource ARN, condition keys
# The execution whose task or Map is running in this thread (Map iterations copy it).
_role: contextvars.ContextVar[str] = contextvars.ContextVar("driftline_sfn_role", default="")

# integration -> (the error name AWS fails a denied call with, its service name)
SERVICE_ERRORS = {
    "lambda": ("Lambda.AWSLambdaException", "AWSLambda"),
    "events": ("EventBridge.AmazonEventBridgeException", "AmazonEventBridge"),
    "sagemaker": ("SageMaker.AmazonSageMakerException", "AmazonSageMaker"),
}
# SageMaker job kind -> (its ARN type, request member naming it, its API, .sync rule name)
SAGEMAKER_JOBS = {
    "createTrainingJob": ("training-job", "TrainingJobName", "TrainingJob", "TrainingJobs"),
    "createTransformJob": ("transform-job", "TransformJobName", "TransformJob", "TransformJobs"),
}


def role_of(execution: dict[str, Any]) -> str:
    """The role an execution runs as; a Map iteration's is its state machine's."""
    events = execution.get("events") or []
    if events and "executionStartedEventDetails" in events[0]:
        return str(events[0]["executionStartedEventDetails"].get("roleArn") or "")
    machine_arn = str(execution.get("stateMachineArn", "")).split("/", 1)[0]
    machine = stepfunctions._state_machines.get(machine_arn) or {}
    return str(machine.get("roleArn") or "") or _role.get()


def lambda_checks(parameters: dict[str, Any], account: str, region: str) -> Iterator[Check]:
    function = str(parameters.get("FunctionName", ""))
    if not function.startswith("arn:"):
        function = f"arn:aws:lambda:{region}:{account}:function:{function}"
    yield "lambda:InvokeFunction", function, {}


def events_checks(parameters: dict[str, Any], account: str, region: str) -> Iterator[Check]:
    for entry in parameters.get("Entries") or []:
        bus = str(entry.get("EventBusName") or "default")
        if not bus.startswith("arn:"):
            bus = f"arn:aws:events:{region}:{account}:event-bus/{bus}"
        yield "events:PutEvents", bus, {}


def sagemaker_checks(
    action: str, sync: bool, parameters: dict[str, Any], account: str, region: str
) -> Iterator[Check]:
    base = f"arn:aws:sagemaker:{region}:{account}"
    if action == "createModel":
        resource = f"{base}:model/{str(parameters.get('ModelName', '')).lower()}"
        yield "sagemaker:CreateModel", resource, {}
        passed = parameters.get("ExecutionRoleArn")
    else:
        kind, member, api, rule = SAGEMAKER_JOBS[action]
        resource = f"{base}:{kind}/{str(parameters.get(member, '')).lower()}"
        yield f"sagemaker:Create{api}", resource, {}
        passed = parameters.get("RoleArn")
        if sync:
            yield f"sagemaker:Describe{api}", resource, {}
            rule_arn = (
                f"arn:aws:events:{region}:{account}:rule/"
                f"StepFunctionsGetEventsForSageMaker{rule}Rule"
            )
            for verb in ("PutTargets", "PutRule", "DescribeRule"):
                yield f"events:{verb}", rule_arn, {}
    if parameters.get("Tags"):
        yield "sagemaker:AddTags", resource, {}
    if passed:
        yield "iam:PassRole", str(passed), {"iam:PassedToService": "sagemaker.amazonaws.com"}


def task_checks(resource: str, parameters: Any) -> tuple[str, list[Check]]:
    """The integration's service and the calls AWS checks for this task (none: unchecked)."""
    if not isinstance(parameters, dict) or not resource.startswith("arn:aws:states:::"):
        return "", []
    service, _, action = resource.removeprefix("arn:aws:states:::").partition(":")
    action, _, condition = action.partition(".")
    account, region = get_account_id(), get_region()
    if service == "lambda" and action == "invoke":
        return service, list(lambda_checks(parameters, account, region))
    if service == "events" and action == "putEvents":
        return service, list(events_checks(parameters, account, region))
    if service == "sagemaker" and (action == "createModel" or action in SAGEMAKER_JOBS):
        checks = sagemaker_checks(action, condition == "sync", parameters, account, region)
        return service, list(checks)
    return "", []


def denial(checks: list[Check]) -> str | None:
    """The first check the role fails, worded as AWS words it; None when all pass."""
    role = _role.get()
    if not app.AUTH or not role or not checks:
        return None
    keys = role_credentials(get_account_id(), role, "StepFunctions")
    # Step Functions calls AWS over TLS from inside AWS.
    iam_evaluator.pin_request_origin("127.0.0.1", True)
    for action, resource, conditions in checks:
        denied = iam_evaluator.enforce(
            keys["AWS_ACCESS_KEY_ID"],
            action,
            action.split(":", 1)[0],
            get_region(),
            resource_arn=resource,
            service_context=conditions,
        )
        if denied is not None:
            principal = getattr(denied, "principal_arn", "") or role
            logger.warning("IAM denied Step Functions (role %s): %s on %s", role, action, resource)
            return (
                f"User: {principal} is not authorized to perform: {action} on resource: {resource}"
            )
    return None


def checked(invoke: Any) -> Any:
    """An integration runner that first checks the task's calls."""

    def invoke_checked(resource: str, input_data: Any, *rest: Any) -> Any:
        service, checks = task_checks(resource, input_data)
        problem = denial(checks)
        if problem is not None:
            error, service_name = SERVICE_ERRORS[service]
            raise stepfunctions._ExecutionError(
                error,
                f"{problem} (Service: {service_name}; Status Code: 403; "
                "Error Code: AccessDeniedException)",
            )
        return invoke(resource, input_data, *rest)

    return invoke_checked


def item_reader_checked(read: Any) -> Any:
    """The Distributed Map's ItemReader, checked for the S3 call it makes."""

    def read_map_items(reader: dict[str, Any], effective: Any, ctx: Any) -> Any:
        parameters = stepfunctions._resolve_params_obj(
            reader.get("Parameters") or reader.get("Arguments") or {}, effective, ctx
        )
        bucket = str(parameters.get("Bucket", ""))
        check: Check
        if str(reader.get("Resource", "")).endswith("s3:listObjectsV2"):
            check = ("s3:ListBucket", f"arn:aws:s3:::{bucket}", {})
        else:
            check = ("s3:GetObject", f"arn:aws:s3:::{bucket}/{parameters.get('Key', '')}", {})
        problem = denial([check])
        if problem is not None:
            raise stepfunctions._ExecutionError("States.ItemReaderFailed", problem)
        return read(reader, effective, ctx)

    return read_map_items


def as_role(run_state: Any) -> Any:
    """A state runner that records whose role the execution runs as."""

    def run_as_role(state_def: Any, raw_input: Any, execution: Any, ctx: Any) -> Any:
        token = _role.set(role_of(execution or {}))
        try:
            return run_state(state_def, raw_input, execution, ctx)
        finally:
            _role.reset(token)

    return run_as_role


def install() -> None:
    """Idempotent: wraps MiniStack's task and Map runners and its integration dispatch."""
    if getattr(stepfunctions, "_driftline_iam", False):
        return
    stepfunctions._execute_task = as_role(stepfunctions._execute_task)
    stepfunctions._execute_map = as_role(stepfunctions._execute_map)
    stepfunctions._invoke_resource = checked(stepfunctions._invoke_resource)
    stepfunctions._invoke_with_callback = checked(stepfunctions._invoke_with_callback)
    stepfunctions._read_map_items = item_reader_checked(stepfunctions._read_map_items)
    stepfunctions._driftline_iam = True
