"""The retraining cooldown guard (driftline_runtime.cooldown) over a moto DynamoDB table."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Key
from driftline_runtime.cooldown import COOLDOWN_SK, SUPPRESSED_PREFIX, Claim, CooldownGuard
from moto import mock_aws

WINDOW = timedelta(hours=6)
T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def table(aws_credentials: None) -> Iterator[Any]:
    with mock_aws():
        resource = boto3.resource("dynamodb", region_name="us-east-1")
        yield resource.create_table(
            TableName="driftline-cooldown",
            KeySchema=[
                {"AttributeName": "dataset", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "dataset", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )


def suppressions(table: Any, dataset: str) -> list[dict[str, Any]]:
    condition = Key("dataset").eq(dataset) & Key("sk").begins_with(SUPPRESSED_PREFIX)
    items: list[dict[str, Any]] = table.query(KeyConditionExpression=condition)["Items"]
    return items


def trigger(number: int, psi: float = 0.31) -> dict[str, Any]:
    return {"id": f"drift-{number}", "psi": psi, "features": ["amount"]}


def test_the_first_claim_starts_a_retraining(table: Any) -> None:
    # Given no retraining yet
    guard = CooldownGuard(table)
    # When the first drift trigger claims
    claim = guard.claim("transactions", T0, WINDOW, trigger(1))
    # Then it starts, and the window is recorded with its trigger
    assert claim == Claim(started=True, until=T0 + WINDOW, suppressed_count=0)
    item = table.get_item(Key={"dataset": "transactions", "sk": COOLDOWN_SK})["Item"]
    assert item["until"] == (T0 + WINDOW).isoformat()
    assert item["trigger"]["id"] == "drift-1"


def test_a_burst_within_the_window_starts_none_and_records_every_suppression(
    table: Any,
) -> None:
    # Given a retraining started at T0
    guard = CooldownGuard(table)
    guard.claim("transactions", T0, WINDOW, trigger(0))
    # When 5 more triggers arrive within the window (two at the very same instant)
    moments = [T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=1), T0 + timedelta(hours=5)]
    moments.append(T0 + WINDOW - timedelta(microseconds=1))
    claims = [
        guard.claim("transactions", moment, WINDOW, trigger(n))
        for n, moment in enumerate(moments, 1)
    ]
    # Then none starts, each says when the window ends and how many were suppressed
    assert [claim.started for claim in claims] == [False] * 5
    assert {claim.until for claim in claims} == {T0 + WINDOW}
    assert [claim.suppressed_count for claim in claims] == [1, 2, 3, 4, 5]
    # And all 5 suppressed triggers are recorded, none lost
    records = suppressions(table, "transactions")
    assert sorted(record["trigger"]["id"] for record in records) == [
        f"drift-{n}" for n in range(1, 6)
    ]
    assert sorted(int(record["sequence"]) for record in records) == [1, 2, 3, 4, 5]
    assert {record["until"] for record in records} == {(T0 + WINDOW).isoformat()}


def test_a_claim_after_the_window_starts_again(table: Any) -> None:
    # Given a window from T0 with one suppressed trigger
    guard = CooldownGuard(table)
    guard.claim("transactions", T0, WINDOW, trigger(0))
    guard.claim("transactions", T0 + timedelta(hours=1), WINDOW, trigger(1))
    # When a trigger arrives exactly when the window ends
    later = T0 + WINDOW
    claim = guard.claim("transactions", later, WINDOW, trigger(2))
    # Then it starts a new window with a fresh count, and the old suppression is kept
    assert claim == Claim(started=True, until=later + WINDOW, suppressed_count=0)
    assert guard.claim("transactions", later, WINDOW, trigger(3)).suppressed_count == 1
    assert len(suppressions(table, "transactions")) == 2


def test_datasets_are_independent(table: Any) -> None:
    # Given a retraining started for one dataset
    guard = CooldownGuard(table)
    assert guard.claim("transactions", T0, WINDOW, trigger(1)).started
    # When another dataset triggers within that window
    other = guard.claim("chargebacks", T0 + timedelta(minutes=5), WINDOW, trigger(2))
    # Then it starts too, and a second trigger for each is suppressed separately
    assert other.started
    assert not guard.claim("transactions", T0, WINDOW, trigger(3)).started
    assert guard.claim("chargebacks", T0, WINDOW, trigger(4)).suppressed_count == 1
    assert len(suppressions(table, "transactions")) == 1
    assert len(suppressions(table, "chargebacks")) == 1


def test_other_time_zones_are_compared_as_instants(table: Any) -> None:
    guard = CooldownGuard(table)
    guard.claim("transactions", T0, WINDOW, trigger(1))
    # 19:30+02:00 is 17:30 UTC: inside the window T0 (12:00 UTC) + 6 h
    inside = datetime.fromisoformat("2026-05-01T19:30:00+02:00")
    assert not guard.claim("transactions", inside, WINDOW, trigger(2)).started


def test_a_naive_time_is_rejected(table: Any) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        CooldownGuard(table).claim("transactions", datetime(2026, 5, 1), WINDOW, trigger(1))


def test_a_redelivered_trigger_resumes_its_own_window_and_is_not_suppressed(table: Any) -> None:
    guard = CooldownGuard(table)
    first = guard.claim("transactions", T0, WINDOW, trigger(1), trigger_id="event-1")
    # The same event again (its consumer failed after claiming): it may finish its work
    again = guard.claim(
        "transactions", T0 + timedelta(minutes=1), WINDOW, trigger(1), trigger_id="event-1"
    )
    assert first.started and not first.resumed
    assert again.started and again.resumed
    assert again.until == first.until
    assert suppressions(table, "transactions") == []
    # while another event inside the window is suppressed and recorded
    other = guard.claim(
        "transactions", T0 + timedelta(minutes=2), WINDOW, trigger(2), trigger_id="event-2"
    )
    assert not other.started and other.suppressed_count == 1
    (recorded,) = guard.suppressions("transactions")
    assert recorded["trigger"]["trigger_id"] == "event-2"
    window = guard.window("transactions")
    assert window is not None
    assert window["trigger"]["trigger_id"] == "event-1"


def test_a_redelivery_after_the_window_ended_starts_a_new_window(table: Any) -> None:
    guard = CooldownGuard(table)
    guard.claim("transactions", T0, WINDOW, trigger(1), trigger_id="event-1")
    late = guard.claim(
        "transactions", T0 + WINDOW + timedelta(seconds=1), WINDOW, trigger(1), trigger_id="event-1"
    )
    assert late.started and not late.resumed
