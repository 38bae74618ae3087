"""SageMaker on MiniStack's gateway: the shared provider behind MiniStack's service tables.

MiniStack serves no SageMaker and has no plugin entry points. Its router picks a
service by the request's ``X-Amz-Target`` prefix (``router.SERVICE_PATTERNS``) and calls
``app.SERVICE_HANDLERS[service]``; IAM enforcement (``AUTH=true``) checks an action
only for services named in ``iam_actions.SERVICE_TO_IAM_NAMESPACE``, on the resource
``iam_actions.extract_resource_arn`` names (``*`` for a service it does not know).
``register`` adds SageMaker to all four. This module is the wire format only (JSON
1.1: timestamps as epoch seconds, errors as ``__type``/``message``); the operations,
the stores and the jobs are ``driftline_localcloud.sagemaker``'s, which import no
MiniStack.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.model import Shape
from driftline_localcloud.sagemaker.authorization import resource_arn
from driftline_localcloud.sagemaker.job_host import JobHost
from driftline_localcloud.sagemaker.provider import SageMakerProvider
from driftline_localcloud.sagemaker.shapes import Handler, service_model
from driftline_localcloud.sagemaker.store import SageMakerError
from ministack import app
from ministack.core import iam_actions, router
from ministack.core.responses import get_account_id, get_region

from driftline_ministack import sagemaker_runtime
from driftline_ministack.iam import role_credentials

SERVICE = "sagemaker"
TARGET_PREFIX = "SageMaker."
CONTENT_TYPE = "application/x-amz-json-1.1"
Response = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True)
class RequestContext:
    """What the provider's handlers read of a request: its account and region."""

    account_id: str
    region: str

    @classmethod
    def current(cls) -> RequestContext:
        """The account and region MiniStack set for this request (or execution thread)."""
        return cls(get_account_id(), get_region())


class MiniStackJobHost(JobHost):
    """Jobs reach MiniStack on loopback; with IAM enforced they call as their role.

    A role session is registered the way MiniStack's Lambda executor registers one for
    a function's execution role, so a job's S3 and CloudWatch calls (and the runner's
    on its behalf) are checked against the role's policies, as on AWS.
    """

    def service_events(self, account: str, region: str) -> Any:
        return ServiceEvents()

    def credentials(self, account: str, role_arn: str | None) -> dict[str, str]:
        if not app.AUTH or not role_arn:
            return super().credentials(account, role_arn)
        return role_credentials(account, role_arn, "SageMaker")


class ServiceEvents:
    """PutEvents as MiniStack's own services put theirs: in-process, with ``aws.*``
    sources allowed (a caller's PutEvents gets NotAuthorizedForSourceException), in the
    account and region of the request being served."""

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        from ministack.services import eventbridge

        _, _, body = eventbridge._put_events({"Entries": Entries}, allow_aws_source=True)
        answer: dict[str, Any] = json.loads(body)
        return answer


# -- wire format --------------------------------------------------------------------
def parse(value: Any, shape: Shape | None) -> Any:
    """A JSON request value as the provider expects it: timestamps as datetimes."""
    if shape is None or value is None:
        return value
    if shape.type_name == "structure" and isinstance(value, dict):
        members = shape.members
        return {key: parse(item, members.get(key)) for key, item in value.items()}
    if shape.type_name == "list" and isinstance(value, list):
        return [parse(item, shape.member) for item in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {key: parse(item, shape.value) for key, item in value.items()}
    if shape.type_name == "timestamp":
        if isinstance(value, int | float):
            return datetime.fromtimestamp(value, UTC)
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return value


def _epoch_seconds(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def answer(status: int, document: dict[str, Any]) -> Response:
    body = json.dumps(document, default=_epoch_seconds).encode()
    return status, {"Content-Type": CONTENT_TYPE}, body


def error(status: int, code: str, message: str) -> Response:
    return answer(status, {"__type": code, "message": message})


class SageMakerGateway:
    """The provider's operations as one MiniStack service handler."""

    def __init__(self, provider: SageMakerProvider) -> None:
        self.provider = provider
        self.handlers: dict[str, Handler] = provider.dispatch_table()

    def call(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        """An operation in-process (Step Functions' integrations); raises SageMakerError."""
        return self.handlers[operation](RequestContext.current(), request)

    async def handle_request(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        query_params: dict[str, Any],
    ) -> Response:
        operation = headers.get("x-amz-target", "").removeprefix(TARGET_PREFIX)
        endpoint = None if operation else sagemaker_runtime.invocation_of(method, path)
        if endpoint is not None:
            context = RequestContext.current()
            return await sagemaker_runtime.invoke(
                self.provider.endpoints,
                endpoint,
                headers,
                body,
                context.account_id,
                context.region,
            )
        handler = self.handlers.get(operation)
        if handler is None:
            return error(
                400,
                "UnknownOperationException",
                f"The local cloud does not serve SageMaker's {operation or 'request'}.",
            )
        try:
            document = json.loads(body or b"{}")
            shape = service_model().operation_model(operation).input_shape
            request = parse(document, shape)
        except ValueError as problem:
            return error(400, "SerializationException", f"The request is not valid: {problem}")
        context = RequestContext.current()
        try:
            # Handlers take the stores' lock; keep the event loop free meanwhile.
            response = await asyncio.to_thread(handler, context, request)
        except SageMakerError as failure:
            return error(failure.status, failure.code, failure.message)
        return answer(200, response)


def with_sagemaker_resources(extract: Any) -> Any:
    """MiniStack's resource-ARN extraction, naming SageMaker's resources too."""

    def extract_resource_arn(
        service: str,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        query_params: dict[str, Any],
        region: str,
        account_id: str,
    ) -> str:
        if service != SERVICE:
            return str(
                extract(service, method, path, headers, body, query_params, region, account_id)
            )
        operation = headers.get("x-amz-target", "").removeprefix(TARGET_PREFIX)
        if not operation:
            return sagemaker_runtime.endpoint_arn(path, account_id, region)
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return "*"
        return resource_arn(
            operation, request if isinstance(request, dict) else {}, account_id, region
        )

    return extract_resource_arn


def with_sagemaker_actions(extract: Any) -> Any:
    """MiniStack's action extraction, naming the runtime's InvokeEndpoint too (it has no
    ``X-Amz-Target`` and no route in SageMaker's own service model)."""

    def extract_iam_action(
        service: str,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        query_params: dict[str, Any],
    ) -> str | None:
        if service == SERVICE and sagemaker_runtime.invocation_of(method, path) is not None:
            return sagemaker_runtime.ACTION
        found: str | None = extract(service, method, path, headers, body, query_params)
        return found

    return extract_iam_action


def register(work_root: Path) -> SageMakerGateway:
    """Serve SageMaker on MiniStack's gateway; returns the gateway (for the integrations)."""
    port = app._resolve_port()
    host = MiniStackJobHost(endpoint=f"http://127.0.0.1:{port}", work_root=work_root)
    gateway = SageMakerGateway(SageMakerProvider(host))
    router.SERVICE_PATTERNS[SERVICE] = {"target_prefixes": [TARGET_PREFIX]}
    app.SERVICE_HANDLERS[SERVICE] = gateway.handle_request
    iam_actions.SERVICE_TO_IAM_NAMESPACE[SERVICE] = SERVICE
    iam_actions.extract_resource_arn = with_sagemaker_resources(iam_actions.extract_resource_arn)
    iam_actions.extract_iam_action = with_sagemaker_actions(iam_actions.extract_iam_action)
    return gateway
