"""Fault injection on MiniStack: the ``/_driftline/faults`` route and the Lambda faults.

The registry and its SageMaker faults are the shared ones
(``driftline_localcloud.faults``; the provider takes them itself). What MiniStack needs
besides is the route, served in front of its ASGI app, and the two Lambda faults, which
act on MiniStack's own execution environments: a warm worker per function, a host
process that ``lambda_runtime.Worker.invoke`` talks to over a pipe and kills when the
function's timeout passes.

- ``crash``: the worker's process is killed (SIGKILL) ``after_seconds`` after the
  invocation was handed to it; MiniStack reports the invocation failed and starts a
  fresh process next time, as AWS resets the sandbox.
- ``timeout``: the process is frozen (SIGSTOP, as if stuck in C code) and the
  invocation's time limit becomes ``seconds`` (default: the function's), so MiniStack's
  own limit ends it with ``Task timed out after N.00 seconds``.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from driftline_localcloud.faults import FAULTS_PATH, Fault, faults
from ministack.core import lambda_runtime

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]


async def _body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def with_fault_route(inner: Asgi) -> Asgi:
    """MiniStack's ASGI app with ``/_driftline/faults`` answered in front of it."""

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != FAULTS_PATH:
            await inner(scope, receive, send)
            return
        status, document = faults().handle(scope["method"], await _body(receive))
        body = json.dumps(document).encode() if document is not None else b""
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": int(status), "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return serve


def _ready_process(worker: Any) -> Any:
    """The worker's live process, started (cold) first if it has none: a fault acts on
    the process that runs the invocation, not on one still importing the handler."""
    with worker._lock:
        if worker._proc is None or worker._proc.poll() is not None:
            worker._spawn()
            worker._cold = False
        return worker._proc


def _kill_later(process: Any, seconds: float) -> None:
    def kill() -> None:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)

    timer = threading.Timer(seconds, kill)
    timer.daemon = True
    timer.start()


def _invoke_with_fault(worker: Any, fault: Fault, invoke: Callable[[], Any]) -> Any:
    process = _ready_process(worker)
    if fault.action == "crash":
        _kill_later(process, fault.after_seconds)
        return invoke()
    # timeout: frozen, and ended by MiniStack's own time limit (seconds, if given)
    os.kill(process.pid, signal.SIGSTOP)
    config = worker.config
    if fault.seconds is not None:
        worker.config = {**config, "Timeout": int(fault.seconds)}
    try:
        return invoke()
    finally:
        worker.config = config


def hook_lambda_faults() -> None:
    """Route every Python/Node.js invocation past the armed ``lambda`` faults; idempotent."""
    original = lambda_runtime.Worker.invoke
    if getattr(original, "driftline_faults", False):
        return

    def invoke(self: Any, event: Any, request_id: str, **options: Any) -> Any:
        fault = faults().take("lambda", name=self.func_name, subject=json.dumps(event, default=str))
        if fault is None:
            return original(self, event, request_id, **options)
        return _invoke_with_fault(self, fault, lambda: original(self, event, request_id, **options))

    invoke.driftline_faults = True  # type: ignore[attr-defined]
    lambda_runtime.Worker.invoke = invoke
