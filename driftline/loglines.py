"""Log lines as ``driftline logs`` shows them: time, source, request and correlation ids.

CloudWatch Logs holds three kinds of lines from the app's functions: Powertools' JSON
lines (with ``function_request_id`` and ``correlation_id``), the runtime's plain lines
(``START``/``END``/``REPORT RequestId: ...``, ``[LEVEL]\\t<time>\\t<request id>\\t...``,
tracebacks) and embedded-metric records. :class:`LineParser` reads all three and gives
a plain line the request id of the invocation it belongs to (its log stream's current
``START``) and that request's correlation id, so every line can be traced to the object
key or execution it served.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

# Keys of a Powertools line that say where it came from, not what happened.
_CONTEXT_KEYS = frozenset(
    {
        "level",
        "location",
        "message",
        "timestamp",
        "service",
        "cold_start",
        "function_name",
        "function_memory_size",
        "function_arn",
        "function_request_id",
        "correlation_id",
        "xray_trace_id",
        "sampling_rate",
    }
)
_RUNTIME_LINE = re.compile(r"^(START|END|REPORT) RequestId: (\S+)")
# The AWS Python runtime's own format: [LEVEL]\t<time>\t<request id>\t<message>.
_AWS_LOGGING = re.compile(r"^\[([A-Z]+)\]\t\S+\t([0-9a-f-]{36})\t(.*)$", re.DOTALL)
_DURATION = re.compile(r"^(\d+)\s*([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
# How far each poll of --follow looks back for lines that arrived late.
LOOK_BACK = timedelta(seconds=30)


@dataclass(frozen=True)
class LogLine:
    time: datetime
    source: str
    message: str
    request_id: str | None = None
    correlation_id: str | None = None
    level: str | None = None
    log_group: str | None = None
    log_stream: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    # Identifies the line across polls (CloudWatch's eventId, a history event's id).
    key: str = ""

    def as_json(self) -> dict[str, Any]:
        """One line of ``driftline logs --json`` (a stable interface: keys are only added)."""
        return {
            "time": self.time.isoformat(),
            "source": self.source,
            "log_group": self.log_group,
            "log_stream": self.log_stream,
            "request_id": self.request_id,
            "correlation_id": self.correlation_id,
            "level": self.level,
            "message": self.message,
            "fields": self.fields,
        }


def since(text: str, now: datetime | None = None) -> datetime:
    """``--since``: a duration back from now (``30s``, ``10m``, ``2h``, ``1d``) or an ISO
    8601 time (UTC unless it names an offset). ValueError says what is accepted."""
    now = now or datetime.now(UTC)
    match = _DURATION.match(text.strip())
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a duration (30s, 10m, 2h, 1d) nor an ISO 8601 time"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def milliseconds(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class LineParser:
    """Turns CloudWatch Logs events of one log group into :class:`LogLine` objects.

    Keeps, across calls, which request each stream is in and each request's
    correlation id, so that follow-up polls annotate their lines too.
    """

    def __init__(self, source: str, group: str) -> None:
        self.source, self.group = source, group
        self.current: dict[str, str | None] = {}
        self.correlations: dict[str, str] = {}

    def parse(self, events: Iterable[dict[str, Any]]) -> list[LogLine]:
        lines = [self._line(event) for event in events]
        # A START line comes before the first line that names the correlation id.
        return [
            line
            if line.correlation_id or not line.request_id
            else _with(line, correlation_id=self.correlations.get(line.request_id))
            for line in lines
        ]

    def _line(self, event: dict[str, Any]) -> LogLine:
        stream = str(event.get("logStreamName", ""))
        text = str(event.get("message", "")).rstrip("\n")
        line = LogLine(
            time=datetime.fromtimestamp(int(event["timestamp"]) / 1000, UTC),
            source=self.source,
            message=text,
            request_id=self.current.get(stream),
            log_group=self.group,
            log_stream=stream,
            key=str(event.get("eventId") or f"{stream}/{event['timestamp']}/{text[:80]}"),
        )
        runtime = _RUNTIME_LINE.match(text)
        if runtime:
            kind, request = runtime.groups()
            if kind != "REPORT":  # REPORT follows END: the invocation is over already
                self.current[stream] = request if kind == "START" else None
            return _with(line, request_id=request)
        structured = _json_object(text)
        if structured is not None:
            line = _structured(line, structured)
        else:
            aws = _AWS_LOGGING.match(text)
            if aws:
                level, request, message = aws.groups()
                line = _with(line, level=level, request_id=request, message=message)
        if line.request_id and line.correlation_id:
            self.correlations[line.request_id] = line.correlation_id
        return line


def _with(line: LogLine, **changes: Any) -> LogLine:
    return LogLine(**{**line.__dict__, **changes})


def _json_object(text: str) -> dict[str, Any] | None:
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _structured(line: LogLine, record: dict[str, Any]) -> LogLine:
    if "_aws" in record:  # an embedded-metric record: the values are what matters
        metrics = record["_aws"].get("CloudWatchMetrics") or [{}]
        names = [m.get("Name") for m in metrics[0].get("Metrics", [])]
        values = " ".join(f"{name}={_scalar(record.get(name))}" for name in names)
        return _with(line, message=f"metrics {values}".strip(), level="METRIC", fields=record)
    message = record.get("message")
    extra = {k: v for k, v in record.items() if k not in _CONTEXT_KEYS}
    return _with(
        line,
        message=message if isinstance(message, str) else json.dumps(message, default=str),
        level=record.get("level"),
        request_id=record.get("function_request_id") or line.request_id,
        correlation_id=record.get("correlation_id"),
        fields=extra,
    )


def _scalar(value: Any) -> str:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return str(value)


def describe(line: LogLine, width: int | None = 400) -> str:
    """The message with a structured line's own fields, cut at ``width`` characters."""
    text = line.message
    if line.fields and line.level != "METRIC":
        text += " " + " ".join(f"{k}={_compact(v)}" for k, v in line.fields.items())
    if width is not None and len(text) > width:
        text = f"{text[:width]}… ({len(text) - width} more characters; --json shows all)"
    return text


def _compact(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def follow(
    fetch: Callable[[datetime], list[LogLine]],
    start: datetime,
    finished: Callable[[], bool],
    wait: Callable[[], None],
) -> Iterator[LogLine]:
    """Every new line from ``start`` on, poll after poll, until ``finished()`` says the
    source will write no more (one last poll still runs after that). Lines may arrive
    late and out of order: each poll looks back ``LOOK_BACK`` and skips what it gave."""
    seen: dict[str, datetime] = {}
    newest = start
    done = False
    while not done:
        done = finished()
        for line in fetch(max(start, newest - LOOK_BACK)):
            if line.key in seen:
                continue
            seen[line.key] = line.time
            newest = max(newest, line.time)
            yield line
        # Lines older than the look-back cannot come again: forget them.
        seen = {key: time for key, time in seen.items() if time >= newest - 2 * LOOK_BACK}
        if not done:
            wait()
