"""CloudFormation custom resources for LocalStack's open-source engine.

The open-source engine skips every ``Custom::*`` resource and reports success, so
CDK's bucket notifications and any provider-backed resource silently do nothing. This
provider does what CloudFormation does: it sends the Create/Update/Delete request to
the ``ServiceToken`` function with a ``ResponseURL``, waits (bounded) for the response
the function PUTs there, fails the stack with the function's ``Reason``, and keeps the
returned ``Data`` so that ``Fn::GetAtt`` resolves it.

The ResponseURL is a route on LocalStack's own gateway rather than a presigned S3 URL:
nothing has to be created in the user's account and the wait ends the moment the
response arrives. The function is invoked synchronously, so one that fails without
ever answering fails the deployment with its own error at once instead of leaving it
to wait for the time limit (CloudFormation would wait up to an hour).
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from http import HTTPStatus
from pathlib import Path
from typing import Any

from localstack import config
from localstack.http import Request, Response, route
from localstack.services.cloudformation.resource_provider import (
    OperationStatus,
    ProgressEvent,
    ResourceProvider,
    ResourceRequest,
)
from localstack.services.edge import ROUTER
from localstack.utils.objects import singleton_factory

LOG = logging.getLogger(__name__)

RESPONSE_PATH = "/_driftline/cloudformation/custom-resource-responses"
# CloudFormation's own default is one hour; a local deployment should fail faster.
DEFAULT_TIMEOUT_SECONDS = 300
# How long a response may trail a function that already returned an error.
LATE_RESPONSE_GRACE_SECONDS = 2.0
PHYSICAL_ID = "PhysicalResourceId"
# The template's properties, kept beside the returned Data for Update and Delete.
ORIGINAL_PROPERTIES = "DriftlineResourceProperties"

Properties = dict[str, Any]


class CustomResourceFailed(Exception):
    pass


class ResponseRouter:
    """Receives the responses functions PUT to their ResponseURL."""

    def __init__(self) -> None:
        self._pending: dict[str, Future[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def expect(self, token: str) -> Future[dict[str, Any]]:
        future: Future[dict[str, Any]] = Future()
        with self._lock:
            self._pending[token] = future
        return future

    def forget(self, token: str) -> None:
        with self._lock:
            self._pending.pop(token, None)

    @route(f"{RESPONSE_PATH}/<token>", methods=["PUT", "POST"])
    def receive(self, request: Request, token: str) -> Response:
        with self._lock:
            future = self._pending.get(token)
        if future is None or future.done():
            return Response("no custom resource request is waiting here", HTTPStatus.NOT_FOUND)
        try:
            body = json.loads(request.get_data() or b"")
        except ValueError:
            future.set_exception(
                CustomResourceFailed("the function sent a response that is not JSON")
            )
            return Response("response is not JSON", HTTPStatus.BAD_REQUEST)
        future.set_result(body)
        return Response("", HTTPStatus.OK)


@singleton_factory
def response_router() -> ResponseRouter:
    router = ResponseRouter()
    ROUTER.add(router)
    return router


def _as_sent(value: Any) -> Any:
    """CloudFormation hands custom resources every scalar as a string ("true", "5")."""
    if isinstance(value, dict):
        return {key: _as_sent(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_sent(item) for item in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def _template_properties(model: Properties | None) -> Properties:
    if not model:
        return {}
    if ORIGINAL_PROPERTIES in model:
        return dict(model[ORIGINAL_PROPERTIES])
    return _as_sent({key: value for key, value in model.items() if key != PHYSICAL_ID})


def _invoke(
    lambda_client: Any, service_token: str, event: dict[str, Any], future: Future[Any]
) -> None:
    """Invoke the ServiceToken function; fail the wait if it errors without answering."""
    try:
        result = lambda_client.invoke(
            FunctionName=service_token, Payload=json.dumps(event).encode()
        )
    except Exception as error:  # the function could not be invoked at all
        if not future.done():
            future.set_exception(CustomResourceFailed(f"invoking {service_token} failed: {error}"))
        return
    if "FunctionError" not in result:
        return
    detail = result["Payload"].read().decode(errors="replace")

    def give_up() -> None:
        if not future.done():
            future.set_exception(
                CustomResourceFailed(f"the function failed without responding: {detail}")
            )

    # The response may still be on its way (the function answered, then failed).
    threading.Timer(LATE_RESPONSE_GRACE_SECONDS, give_up).start()


class CustomResourceProvider(ResourceProvider[Properties]):
    TYPE = "AWS::CloudFormation::CustomResource"
    SCHEMA = json.loads(Path(__file__).with_name("custom_resource.schema.json").read_text())

    def create(self, request: ResourceRequest[Properties]) -> ProgressEvent[Properties]:
        properties = _template_properties(request.desired_state)
        return self._run("Create", request, properties, old_properties=None, physical_id=None)

    def update(self, request: ResourceRequest[Properties]) -> ProgressEvent[Properties]:
        properties = _template_properties(request.desired_state)
        previous = request.previous_state or {}
        old_properties = _template_properties(previous)
        physical_id = previous.get(PHYSICAL_ID)
        event = self._run("Update", request, properties, old_properties, physical_id)
        new_id = (event.resource_model or {}).get(PHYSICAL_ID)
        if event.status == OperationStatus.SUCCESS and physical_id and new_id != physical_id:
            # A new physical id means replacement: CloudFormation deletes the old one
            # in its clean-up phase; here it follows right away.
            self._run("Delete", request, old_properties, None, physical_id)
        return event

    def delete(self, request: ResourceRequest[Properties]) -> ProgressEvent[Properties]:
        properties = _template_properties(request.desired_state)
        physical_id = (request.desired_state or {}).get(PHYSICAL_ID)
        if not physical_id:
            # Its Create never succeeded: there is nothing the function could delete.
            return ProgressEvent(status=OperationStatus.SUCCESS, resource_model={})
        event = self._run("Delete", request, properties, None, physical_id)
        if event.status == OperationStatus.SUCCESS:
            return ProgressEvent(status=OperationStatus.SUCCESS, resource_model={})
        return event

    def _run(
        self,
        request_type: str,
        request: ResourceRequest[Properties],
        properties: Properties,
        old_properties: Properties | None,
        physical_id: str | None,
    ) -> ProgressEvent[Properties]:
        name = f"{request.logical_resource_id} ({request.resource_type})"
        try:
            response = self._send(request_type, request, properties, old_properties, physical_id)
        except CustomResourceFailed as error:
            return ProgressEvent(
                status=OperationStatus.FAILED,
                resource_model={},
                message=f"Custom resource {name} {request_type} failed: {error}",
                error_code="InvalidRequest",
            )
        if response.get("Status") != "SUCCESS":
            reason = response.get("Reason") or "the function reported FAILED without a reason"
            return ProgressEvent(
                status=OperationStatus.FAILED,
                resource_model={},
                message=f"Received response status [FAILED] from custom resource. "
                f"Message returned: {reason}",
                error_code="InvalidRequest",
            )
        data = response.get("Data") or {}
        if not isinstance(data, dict):
            return ProgressEvent(
                status=OperationStatus.FAILED,
                resource_model={},
                message=f"Custom resource {name} returned Data that is not an object",
            )
        model: Properties = {
            **properties,
            **data,
            ORIGINAL_PROPERTIES: properties,
            PHYSICAL_ID: response.get(PHYSICAL_ID) or physical_id or request.logical_resource_id,
        }
        return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=model)

    def _send(
        self,
        request_type: str,
        request: ResourceRequest[Properties],
        properties: Properties,
        old_properties: Properties | None,
        physical_id: str | None,
    ) -> dict[str, Any]:
        service_token = properties.get("ServiceToken")
        if not isinstance(service_token, str) or ":lambda:" not in service_token:
            raise CustomResourceFailed(
                f"ServiceToken must be a Lambda function ARN in the local cloud, got "
                f"{service_token!r}"
            )
        token = uuid.uuid4().hex
        port = config.GATEWAY_LISTEN[0].port
        event: dict[str, Any] = {
            "RequestType": request_type,
            "ServiceToken": service_token,
            "ResponseURL": f"http://127.0.0.1:{port}{RESPONSE_PATH}/{token}",
            "StackId": request.stack_id,
            "RequestId": str(uuid.uuid4()),
            "LogicalResourceId": request.logical_resource_id,
            "ResourceType": request.resource_type,
            "ResourceProperties": properties,
        }
        if physical_id:
            event["PhysicalResourceId"] = physical_id
        if old_properties is not None:
            event["OldResourceProperties"] = old_properties
        timeout = float(properties.get("ServiceTimeout") or DEFAULT_TIMEOUT_SECONDS)

        router = response_router()
        future = router.expect(token)
        threading.Thread(
            target=_invoke,
            args=(request.aws_client_factory.lambda_, service_token, event, future),
            name=f"custom-resource-{token}",
            daemon=True,
        ).start()
        try:
            response = future.result(timeout=timeout)
        except FutureTimeoutError as error:
            raise CustomResourceFailed(
                f"no response on the ResponseURL within {timeout:.0f} seconds"
            ) from error
        finally:
            router.forget(token)
        if response.get("RequestId") not in (None, event["RequestId"]):
            raise CustomResourceFailed("the response names another request")
        LOG.debug("Custom resource %s %s: %s", request.logical_resource_id, request_type, response)
        return response
