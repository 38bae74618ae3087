"""SageMaker's runtime on MiniStack's gateway: InvokeEndpoint over the shared endpoints.

The runtime's one call, ``POST /endpoints/<name>/invocations``, is signed for
``sagemaker`` and carries no ``X-Amz-Target``, so MiniStack's router hands it to the
SageMaker service handler, which passes it here (``invocation_of`` tells it apart). The
endpoints are the provider's (``driftline_localcloud.sagemaker.endpoints``). The wire
format is REST-JSON as AWS's runtime speaks it: the body and content type pass through,
the variant that answered comes back in ``x-Amzn-Invoked-Production-Variant``, and an
error carries its code in ``x-amzn-ErrorType`` with ModelError's members in the body.
With IAM enforced the call is authorized as ``sagemaker:InvokeEndpoint`` on the
endpoint's ARN.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any
from urllib.parse import unquote

from driftline_localcloud.sagemaker.endpoint_serving import InvocationError
from driftline_localcloud.sagemaker.endpoints import EndpointService
from driftline_localcloud.sagemaker.store import arn

INVOCATIONS = re.compile(r"^/endpoints/([^/]+)/invocations$")
ACTION = "sagemaker:InvokeEndpoint"
Response = tuple[int, dict[str, str], bytes]
# Request headers -> InvokeEndpoint's members, as botocore's model names them.
HEADERS = {
    "content-type": "ContentType",
    "accept": "Accept",
    "x-amzn-sagemaker-custom-attributes": "CustomAttributes",
    "x-amzn-sagemaker-target-variant": "TargetVariant",
    "x-amzn-sagemaker-target-model": "TargetModel",
    "x-amzn-sagemaker-inference-id": "InferenceId",
}


def invocation_of(method: str, path: str) -> str | None:
    """The endpoint an InvokeEndpoint request names, or None for any other request."""
    found = INVOCATIONS.match(path)
    return unquote(found.group(1)) if method == "POST" and found else None


def endpoint_arn(path: str, account: str, region: str) -> str:
    name = invocation_of("POST", path)
    return arn(account, region, "endpoint", name) if name else "*"


async def invoke(
    endpoints: EndpointService,
    name: str,
    headers: dict[str, str],
    body: bytes,
    account: str,
    region: str,
) -> Response:
    request: dict[str, Any] = {"EndpointName": name, "Body": body}
    for header, member in HEADERS.items():
        if headers.get(header):
            request[member] = headers[header]
    try:
        # The model answers in a serving process; keep the event loop free meanwhile.
        answer = await asyncio.to_thread(endpoints.invoke, account, region, request)
    except InvocationError as error:
        document = {"message": error.message, **error.fields}
        return (
            error.status,
            {"Content-Type": "application/json", "x-amzn-ErrorType": error.code},
            json.dumps(document).encode(),
        )
    return (
        200,
        {
            "Content-Type": str(answer["ContentType"]),
            "x-Amzn-Invoked-Production-Variant": str(answer["InvokedProductionVariant"]),
        },
        bytes(answer["Body"]),
    )
