"""A function MiniStack cannot run here ends ``Failed`` when it is created, with the reason.

MiniStack marks every function ``Active`` half a second after it is created or
updated. Without Docker it then answers an invocation of a Java, .NET or Ruby function
with a made-up success (``Mock response - java21 not supported for local execution``),
and a function whose package or layers hold wheels this host cannot load fails only at
its first import, deep inside the handler. ``install`` checks a function when MiniStack
schedules that transition:

- the runtime: Python (``python3.x``) and Node.js (``nodejs*``, with ``node`` on the
  PATH) run as host processes, custom runtimes (``provided.*``) run their ``bootstrap``;
  any other runtime, and a container image, would need Docker;
- the wheels: ``driftline_localcloud.lambda_runtime.compatibility``, read from the
  code's and the layers' archives without unzipping.

Such a function goes ``Failed`` with the reason as ``StateReason`` (and
``LastUpdateStatusReason``), where AWS reports what it cannot start; invoking it is
refused with ``ResourceConflictException``, as on AWS. A function deployed by
CloudFormation fails its resource (and so the deployment) with the reason.
"""

from __future__ import annotations

import io
import logging
import shutil
import threading
import time
import zipfile
from collections.abc import Callable, Mapping
from importlib.resources.abc import Traversable
from typing import Any

from driftline_localcloud.lambda_runtime.compatibility import foreign_wheels, mismatch_message

LOG = logging.getLogger(__name__)

HOST_PROCESS_RUNTIMES = ("python", "nodejs", "provided")


def unsupported_runtime(
    function: str, runtime: str, package_type: str, node: str | None
) -> tuple[str, str] | None:
    """(StateReasonCode, reason) for a function the local cloud cannot start, else None."""
    if package_type == "Image":
        return (
            "InvalidImage",
            f"Function {function}: container-image functions need Docker; the local cloud "
            "runs zip-packaged functions as host processes.",
        )
    if not runtime.startswith(HOST_PROCESS_RUNTIMES):
        return (
            "InvalidRuntime",
            f"Function {function}: runtime {runtime!r} is not supported by the local cloud, "
            "which runs Python (python3.x), Node.js (nodejs*) and custom-runtime "
            f"(provided.*) functions as host processes; {runtime} would need a container "
            "runtime, and the local cloud runs without Docker.",
        )
    if runtime.startswith("nodejs") and node is None:
        return (
            "InvalidRuntime",
            f"Function {function}: runtime {runtime!r} is not supported by the local cloud "
            "on this machine: no `node` executable is on the PATH. Install Node.js and "
            "start the local cloud again.",
        )
    return None


def archive(data: bytes) -> Traversable:
    return zipfile.Path(zipfile.ZipFile(io.BytesIO(data)))


def foreign_wheel_reason(function: str, archives: Mapping[str, bytes]) -> str | None:
    """The reason a function whose archives (source -> zip) hold wheels this host cannot
    load fails, or None."""
    roots = {source: archive(data) for source, data in archives.items()}
    found = foreign_wheels(roots)
    return mismatch_message(function, found) if found else None


def refusal(
    config: dict[str, Any],
    code: bytes | None,
    layer_zip: Callable[[Any], bytes | None],
    node: str | None,
) -> tuple[str, str] | None:
    """(StateReasonCode, reason) if the function cannot run here, else None."""
    name = str(config.get("FunctionName", ""))
    runtime = str(config.get("Runtime") or "")
    if found := unsupported_runtime(name, runtime, str(config.get("PackageType", "Zip")), node):
        return found
    archives = {"the function's package": code} if code else {}
    for layer in config.get("Layers") or []:
        arn = layer if isinstance(layer, str) else layer.get("Arn", "")
        if data := layer_zip(layer):
            archives[f"layer {arn}"] = data
    try:
        reason = foreign_wheel_reason(name, archives)
    except zipfile.BadZipFile as error:  # MiniStack refuses unreadable code before this
        return "InvalidZipFileException", f"Function {name}: an archive is not a zip: {error}"
    return ("InvalidConfiguration", reason) if reason else None


def mark_failed(config: dict[str, Any], code: str, reason: str) -> None:
    config.update(
        State="Failed",
        StateReason=reason,
        StateReasonCode=code,
        LastUpdateStatus="Failed",
        LastUpdateStatusReason=reason,
        LastUpdateStatusReasonCode=code,
    )


def failed_state(record: dict[str, Any], qualifier: str | None) -> bool:
    """Whether the invoked version is ``Failed`` (an alias's is not looked up)."""
    versions = record.get("versions") or {}
    if qualifier in (None, "", "$LATEST"):
        chosen = record
    elif qualifier in versions:
        chosen = versions[qualifier]
    else:
        return False
    return bool((chosen.get("config") or {}).get("State") == "Failed")


def record_refusal(lambda_svc: Any, record: dict[str, Any]) -> tuple[str, str] | None:
    """``refusal`` of one of MiniStack's function records."""
    config = record.get("config") or {}
    layer_zip = lambda_svc._resolve_layer_zip
    return refusal(config, record.get("code_zip"), layer_zip, shutil.which("node"))


def _checked_transition(lambda_svc: Any, schedule: Callable[[str, float], None]) -> Any:
    def checked_transition(func_name: str, delay: float) -> None:
        record = lambda_svc._functions.get(func_name)
        found = record_refusal(lambda_svc, record) if record and record.get("config") else None
        if record is None or found is None:
            schedule(func_name, delay)
            return
        code, reason = found
        LOG.warning("Lambda %s cannot run on the local cloud: %s", func_name, reason)
        pending = [record["config"]] + [
            version["config"]
            for version in (record.get("versions") or {}).values()
            if (version.get("config") or {}).get("State") == "Pending"
        ]

        def fail() -> None:
            time.sleep(delay)
            for each in pending:
                mark_failed(each, code, reason)

        threading.Thread(target=fail, name=f"lambda-failed-{func_name}", daemon=True).start()

    checked_transition.driftline_checks = True  # type: ignore[attr-defined]
    return checked_transition


def _refusing_invoke(lambda_svc: Any, invoke: Any) -> Any:
    from ministack.core.responses import error_response_json

    async def refusing_invoke(
        name: str,
        event: Any,
        headers: Any,
        path_qualifier: str | None = None,
        query_params: dict[str, Any] | None = None,
    ) -> Any:
        record = lambda_svc._functions.get(name) if name in lambda_svc._functions else None
        qualifier = (
            path_qualifier
            or lambda_svc._qp_first(query_params or {}, "Qualifier")
            or lambda_svc._qp_first(headers, "x-amz-qualifier")
        )
        if record is not None and failed_state(record, qualifier):
            return error_response_json(
                "ResourceConflictException",
                "The operation cannot be performed at this time. The function is currently "
                "in the following state: Failed",
                409,
            )
        return await invoke(name, event, headers, path_qualifier, query_params)

    return refusing_invoke


def checked_function_resources(lambda_svc: Any, handlers: dict[str, Any]) -> dict[str, Any]:
    """``AWS::Lambda::Function``'s CloudFormation handlers, failing the resource with the
    reason (MiniStack's provisioner writes functions ``Active`` without the API's path,
    where CloudFormation on AWS waits for the function to start and fails the stack with
    its state reason). A refused new function is deleted again; a refused update leaves
    the function ``Failed``."""
    create, update, delete = handlers["create"], handlers["update"], handlers["delete"]

    def refused(name: str) -> tuple[str, str] | None:
        record = lambda_svc._functions.get(name)
        found = record_refusal(lambda_svc, record) if record else None
        if record is not None and found is not None:
            mark_failed(record["config"], *found)
        return found

    def checked_create(logical_id: str, props: dict[str, Any], stack_name: str) -> Any:
        name, attributes = create(logical_id, props, stack_name)
        if found := refused(name):
            delete(name, props)
            raise ValueError(f"AWS::Lambda::Function {logical_id}: {found[1]}")
        return name, attributes

    def checked_update(
        physical_id: str, old: dict[str, Any], new: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Any:
        result = update(physical_id, old, new, *args, **kwargs)
        name = result[0] if isinstance(result, tuple) else physical_id
        if found := refused(str(name)):
            raise ValueError(f"AWS::Lambda::Function {physical_id}: {found[1]}")
        return result

    return {**handlers, "create": checked_create, "update": checked_update}


def install() -> None:
    """Patch MiniStack's Lambda service and its CloudFormation provisioner; idempotent."""
    from ministack.services import lambda_svc
    from ministack.services.cloudformation import provisioners

    if getattr(lambda_svc._schedule_state_transition, "driftline_checks", False):
        return
    schedule = lambda_svc._schedule_state_transition
    lambda_svc._schedule_state_transition = _checked_transition(lambda_svc, schedule)
    lambda_svc._invoke = _refusing_invoke(lambda_svc, lambda_svc._invoke)
    handlers = provisioners._RESOURCE_HANDLERS
    kind = "AWS::Lambda::Function"
    handlers[kind] = checked_function_resources(lambda_svc, handlers[kind])
