"""The local cloud runs functions as host processes with AWS's semantics."""

from __future__ import annotations

import base64
import io
import json
import platform
import re
import uuid
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from driftline.target import Target
from tests.e2e.conftest import wait_for
from tests.e2e.roles import FUNCTION

pytestmark = pytest.mark.e2e

ROLE = FUNCTION.arn

CODE = """
import os, sys, time
INVOCATIONS = 0

def describe(event, context):
    global INVOCATIONS
    INVOCATIONS += 1
    return {
        "pid": os.getpid(),
        "invocations": INVOCATIONS,
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "arn": context.invoked_function_arn,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "memory": context.memory_limit_in_mb,
        "greeting": os.environ.get("GREETING"),
        "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
        "event": event,
    }

def sleepy(event, context):
    print("going to sleep")
    time.sleep(event.get("seconds", 30))
    return {"pid": os.getpid()}

def broken(event, context):
    print("about to fail")
    raise ValueError("the widget count must be positive, got -3")

def crash(event, context):
    os._exit(7)

def layers(event, context):
    import shared
    seen = {}
    for name in ("only_a", "only_b"):
        try:
            __import__(name)
            seen[name] = True
        except ImportError:
            seen[name] = False
    return {"shared": shared.NAME, **seen}

def imports(event, context):
    found = {}
    for name in event["modules"]:
        try:
            __import__(name)
            found[name] = True
        except ImportError:
            found[name] = False
    return found

def hungry(event, context):
    held = b"\\x01" * (event["mib"] * 2**20)
    return {"held": len(held)}

def use_boto3(event, context):
    import boto3
    return {"buckets": [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]]}
"""


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


class Functions:
    """Creates throwaway functions and deletes them afterwards."""

    def __init__(self, target: Target) -> None:
        self.client = target.client("lambda")
        self.created: list[str] = []
        self.layers: list[tuple[str, int]] = []

    def layer(self, files: dict[str, str]) -> str:
        name = f"driftline-test-{uuid.uuid4().hex[:8]}"
        response = self.client.publish_layer_version(
            LayerName=name, Content={"ZipFile": _zip(files)}, CompatibleRuntimes=["python3.13"]
        )
        self.layers.append((name, response["Version"]))
        return str(response["LayerVersionArn"])

    def create(
        self,
        handler: str,
        *,
        timeout: int = 10,
        runtime: str = "python3.13",
        layers: list[str] | None = None,
        wait: bool = True,
        **extra: Any,
    ) -> str:
        name = f"driftline-test-{handler}-{uuid.uuid4().hex[:8]}"
        self.client.create_function(
            FunctionName=name,
            Runtime=runtime,
            Handler=f"app.{handler}",
            Role=ROLE,
            Code={"ZipFile": _zip({"app.py": CODE})},
            Timeout=timeout,
            Layers=layers or [],
            **extra,
        )
        self.created.append(name)
        if wait:
            self.client.get_waiter("function_active_v2").wait(FunctionName=name)
        return name

    def invoke(
        self, name: str, event: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], Any, str]:
        response = self.client.invoke(
            FunctionName=name, Payload=json.dumps(event or {}).encode(), LogType="Tail"
        )
        payload = json.loads(response["Payload"].read() or b"null")
        tail = base64.b64decode(response.get("LogResult", "")).decode()
        return response, payload, tail

    def log_text(self, name: str, needle: str, timeout: float = 30) -> str:
        """The function's CloudWatch log, once it contains ``needle``."""
        client = Target("local").client("logs")

        def probe() -> str | None:
            try:
                events = client.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
            except client.exceptions.ResourceNotFoundException:
                return None
            text = "".join(e["message"] for e in events)
            return text if needle in text else None

        return wait_for(probe, timeout, f"{needle!r} in the log group of {name}")

    def cleanup(self) -> None:
        for name in self.created:
            self.client.delete_function(FunctionName=name)
        for name, version in self.layers:
            self.client.delete_layer_version(LayerName=name, VersionNumber=version)


@pytest.fixture
def functions(target: Target, test_roles: None) -> Iterator[Functions]:
    created = Functions(target)
    try:
        yield created
    finally:
        created.cleanup()


def test_handler_gets_event_context_and_environment(functions: Functions) -> None:
    name = functions.create("describe", timeout=7, Environment={"Variables": {"GREETING": "hi"}})
    response, payload, _ = functions.invoke(name, {"answer": 42})
    assert "FunctionError" not in response
    assert payload["event"] == {"answer": 42}
    assert payload["function_name"] == name
    assert payload["arn"].endswith(f":function:{name}")
    assert 0 < payload["remaining_ms"] <= 7000
    assert payload["memory"] == "128"
    assert payload["greeting"] == "hi"
    # boto3 inside the function talks to the local cloud without being told to
    assert payload["endpoint"].startswith("http://127.0.0.1:")
    uuid.UUID(payload["request_id"])


def test_runtime_boto3_reaches_the_local_cloud(functions: Functions, target: Target) -> None:
    bucket = f"driftline-test-{uuid.uuid4().hex[:8]}"
    target.client("s3").create_bucket(Bucket=bucket)
    try:
        _, payload, _ = functions.invoke(functions.create("use_boto3"))
        assert bucket in payload["buckets"]
    finally:
        target.client("s3").delete_bucket(Bucket=bucket)


def test_a_function_sees_the_aws_runtimes_packages_not_the_local_clouds(
    functions: Functions,
) -> None:
    # Given a function with no layers
    name = functions.create("imports")
    # When it imports what AWS's Python runtime provides and what the local cloud runs on
    emulators = ["localstack", "ministack", "hypercorn", "driftline_localcloud", "rich"]
    _, payload, _ = functions.invoke(name, {"modules": ["boto3", *emulators]})
    # Then only the runtime's boto3 is there, as on AWS
    assert payload == {"boto3": True, **dict.fromkeys(emulators, False)}


def test_timeout_fails_the_invocation_and_the_next_one_starts_fresh(functions: Functions) -> None:
    # Given a function whose handler outlives its 1-second timeout
    name = functions.create("sleepy", timeout=1)
    # When it is invoked
    response, payload, tail = functions.invoke(name, {"seconds": 30})
    # Then the invocation reports the timeout, in AWS's words
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in payload["errorMessage"]
    assert "going to sleep" in tail and "Status: timeout" in tail
    functions.log_text(name, "Task timed out after 1.00 seconds")
    # And the environment recovers with a new process (a cold start)
    response, payload, _ = functions.invoke(name, {"seconds": 0})
    assert "FunctionError" not in response


def test_handler_exception_has_aws_error_shape_and_traceback_in_logs(functions: Functions) -> None:
    name = functions.create("broken")
    response, payload, _ = functions.invoke(name)
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "ValueError"
    assert payload["errorMessage"] == "the widget count must be positive, got -3"
    assert isinstance(payload["stackTrace"], list)
    assert any("in broken" in frame for frame in payload["stackTrace"])
    logged = functions.log_text(name, "Traceback (most recent call last)")
    assert "[ERROR] ValueError: the widget count must be positive, got -3" in logged
    assert "about to fail" in logged
    assert "START RequestId:" in logged and "REPORT RequestId:" in logged


def test_crashing_process_is_reported_and_replaced(functions: Functions) -> None:
    name = functions.create("crash")
    response, payload, _ = functions.invoke(name)
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.ExitError"
    assert "exit status 7" in payload["errorMessage"]


def test_missing_module_is_an_import_error(functions: Functions) -> None:
    name = f"driftline-test-missing-{uuid.uuid4().hex[:8]}"
    functions.client.create_function(
        FunctionName=name,
        Runtime="python3.13",
        Handler="nowhere.handler",
        Role=ROLE,
        Code={"ZipFile": _zip({"app.py": CODE})},
    )
    functions.created.append(name)
    functions.client.get_waiter("function_active_v2").wait(FunctionName=name)
    _, payload, _ = functions.invoke(name)
    assert payload["errorType"] == "Runtime.ImportModuleError"
    assert "Unable to import module 'nowhere'" in payload["errorMessage"]


def test_each_function_sees_only_its_own_layers(functions: Functions) -> None:
    # Given two layers with a module of the same name, and one module only each has
    layer_a = functions.layer({"python/shared.py": "NAME = 'a'", "python/only_a.py": ""})
    layer_b = functions.layer(
        {
            "python/lib/python3.13/site-packages/shared.py": "NAME = 'b'",
            "python/lib/python3.13/site-packages/only_b.py": "",
        }
    )
    with_a = functions.create("layers", layers=[layer_a])
    with_b = functions.create("layers", layers=[layer_b])
    both = functions.create("layers", layers=[layer_a, layer_b])
    # Then each function imports from its own layers only
    assert functions.invoke(with_a)[1] == {"shared": "a", "only_a": True, "only_b": False}
    assert functions.invoke(with_b)[1] == {"shared": "b", "only_a": False, "only_b": True}
    # And, as in /opt on AWS, the later layer wins a name both provide
    assert functions.invoke(both)[1] == {"shared": "b", "only_a": True, "only_b": True}


def test_warm_environment_is_reused(functions: Functions) -> None:
    name = functions.create("describe")
    _, first, first_tail = functions.invoke(name)
    _, second, second_tail = functions.invoke(name)
    assert second["pid"] == first["pid"]
    assert (first["invocations"], second["invocations"]) == (1, 2)
    assert "Init Duration" in first_tail
    assert "Init Duration" not in second_tail


def max_memory_used(tail: str) -> int:
    found = re.search(r"REPORT RequestId: .*\tMax Memory Used: (\d+) MB", tail)
    assert found, tail
    return int(found.group(1))


def test_max_memory_used_is_the_functions_own_peak(functions: Functions) -> None:
    # Given a function that holds 150 MiB while it runs, and a small one
    hungry = functions.create("hungry", MemorySize=512)
    small = functions.create("describe")
    # When each is invoked, the hungry one first
    _, payload, hungry_tail = functions.invoke(hungry, {"mib": 150})
    assert payload == {"held": 150 * 2**20}
    _, _, small_tail = functions.invoke(small)
    # Then each REPORT line gives its own process's peak, not the largest process seen
    assert max_memory_used(hungry_tail) >= 150
    assert max_memory_used(small_tail) < 150
    assert "Memory Size: 512 MB" in hungry_tail


def test_concurrent_invocations_get_separate_environments(functions: Functions) -> None:
    name = functions.create("sleepy", timeout=20)
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda _: functions.invoke(name, {"seconds": 2}), range(3)))
    assert all("FunctionError" not in response for response, _, _ in results)
    assert len({payload["pid"] for _, payload, _ in results}) == 3


def test_unsupported_runtime_fails_clearly_instead_of_hanging(functions: Functions) -> None:
    # Given a runtime the local cloud cannot run without Docker (a JVM)
    name = functions.create("describe", runtime="java21", wait=False)

    def settled() -> dict[str, Any] | None:
        configuration = functions.client.get_function_configuration(FunctionName=name)
        return configuration if configuration["State"] != "Pending" else None

    # Then the function fails at creation, naming the runtime, instead of claiming Active
    configuration = wait_for(settled, 30, f"{name} to leave Pending")
    assert configuration["State"] == "Failed"
    reason = configuration["StateReason"]
    assert "runtime 'java21' is not supported by the local cloud" in reason, reason
    # And an invocation is refused rather than answered with a made-up result
    with pytest.raises(functions.client.exceptions.ResourceConflictException):
        functions.invoke(name)


NODE_CODE = """
exports.handler = async (event, context) => {
  console.log("node sees", JSON.stringify(event));
  return { doubled: event.n * 2, request_id: context.awsRequestId, node: process.version };
};
"""


def test_a_nodejs_function_runs(functions: Functions) -> None:
    # Given a Node.js function (CDK's custom-resource handlers are Node.js)
    name = f"driftline-test-node-{uuid.uuid4().hex[:8]}"
    functions.client.create_function(
        FunctionName=name,
        Runtime="nodejs20.x",
        Handler="index.handler",
        Role=ROLE,
        Code={"ZipFile": _zip({"index.js": NODE_CODE})},
        Timeout=10,
    )

    def settled() -> dict[str, Any] | None:
        configuration = functions.client.get_function_configuration(FunctionName=name)
        return configuration if configuration["State"] != "Pending" else None

    functions.created.append(name)
    configuration = wait_for(settled, 30, f"{name} to leave Pending")
    # When it is invoked
    assert configuration["State"] == "Active", configuration.get("StateReason")
    response, payload, tail = functions.invoke(name, {"n": 21})
    # Then the handler's result comes back, and its output and AWS's lines are logged
    assert "FunctionError" not in response, payload
    assert payload["doubled"] == 42 and payload["node"].startswith("v")
    uuid.UUID(payload["request_id"])
    assert 'node sees {"n":21}' in tail
    assert f"REPORT RequestId: {payload['request_id']}" in tail
    logged = functions.log_text(name, f"END RequestId: {payload['request_id']}")
    assert 'node sees {"n":21}' in logged


def test_a_layer_whose_wheels_this_host_cannot_load_fails_clearly(functions: Functions) -> None:
    # Given a layer holding a native wheel for the other CPU architecture (what a layer
    # built for Lambda would hold on a host of another architecture or OS)
    other = "aarch64" if platform.machine() in ("x86_64", "AMD64") else "x86_64"
    layer = functions.layer(
        {
            "python/fastcsv/__init__.py": "",
            "python/fastcsv-1.2.dist-info/WHEEL": (
                f"Wheel-Version: 1.0\nRoot-Is-Purelib: false\n"
                f"Tag: cp313-cp313-manylinux_2_28_{other}\n"
            ),
        }
    )
    # When a function is created with it
    name = functions.create("describe", layers=[layer], wait=False)
    functions.created.remove(name)  # a failed version cannot be deleted (see above)

    def settled() -> dict[str, Any] | None:
        configuration = functions.client.get_function_configuration(FunctionName=name)
        return configuration if configuration["State"] != "Pending" else None

    # Then it fails at once, naming the wheel, its platform and how to build for this host
    configuration = wait_for(settled, 30, f"{name} to leave Pending")
    assert configuration["State"] == "Failed"
    reason = configuration["StateReason"]
    assert f"fastcsv 1.2 in layer {layer}" in reason, reason
    assert f"manylinux_2_28_{other}" in reason
    assert "driftline:target=local" in reason
