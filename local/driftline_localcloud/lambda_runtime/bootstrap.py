"""The Python Lambda runtime of the local cloud: one host process per execution environment.

This file runs *inside* the function's process (started by ``ProcessRuntimeExecutor``)
with an isolated interpreter (``python -I -S``), so it may only use the standard
library: the function must see its own code, its layers and the runtime's boto3,
nothing of LocalStack's or the project's environment.

It speaks LocalStack's execution-environment protocol: it serves ``POST /invoke`` on a
loopback port and reports ``status/<id>/ready``, ``invocations/<id>/logs``,
``invocations/<id>/response`` and ``invocations/<id>/error`` back to LocalStack. The
function timeout is enforced by the parent, which can kill a process stuck in C code;
everything else (handler resolution, context, error shape, START/END/REPORT lines)
follows what the AWS Python runtime does.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import queue
import sys
import threading
import time
import traceback
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ENDPOINT = os.environ["LOCALSTACK_RUNTIME_ENDPOINT"]
RUNTIME_ID = os.environ["LOCALSTACK_RUNTIME_ID"]
# Internal variables the function must not see (AWS hides its runtime's details too).
PORT = int(os.environ.pop("DRIFTLINE_RUNTIME_PORT"))
PATHS: list[str] = json.loads(os.environ.pop("DRIFTLINE_RUNTIME_PATHS"))
HANDLER = os.environ.get("_HANDLER", "")
TIMEOUT_SECONDS = int(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "3"))
MEMORY_MB = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
VERSION = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")


class InvocationLog(io.TextIOBase):
    """Collects what the function prints during one invocation; echoes it to the process log."""

    def __init__(self, echo: io.TextIOBase) -> None:
        self._echo = echo
        self._parts: list[str] = []
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            self._parts.append(text)
        self._echo.write(text)
        self._echo.flush()
        return len(text)

    def flush(self) -> None:
        self._echo.flush()

    def drain(self) -> str:
        with self._lock:
            text = "".join(self._parts)
            self._parts.clear()
        return text


class LambdaContext:
    """The attributes and method the AWS Python runtime's context object offers."""

    def __init__(self, request_id: str, invoked_arn: str, deadline: float) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = VERSION
        self.memory_limit_in_mb = str(MEMORY_MB)
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class HandlerError(Exception):
    """An error of the runtime itself (import, handler lookup, marshalling)."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def _post(path: str, body: bytes, content_type: str = "application/json") -> None:
    request = urllib.request.Request(
        f"{ENDPOINT}{path}", data=body, method="POST", headers={"Content-Type": content_type}
    )
    # LocalStack answers 202 at once; the bound only protects against a stopped LocalStack.
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


def _load_handler() -> Any:
    module_name, _, function_name = HANDLER.rpartition(".")
    if not module_name or not function_name:
        raise HandlerError(
            "Runtime.MalformedHandlerName",
            f"Bad handler '{HANDLER}': not enough values to unpack (expected 2, got 1)",
        )
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as error:
        raise HandlerError(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {error}"
        ) from error
    except SyntaxError as error:
        raise HandlerError(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {error}"
        ) from error
    handler = getattr(module, function_name, None)
    if handler is None:
        raise HandlerError(
            "Runtime.HandlerNotFound",
            f"Handler '{function_name}' missing on module '{module_name}'",
        )
    return handler


def _error_payload(error: BaseException, request_id: str) -> dict[str, Any]:
    if isinstance(error, HandlerError):
        error_type = error.error_type
        stack: list[str] = []
        if error.__cause__ is not None:
            stack = traceback.format_tb(error.__cause__.__traceback__)
    else:
        error_type = type(error).__name__
        # Drop this runtime's own frame, as the AWS runtime does.
        stack = traceback.format_tb(error.__traceback__)[1:]
    return {
        "errorMessage": str(error),
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": stack,
    }


def _peak_memory_mb() -> int:
    # VmHWM restarts at exec; getrusage's ru_maxrss would report LocalStack's own peak.
    with Path("/proc/self/status").open() as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    return 0


def _log_error(error: BaseException, payload: dict[str, Any]) -> None:
    lines = [f"[ERROR] {payload['errorType']}: {payload['errorMessage']}"]
    source = error.__cause__ if isinstance(error, HandlerError) and error.__cause__ else error
    lines.append("".join(traceback.format_exception(source)).rstrip())
    print("\n".join(lines), file=sys.stderr)


class Runtime:
    def __init__(self) -> None:
        self.invocations: queue.Queue[dict[str, Any]] = queue.Queue()
        self.log = InvocationLog(sys.__stderr__)  # type: ignore[arg-type]
        self.handler: Any = None
        self.init_error: HandlerError | None = None
        self.init_duration_ms = 0.0

    def initialise(self) -> None:
        sys.stdout = self.log
        sys.stderr = self.log
        started = time.perf_counter()
        try:
            self.handler = _load_handler()
        except HandlerError as error:
            self.init_error = error
        except Exception as error:  # the module raised while importing: AWS reports it as is
            self.init_error = HandlerError(type(error).__name__, str(error))
            self.init_error.__cause__ = error
        self.init_duration_ms = (time.perf_counter() - started) * 1000

    def invoke(self, invocation: dict[str, Any]) -> None:
        request_id = invocation["invoke-id"]
        os.environ["_X_AMZN_TRACE_ID"] = invocation.get("trace-id") or ""
        init_duration = self.init_duration_ms
        self.init_duration_ms = 0.0
        print(f"START RequestId: {request_id} Version: {VERSION}")
        started = time.monotonic()
        context = LambdaContext(
            request_id, invocation["invoked-function-arn"], started + TIMEOUT_SECONDS
        )
        outcome: tuple[str, bytes]
        try:
            if self.init_error is not None:
                raise self.init_error
            event = json.loads(invocation.get("payload") or "null")
            result = self.handler(event, context)
            try:
                body = json.dumps(result).encode()
            except (TypeError, ValueError) as error:
                raise HandlerError(
                    "Runtime.MarshalError", f"Unable to marshal response: {error}"
                ) from error
            outcome = ("response", body)
        except Exception as error:
            payload = _error_payload(error, request_id)
            _log_error(error, payload)
            outcome = ("error", json.dumps(payload).encode())
        duration_ms = (time.monotonic() - started) * 1000
        max_rss_mb = _peak_memory_mb()
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {int(duration_ms) + 1} ms\tMemory Size: {MEMORY_MB} MB\t"
            f"Max Memory Used: {max_rss_mb} MB"
        )
        if init_duration:
            report += f"\tInit Duration: {init_duration:.2f} ms"
        print(f"END RequestId: {request_id}")
        print(report)
        base = f"/invocations/{request_id}"
        _post(f"{base}/logs", json.dumps({"logs": self.log.drain()}).encode())
        _post(f"{base}/{outcome[0]}", outcome[1])

    def serve(self) -> None:
        runtime = self

        class InvokeEndpoint(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                runtime.invocations.put(json.loads(self.rfile.read(length)))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return  # request lines are noise in the function's log

        server = ThreadingHTTPServer(("127.0.0.1", PORT), InvokeEndpoint)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        _post(f"/status/{RUNTIME_ID}/ready", b"{}")
        while True:
            self.invoke(self.invocations.get())


def _exit_with_parent() -> None:
    """A function process must not outlive the local cloud that started it."""
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


def main() -> None:
    sys.path[:0] = PATHS
    threading.Thread(target=_exit_with_parent, name="parent-watch", daemon=True).start()
    runtime = Runtime()
    runtime.initialise()
    runtime.serve()


if __name__ == "__main__":
    main()
