"""The pieces of driftline's MiniStack additions that need no MiniStack: the runtime's
route and the endpoints' host over a job host."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

# The local cloud's code runs in MiniStack's own environment; these parts need none of it.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "local"))
from driftline_localcloud.sagemaker.endpoint_serving import InvocationError  # noqa: E402
from driftline_localcloud.sagemaker.job_host import JobHost  # noqa: E402
from driftline_localcloud.sagemaker.serving_host import JobServingHost  # noqa: E402
from driftline_ministack import sagemaker_runtime  # noqa: E402

sys.path.pop(0)

ACCOUNT, REGION = "000000000000", "us-east-1"


def run[T](coroutine: Coroutine[Any, Any, T]) -> T:
    """Runs a coroutine on a loop of its own thread: the session may hold a running loop
    in this one (the report tests' Playwright does), where ``asyncio.run`` is refused."""
    with ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(asyncio.run, coroutine).result()


class Endpoints:
    """Answers like the provider's endpoints: one row scored, or the error given."""

    def __init__(self, error: InvocationError | None = None) -> None:
        self.error = error
        self.requests: list[dict[str, Any]] = []

    def invoke(self, account: str, region: str, request: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(request)
        if self.error is not None:
            raise self.error
        return {"Body": b"7,0.91\n", "ContentType": "text/csv", "InvokedProductionVariant": "a"}


def test_only_an_invocation_path_names_an_endpoint() -> None:
    assert sagemaker_runtime.invocation_of("POST", "/endpoints/dl-live/invocations") == "dl-live"
    assert sagemaker_runtime.invocation_of("POST", "/endpoints/a%2Fb/invocations") == "a/b"
    assert sagemaker_runtime.invocation_of("GET", "/endpoints/dl-live/invocations") is None
    assert sagemaker_runtime.invocation_of("POST", "/") is None
    # and IAM sees the endpoint's ARN, lower-cased as SageMaker's ARNs are
    assert sagemaker_runtime.endpoint_arn("/endpoints/DL-Live/invocations", ACCOUNT, REGION) == (
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/dl-live"
    )


def test_an_invocation_passes_the_headers_and_answers_as_the_runtime() -> None:
    # Given an endpoint that scores a row
    endpoints = Endpoints()
    headers = {
        "content-type": "text/csv",
        "accept": "text/csv",
        "x-amzn-sagemaker-target-variant": "a",
    }
    # When a row is sent to it
    status, answer_headers, body = run(
        sagemaker_runtime.invoke(endpoints, "live", headers, b"7,1.0\n", ACCOUNT, REGION)  # type: ignore[arg-type]
    )
    # Then the request reaches it with its members, and the answer carries the variant
    (request,) = endpoints.requests
    assert request == {
        "EndpointName": "live",
        "Body": b"7,1.0\n",
        "ContentType": "text/csv",
        "Accept": "text/csv",
        "TargetVariant": "a",
    }
    assert (status, body) == (200, b"7,0.91\n")
    assert answer_headers["x-Amzn-Invoked-Production-Variant"] == "a"


def test_a_model_error_keeps_its_code_status_and_members() -> None:
    # Given an endpoint whose model answers a client error
    error = InvocationError("ModelError", "bad row", 424, OriginalStatusCode=400)
    # When it is invoked
    status, headers, body = run(
        sagemaker_runtime.invoke(Endpoints(error), "live", {}, b"x", ACCOUNT, REGION)  # type: ignore[arg-type]
    )
    # Then the runtime's error comes back as botocore reads a REST-JSON error
    assert (status, headers["x-amzn-ErrorType"]) == (424, "ModelError")
    assert json.loads(body) == {"message": "bad row", "OriginalStatusCode": 400}


class RoleHost(JobHost):
    def credentials(self, account: str, role_arn: str | None) -> dict[str, str]:
        if role_arn is None:
            return super().credentials(account, role_arn)
        return {"AWS_ACCESS_KEY_ID": f"role-of-{account}", "AWS_SECRET_ACCESS_KEY": "s"}


def test_endpoints_act_as_the_models_role_in_the_roles_account(tmp_path: Path) -> None:
    serving = JobServingHost(RoleHost("http://127.0.0.1:1", tmp_path))
    # A model without a role acts as the account; with one, as that role
    assert serving.credentials(None, "ep", REGION) is None
    keys = serving.credentials("arn:aws:iam::123456789012:role/sm", "ep", REGION)
    assert keys == {"AWS_ACCESS_KEY_ID": "role-of-123456789012", "AWS_SECRET_ACCESS_KEY": "s"}
    # and its processes get those keys and the gateway, nothing of the host
    environment = serving.environment(Path("/venv/bin/python"), ACCOUNT, REGION, keys)
    assert environment["AWS_ACCESS_KEY_ID"] == "role-of-123456789012"
    assert environment["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"
    assert serving.work_root("endpoint", "ep-a").is_relative_to(tmp_path)
