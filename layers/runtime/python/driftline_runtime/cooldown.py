"""A cooldown guard: at most one drift-triggered retraining per dataset per window.

Drift alarms come in bursts (every scoring batch of a drifted day raises one). The guard
lets the first trigger start a retraining and *suppresses* the rest until the window
ends, recording each suppressed trigger so none is lost.

Item layout (table key: ``dataset`` (S, partition) + ``sk`` (S, sort))::

    {"dataset": "<dataset>", "sk": "cooldown",          # one per dataset: the window
     "window_start": "<ISO-8601>", "until": "<ISO-8601>",
     "until_us": N,                                      # `until` in µs since the epoch,
                                                         # what the conditions compare
     "trigger": {...},                                   # the trigger that started it
     "suppressed_count": N}                              # suppressed in this window

    {"dataset": "<dataset>", "sk": "suppressed#<ISO-8601 now>#<uuid4 hex>",
     "window_start": "<ISO-8601>", "until": "<ISO-8601>",
     "sequence": N,                                      # its place in the window
     "trigger": {...}}                                   # one per suppressed trigger

Starting a window is one conditional ``update_item`` (the item is absent or its window
has ended), so two concurrent claims can never both start. A suppression is one
conditional ``update_item`` (the window is still open) that counts it, then a
``put_item`` of its record; should the window end between the two steps the claim starts
instead. If the record's write fails the claim raises, and a retried claim records the
trigger again: suppressed triggers are recorded at least once, never silently dropped.
Suppression records outlive their window (query ``sk`` ``begins_with "suppressed#"``).

Triggers are delivered at least once. A claim given a ``trigger_id`` (an EventBridge
event id) that finds the open window was started by that very trigger returns
``started=True`` again (``resumed=True``) instead of counting a suppression, so a
consumer that failed after its claim can finish the work it claimed.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

COOLDOWN_SK = "cooldown"
SUPPRESSED_PREFIX = "suppressed#"
# A retraining asked for when no labelled data was newer than the champion's.
WAITING_PREFIX = "waiting#"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ATTEMPTS = 3


class Claim(BaseModel):
    """The outcome of :meth:`CooldownGuard.claim`."""

    model_config = ConfigDict(frozen=True)

    started: bool
    until: datetime | None = None
    """When the current window ends (the new one's end when ``started``)."""
    suppressed_count: int = 0
    """Triggers suppressed in the current window, this one included."""
    resumed: bool = False
    """True when this trigger had already started the open window (a redelivery)."""


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _item_value(trigger: dict[str, Any]) -> Any:
    """JSON-shaped data as DynamoDB accepts it (numbers as Decimal, the rest as text)."""
    return json.loads(json.dumps(trigger, default=str), parse_float=Decimal)


def _conditional_failure(error: ClientError) -> bool:
    code: str = error.response.get("Error", {}).get("Code", "")
    return code == "ConditionalCheckFailedException"


class CooldownGuard:
    """Deduplicates retraining triggers over a DynamoDB table (a boto3 ``Table`` resource)."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def claim(
        self,
        dataset: str,
        now: datetime,
        window: timedelta,
        trigger: dict[str, Any],
        trigger_id: str | None = None,
    ) -> Claim:
        """Start a retraining for ``dataset`` unless one started less than ``window`` ago.

        ``now`` must be timezone-aware. Returns ``Claim(started=True, until=now + window)``
        for the trigger that opens a window; otherwise records the trigger as suppressed
        and returns ``Claim(started=False, until=<window end>, suppressed_count=n)``.
        """
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("now must be timezone-aware")
        if window <= timedelta(0):
            raise ValueError("window must be positive")
        now = now.astimezone(UTC)
        if trigger_id is not None:
            trigger = {**trigger, "trigger_id": trigger_id}
        for _ in range(_ATTEMPTS):
            if self._start(dataset, now, window, trigger):
                return Claim(started=True, until=now + window, suppressed_count=0)
            if trigger_id is not None:
                resumed = self._resume(dataset, now, trigger_id)
                if resumed is not None:
                    return resumed
            claim = self._suppress(dataset, now, trigger)
            if claim is not None:
                return claim
        raise RuntimeError(f"could not claim the cooldown of {dataset!r}: too much contention")

    def _start(
        self, dataset: str, now: datetime, window: timedelta, trigger: dict[str, Any]
    ) -> bool:
        until = now + window
        try:
            self._table.update_item(
                Key={"dataset": dataset, "sk": COOLDOWN_SK},
                UpdateExpression=(
                    "SET window_start = :start, #until = :until, until_us = :until_us, "
                    "#trigger = :trigger, suppressed_count = :zero"
                ),
                ConditionExpression="attribute_not_exists(sk) OR until_us <= :now_us",
                ExpressionAttributeNames={"#until": "until", "#trigger": "trigger"},
                ExpressionAttributeValues={
                    ":start": now.isoformat(),
                    ":until": until.isoformat(),
                    ":until_us": _micros(until),
                    ":now_us": _micros(now),
                    ":trigger": _item_value(trigger),
                    ":zero": 0,
                },
            )
        except ClientError as error:
            if _conditional_failure(error):
                return False
            raise
        return True

    def _resume(self, dataset: str, now: datetime, trigger_id: str) -> Claim | None:
        """The open window's claim again, if ``trigger_id`` started it."""
        window = self._table.get_item(
            Key={"dataset": dataset, "sk": COOLDOWN_SK}, ConsistentRead=True
        ).get("Item")
        if (
            window is None
            or int(window["until_us"]) <= _micros(now)
            or (window.get("trigger") or {}).get("trigger_id") != trigger_id
        ):
            return None
        return Claim(
            started=True,
            until=datetime.fromisoformat(window["until"]),
            suppressed_count=int(window.get("suppressed_count", 0)),
            resumed=True,
        )

    def window(self, dataset: str) -> dict[str, Any] | None:
        """The dataset's cooldown item (its latest window), if any."""
        item: dict[str, Any] | None = self._table.get_item(
            Key={"dataset": dataset, "sk": COOLDOWN_SK}, ConsistentRead=True
        ).get("Item")
        return item

    def suppressions(self, dataset: str) -> list[dict[str, Any]]:
        """Every suppressed trigger recorded for ``dataset``, oldest first."""
        return self._items(dataset, SUPPRESSED_PREFIX)

    def unanswered_waiting(self, dataset: str) -> list[dict[str, Any]]:
        """The retrainings of ``dataset`` that waited for labels and that no approved model
        has answered yet (``answer_waiting``)."""
        return [item for item in self._items(dataset, WAITING_PREFIX) if "answered_by" not in item]

    def answer_waiting(self, dataset: str, sk: str, model_package_arn: str) -> None:
        """Mark a waiting retraining answered by an approved model (once: a redelivery
        finds it answered and leaves it)."""
        try:
            self._table.update_item(
                Key={"dataset": dataset, "sk": sk},
                UpdateExpression="SET answered_by = :arn",
                ConditionExpression="attribute_exists(sk) AND attribute_not_exists(answered_by)",
                ExpressionAttributeValues={":arn": model_package_arn},
            )
        except ClientError as error:
            if not _conditional_failure(error):
                raise

    def _items(self, dataset: str, prefix: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "dataset = :dataset AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":dataset": dataset, ":prefix": prefix},
        }
        while True:
            page = self._table.query(**kwargs)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _suppress(self, dataset: str, now: datetime, trigger: dict[str, Any]) -> Claim | None:
        """Count and record a suppressed trigger; None when the window has just ended."""
        try:
            window = self._table.update_item(
                Key={"dataset": dataset, "sk": COOLDOWN_SK},
                UpdateExpression="ADD suppressed_count :one",
                ConditionExpression="attribute_exists(sk) AND until_us > :now_us",
                ExpressionAttributeValues={":one": 1, ":now_us": _micros(now)},
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as error:
            if _conditional_failure(error):
                return None
            raise
        count = int(window["suppressed_count"])
        self._table.put_item(
            Item={
                "dataset": dataset,
                "sk": f"{SUPPRESSED_PREFIX}{now.isoformat()}#{uuid.uuid4().hex}",
                "window_start": window["window_start"],
                "until": window["until"],
                "sequence": count,
                "trigger": _item_value(trigger),
            }
        )
        return Claim(
            started=False, until=datetime.fromisoformat(window["until"]), suppressed_count=count
        )

    def record_waiting(
        self, dataset: str, now: datetime, trigger: dict[str, Any], *, trigger_id: str
    ) -> None:
        """Record a retraining that waits for labels (its key is the trigger's: a
        redelivered event records it once)."""
        self._table.put_item(
            Item={
                "dataset": dataset,
                "sk": f"{WAITING_PREFIX}{trigger_id}",
                "time": now.isoformat(),
                "trigger": _item_value(trigger),
            }
        )
