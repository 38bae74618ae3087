"""Each Python or Node.js invocation's log framed as AWS frames it, with a true REPORT line.

MiniStack's warm executor returns only what the handler printed (so an ``Invoke`` with
``LogType=Tail`` has no ``REPORT`` line), and the line it writes to CloudWatch Logs has
no ``Init Duration`` and no ``Status``, times the whole dispatch (unzipping included) and
reports as ``Max Memory Used`` the largest process MiniStack ever reaped
(``getrusage(RUSAGE_CHILDREN)``), not the function's. ``install`` measures each
invocation on the thread that runs it, which is the thread of ``Worker.invoke``, of the
worker's ``_spawn`` on a cold start, and of the ``_signal`` that ends a worker after a
timeout or an error:

- ``Init Duration``: from the worker's process start (its stderr reader starts right
  after ``Popen``, so unzipping the code and layers is not counted, as on AWS) until
  the runtime answered ready with the handler imported;
- ``Duration``: from the handler's start until its answer (before MiniStack's bounded
  wait for trailing stderr), or until the process was signalled;
- ``Max Memory Used``: the worker process's peak resident memory (``VmHWM`` in
  ``/proc/<pid>/status``), read after the answer or just before the process is
  ended; a process that died by itself is gone, so its line has none, nor has one on a
  host without ``/proc``;
- ``Status``: ``timeout`` for ``Sandbox.Timedout``, ``error`` for ``Runtime.ExitError``.

The framed text (``lambda_report``) replaces the result's log and is marked as a
runtime's own (MiniStack's ``log_source="rie"``), so MiniStack writes it to CloudWatch
Logs as it is instead of adding its own platform lines.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ministack.core import lambda_runtime
from ministack.services import lambda_svc

from driftline_ministack.lambda_report import (
    InvocationReport,
    framed_log,
    peak_memory_mb,
    status_of,
)


@dataclass
class Measurement:
    started: float
    ready: float | None = None  # the worker answered ready (a cold start)
    init_ms: float | None = None
    finished: float | None = None  # the handler answered, or its process was signalled
    peak_mb: int | None = None

    def finish(self) -> None:
        if self.finished is None:
            self.finished = time.monotonic()

    def duration_ms(self) -> float:
        begun = self.ready if self.ready is not None else self.started
        ended = self.finished if self.finished is not None else time.monotonic()
        return max(0.0, (ended - begun) * 1000)


_current = threading.local()


def _measurement() -> Measurement | None:
    return getattr(_current, "value", None)


def _status_of_result(result: dict[str, Any]) -> str | None:
    body = result.get("body")
    if not result.get("error") or not isinstance(body, dict):
        return None
    return status_of(str(body.get("errorType") or ""))


def report_of(result: dict[str, Any], func: dict[str, Any], request_id: str) -> str | None:
    """The framed log of the invocation just measured on this thread, or None."""
    measured = _measurement()
    _current.value = None
    if measured is None:
        return None
    config = func.get("config") or func
    report = InvocationReport(
        request_id=request_id,
        duration_ms=measured.duration_ms(),
        memory_size_mb=int(config.get("MemorySize") or 128),
        max_memory_mb=measured.peak_mb,
        init_duration_ms=measured.init_ms,
        status=_status_of_result(result),
    )
    return framed_log(str(result.get("log") or ""), str(config.get("Version", "$LATEST")), report)


Method = Callable[..., Any]


def _stamped_read_stderr(read_stderr: Method) -> Method:
    def stamped(self: Any) -> None:
        self.driftline_process_started = time.monotonic()
        read_stderr(self)

    return stamped


def _timed_spawn(spawn: Method) -> Method:
    def timed(self: Any) -> None:
        self.driftline_process_started = None
        called = time.monotonic()
        try:
            spawn(self)
        finally:
            measured = _measurement()
            if measured is not None:
                now = time.monotonic()
                started = getattr(self, "driftline_process_started", None) or called
                measured.ready, measured.init_ms = now, (now - started) * 1000

    return timed


def _measured_invoke(invoke: Method) -> Method:
    def measured_invoke(self: Any, *args: Any, **kwargs: Any) -> Any:
        measured = Measurement(started=time.monotonic())
        _current.value = measured
        answer = invoke(self, *args, **kwargs)
        measured.finish()
        process = self._proc
        if process is not None and process.poll() is None and measured.peak_mb is None:
            measured.peak_mb = peak_memory_mb(process.pid)
        return answer

    return measured_invoke


def _timed_drain(drain: Method) -> Method:
    def timed(self: Any, *args: Any, **kwargs: Any) -> str:
        if (measured := _measurement()) is not None:
            measured.finish()
        return str(drain(self, *args, **kwargs))

    return timed


def _measured_signal(signal: Method) -> Method:
    def measured_signal(process: Any) -> None:
        measured = _measurement()
        if measured is not None and process is not None and process.poll() is None:
            measured.finish()
            measured.peak_mb = peak_memory_mb(process.pid)
        signal(process)

    return measured_signal


def _framed_execute(execute: Method) -> Method:
    def framed_execute(func: dict[str, Any], event: Any, request_id: str) -> Any:
        _current.value = None
        result = execute(func, event, request_id)
        if isinstance(result, dict) and (framed := report_of(result, func, request_id)):
            result["log"] = framed
            result["log_source"] = "rie"  # MiniStack writes the lines as they are
        _current.value = None
        return result

    framed_execute.driftline_report = True  # type: ignore[attr-defined]
    return framed_execute


def install() -> None:
    """Patch MiniStack's warm executor; idempotent. Install after ``lambda_errors`` (the
    Status follows the error types it sets) and the fault hooks (a fault's cold start
    counts as the invocation's)."""
    if getattr(lambda_svc._execute_function_warm, "driftline_report", False):
        return
    worker = lambda_runtime.Worker
    worker._read_stderr = _stamped_read_stderr(worker._read_stderr)
    worker._spawn = _timed_spawn(worker._spawn)
    worker.invoke = _measured_invoke(worker.invoke)
    worker._drain_stderr_bounded = _timed_drain(worker._drain_stderr_bounded)
    lambda_runtime._signal = _measured_signal(lambda_runtime._signal)
    lambda_svc._execute_function_warm = _framed_execute(lambda_svc._execute_function_warm)
