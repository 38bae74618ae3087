"""MiniStack's metric alarms evaluated as CloudWatch evaluates them, and over time.

MiniStack judged an alarm on every datapoint of its metric name, whatever the
dimensions (an alarm on one model version's quality tripped on another version's
measurement, an alarm on one endpoint's errors on another's), took one statistic over
all its evaluation periods, and evaluated only when a datapoint or the alarm was put:
an alarm whose data stopped never went back to ``OK``. ``install`` replaces its
evaluation (``cloudwatch._evaluate_alarm``, which PutMetricData and PutMetricAlarm call)
with one that reads the alarm's own series (namespace, metric, exact dimension set,
unit if the alarm names one), one statistic per period (MiniStack's statistics,
percentiles included), and decides by ``driftline_ministack.alarm_rules``; and it
evaluates every alarm of every account and region on a thread of its own, once a period
and at least once a minute, as CloudWatch evaluates alarms on a schedule (PutMetricData
and PutMetricAlarm still evaluate at once, as MiniStack did). A change of state is recorded,
notified and passed to composite alarms by MiniStack's own functions, as before.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from typing import Any

from ministack.core import responses
from ministack.services import cloudwatch

from driftline_ministack import alarm_rules

LOG = logging.getLogger(__name__)

TICK_SECONDS = 2.0
# PutMetricData (the gateway's thread), the EMF worker and the schedule all evaluate.
_lock = threading.RLock()
_started = threading.Event()
# When the schedule last evaluated each alarm, by (account, region, name).
_last_evaluated: dict[tuple[str, str, str], float] = {}


def series(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """The stored datapoints of the alarm's own series (in the current account and region)."""
    dimensions = cloudwatch._dims_from_list(alarm.get("Dimensions") or [])
    key = (alarm.get("Namespace"), alarm.get("MetricName"), cloudwatch._dims_key(dimensions))
    points = list(cloudwatch._metrics.get(key) or [])
    unit = alarm.get("Unit")
    return [p for p in points if not unit or p.get("Unit") == unit]


def period_values(alarm: dict[str, Any], now: float) -> list[float | None]:
    """The alarm's statistic in each period it reads at ``now``, oldest first."""
    points = series(alarm)
    statistic = alarm.get("ExtendedStatistic") or alarm.get("Statistic") or "Average"
    values: list[float | None] = []
    for start, end in alarm_rules.windows(
        now, int(alarm.get("Period") or 60), int(alarm.get("EvaluationPeriods") or 1)
    ):
        inside = [p for p in points if start < p["Timestamp"] <= end]
        stats = cloudwatch._calc_stats(inside) if inside else {}
        value = cloudwatch._stat_value(stats, statistic, inside) if stats else None
        values.append(None if value is None else float(value))
    return values


def evaluate_alarm(alarm: dict[str, Any], now: float | None = None) -> None:
    """Moves ``alarm`` to the state its series calls for, as MiniStack's evaluation did."""
    with _lock:
        if not alarm_rules.is_evaluable(alarm):
            return
        found = alarm_rules.verdict(period_values(alarm, now or time.time()), alarm)
        old = alarm.get("StateValue")
        if found is None or found.state == old:
            return
        alarm["StateValue"] = found.state
        alarm["StateReason"] = found.reason
        alarm["StateUpdatedTimestamp"] = int(time.time())
        cloudwatch._record_history(alarm["AlarmName"], old, found.state, found.reason)
        cloudwatch._dispatch_alarm_actions(alarm, old, found.state, found.reason)
        cloudwatch._evaluate_parent_alarms(alarm)


def in_scope(account: str, region: str, action: Any, *args: Any) -> Any:
    """Runs ``action`` as a request of ``account`` in ``region`` (MiniStack's stores are
    scoped by the request's context)."""

    def scoped() -> Any:
        responses.set_request_account_id(account)
        responses.set_request_region(region)
        return action(*args)

    return contextvars.copy_context().run(scoped)


def evaluate_everything(now: float | None = None) -> None:
    """Evaluates every metric alarm of every account and region that is due."""
    moment = now or time.time()
    kept = cloudwatch._alarms.all_items()
    for key in set(_last_evaluated) - {key for key, _ in kept}:
        _last_evaluated.pop(key, None)
    for key, alarm in kept:
        if not alarm_rules.due(alarm, _last_evaluated.get(key), moment):
            continue
        _last_evaluated[key] = moment
        account, region, name = key
        try:
            in_scope(account, region, _evaluate_if_kept, name, alarm, moment)
        except Exception:  # one broken alarm must not stop the others' evaluation
            LOG.warning("Could not evaluate alarm %s", name, exc_info=True)


def _evaluate_if_kept(name: str, alarm: dict[str, Any], now: float | None) -> None:
    if cloudwatch._alarms.get(name) is alarm:  # not deleted or replaced meanwhile
        evaluate_alarm(alarm, now)


def _schedule() -> None:
    stop = threading.Event()
    while not stop.wait(TICK_SECONDS):
        evaluate_everything()


def install() -> None:
    """Replaces MiniStack's alarm evaluation and starts the schedule; idempotent."""
    cloudwatch._evaluate_alarm = evaluate_alarm
    if not _started.is_set():
        _started.set()
        threading.Thread(target=_schedule, name="cloudwatch-alarms", daemon=True).start()
