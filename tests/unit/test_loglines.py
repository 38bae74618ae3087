"""Reading CloudWatch Logs lines for `driftline logs`: ids on every line, --since, --follow."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from driftline.loglines import LineParser, LogLine, describe, follow, since

T0 = 1_795_959_073_612  # ms
REQUEST = "a5815caf-ce86-4a1b-a455-804e4086d827"
KEY = "transactions/20261129T133112Z-today.csv"


def event(
    message: str, stream: str = "s1", offset_ms: int = 0, event_id: str = ""
) -> dict[str, Any]:
    return {
        "logStreamName": stream,
        "timestamp": T0 + offset_ms,
        "message": message,
        "eventId": event_id or f"{stream}-{offset_ms}-{message[:20]}",
    }


def powertools(message: Any, **extra: Any) -> str:
    return json.dumps(
        {
            "level": "INFO",
            "location": "run_ingestion:89",
            "message": message,
            "timestamp": "2026-11-29 13:31:13,591+0000",
            "service": "ingest",
            "cold_start": True,
            "function_request_id": REQUEST,
            "correlation_id": KEY,
            **extra,
        }
    )


def test_every_line_of_an_invocation_carries_its_request_and_correlation_ids() -> None:
    # Given one invocation's lines as the Lambda runtime and Powertools write them
    events = [
        event(f"START RequestId: {REQUEST} Version: $LATEST\n"),
        event(powertools("Ingested", status="rejected", reasons=["amount.gt: 3 rows"])),
        event("Traceback (most recent call last):"),
        event(f"END RequestId: {REQUEST}\n"),
        event(f"REPORT RequestId: {REQUEST}\tDuration: 174.32 ms\tMax Memory Used: 162 MB"),
        event("a line outside any invocation"),
    ]
    # When they are parsed
    lines = LineParser("ingest", "/aws/lambda/driftline-dev-ingest").parse(events)
    # Then the runtime's plain lines get the request id of their START and the request's
    # correlation id, even the START that came before the line naming it
    assert [line.request_id for line in lines] == [REQUEST] * 5 + [None]
    assert [line.correlation_id for line in lines] == [KEY] * 5 + [None]
    # And the structured line is its message plus its own fields, not Powertools' context
    ingested = lines[1]
    assert (ingested.level, ingested.message) == ("INFO", "Ingested")
    assert ingested.fields == {"status": "rejected", "reasons": ["amount.gt: 3 rows"]}
    assert describe(ingested) == 'Ingested status=rejected reasons=["amount.gt: 3 rows"]'
    assert lines[0].message.endswith("Version: $LATEST")  # no trailing newline
    assert lines[0].time == datetime.fromtimestamp(T0 / 1000, UTC)


def test_the_aws_runtime_format_and_embedded_metrics_are_read() -> None:
    # Given a line of the AWS Python runtime's logging format and a metrics record
    metrics = {
        "_aws": {
            "Timestamp": T0,
            "CloudWatchMetrics": [{"Metrics": [{"Name": "FilesIngested", "Unit": "Count"}]}],
        },
        "FilesIngested": [1.0],
    }
    lines = LineParser("ingest", "g").parse(
        [
            event(f"[ERROR]\t2026-11-29T13:31:13.591Z\t{REQUEST}\tValueError: bad things"),
            event(json.dumps(metrics)),
        ]
    )
    # Then the level, request id and message are taken apart; the metrics are summed up
    assert (lines[0].level, lines[0].request_id) == ("ERROR", REQUEST)
    assert lines[0].message == "ValueError: bad things"
    assert (lines[1].level, lines[1].message) == ("METRIC", "metrics FilesIngested=1.0")


def test_a_message_that_is_an_object_is_shown_as_json_and_long_ones_are_cut() -> None:
    (line,) = LineParser("prepare-training", "g").parse(
        [event(powertools({"trigger": {"dataset": "transactions"}, "blob": "x" * 1000}))]
    )
    assert line.message.startswith('{"trigger": {"dataset": "transactions"}')
    shown = describe(line, width=50)
    assert shown.startswith(line.message[:50]) and "more characters; --json shows all" in shown
    assert describe(line, width=None) == line.message


def test_streams_keep_their_own_current_request_across_polls() -> None:
    # Given a parser that saw two streams start an invocation each, in an earlier poll
    parser = LineParser("ingest", "g")
    parser.parse(
        [
            event("START RequestId: r-1 Version: 1", "a"),
            event("START RequestId: r-2 Version: 1", "b"),
        ]
    )
    # When the next poll brings a plain line of each stream
    first, second = parser.parse([event("from a", "a", 5), event("from b", "b", 6)])
    # Then each belongs to its own stream's invocation
    assert (first.request_id, second.request_id) == ("r-1", "r-2")


@pytest.mark.parametrize(
    ("text", "back"),
    [
        ("30s", timedelta(seconds=30)),
        ("10m", timedelta(minutes=10)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
    ],
)
def test_since_takes_durations(text: str, back: timedelta) -> None:
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    assert since(text, now) == now - back


def test_since_takes_iso_times_as_utc_and_refuses_anything_else() -> None:
    assert since("2026-11-29T10:00") == datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    assert since("2026-11-29T10:00+01:00") == datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="neither a duration"):
        since("yesterday")


def line_at(second: int, key: str) -> LogLine:
    return LogLine(datetime(2026, 11, 29, 12, 0, second, tzinfo=UTC), "ingest", key, key=key)


def test_follow_gives_each_line_once_and_stops_after_the_poll_that_saw_the_end() -> None:
    # Given a source whose polls return overlapping lines, and that ends after the 2nd poll
    polls = [
        [line_at(1, "a"), line_at(2, "b")],
        [line_at(2, "b"), line_at(3, "c")],
        [line_at(4, "d")],
    ]
    asked: list[datetime] = []
    waits: list[int] = []

    def fetch(start: datetime) -> list[LogLine]:
        asked.append(start)
        return polls[len(asked) - 1]

    start = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    # When it is followed
    lines = list(follow(fetch, start, lambda: len(asked) >= 2, lambda: waits.append(1)))
    # Then every line comes once, in order, one poll runs after the end, and no wait after it
    assert [line.message for line in lines] == ["a", "b", "c", "d"]
    assert len(asked) == 3 and len(waits) == 2
    # And later polls look back from the newest line, never before the start
    assert asked[0] == start and all(moment >= start for moment in asked)
