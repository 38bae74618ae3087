"""The platform lines of one Lambda invocation's log, in AWS's words (no MiniStack here).

AWS frames what a function prints with ``START RequestId: <id> Version: <version>``,
``END RequestId: <id>`` and a ``REPORT`` line of tab-separated fields: ``Duration``
(the handler's time, initialisation excluded), ``Billed Duration`` (since August 2025 the
duration plus any initialisation, rounded up to the millisecond), ``Memory Size``,
``Max Memory Used`` (the execution environment's peak), ``Init Duration`` on a cold
start only, and ``Status: timeout`` or ``Status: error`` when the runtime did not finish
the invocation (a handler's own exception has no status). The same framed text is the
log's tail an ``Invoke`` with ``LogType=Tail`` returns and what CloudWatch Logs keeps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

# What a REPORT line's Status says for the error types the runtime, not the handler, caused.
STATUS_BY_ERROR_TYPE = {"Sandbox.Timedout": "timeout", "Runtime.ExitError": "error"}


@dataclass(frozen=True)
class InvocationReport:
    request_id: str
    duration_ms: float
    memory_size_mb: int
    max_memory_mb: int | None = None  # None: not measurable here (no /proc, process gone)
    init_duration_ms: float | None = None  # None: a warm invocation
    status: str | None = None  # "timeout" or "error"; None when the runtime finished it


def status_of(error_type: str | None) -> str | None:
    return STATUS_BY_ERROR_TYPE.get(error_type or "")


def report_line(report: InvocationReport) -> str:
    billed = math.ceil(report.duration_ms + (report.init_duration_ms or 0.0))
    fields = [
        f"REPORT RequestId: {report.request_id}",
        f"Duration: {report.duration_ms:.2f} ms",
        f"Billed Duration: {billed} ms",
        f"Memory Size: {report.memory_size_mb} MB",
    ]
    if report.max_memory_mb is not None:
        fields.append(f"Max Memory Used: {report.max_memory_mb} MB")
    if report.init_duration_ms is not None:
        fields.append(f"Init Duration: {report.init_duration_ms:.2f} ms")
    if report.status is not None:
        fields.append(f"Status: {report.status}")
    return "\t".join(fields)


def framed_log(log: str, version: str, report: InvocationReport) -> str:
    """``log`` (what the function printed) between the invocation's platform lines."""
    request = report.request_id
    printed = log.rstrip("\n")
    lines = [f"START RequestId: {request} Version: {version}"]
    lines += [printed] if printed else []
    lines += [f"END RequestId: {request}", report_line(report)]
    return "\n".join(lines) + "\n"


def peak_memory_mb(pid: int, proc: Path = Path("/proc")) -> int | None:
    """The process's peak resident memory (``VmHWM``, which starts afresh at exec, unlike
    ``getrusage``'s maximum); None where there is no ``/proc`` or the process is gone."""
    try:
        status = (proc / str(pid) / "status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    return None  # a zombie: its memory is already released
