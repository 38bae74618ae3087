"""A metric alarm's next state from its metric's recent datapoints, as CloudWatch decides it.

CloudWatch evaluates a metric alarm on the series its namespace, metric name and exact
dimension set name (a datum with one more or one fewer dimension is another series),
one datapoint per period: the last ``EvaluationPeriods`` of them, ``DatapointsToAlarm``
(by default all of them) breaching put it in ``ALARM``, and ``TreatMissingData`` says
what a period without data counts as (``missing``: nothing, and no data at all is
``INSUFFICIENT_DATA``; ``notBreaching``/``breaching``: a good or a bad datapoint;
``ignore``: the state stays). It looks back a few periods more than it evaluates, so
that a late datapoint still counts: the windows are periods ending at the moment of
evaluation, ``EvaluationPeriods`` plus at least two more looked at.

Nothing here imports MiniStack: ``driftline_ministack.cloudwatch_alarms`` computes each
period's statistic with MiniStack's own statistics and applies the verdict.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": lambda value, threshold: value >= threshold,
    "GreaterThanThreshold": lambda value, threshold: value > threshold,
    "LessThanThreshold": lambda value, threshold: value < threshold,
    "LessThanOrEqualToThreshold": lambda value, threshold: value <= threshold,
}
WORDS = {
    "GreaterThanOrEqualToThreshold": "greater than or equal to",
    "GreaterThanThreshold": "greater than",
    "LessThanThreshold": "less than",
    "LessThanOrEqualToThreshold": "less than or equal to",
}


@dataclass(frozen=True)
class Verdict:
    state: str  # ALARM, OK or INSUFFICIENT_DATA
    reason: str


def looked_back(evaluation_periods: int) -> int:
    """How many periods an evaluation reads: the evaluated ones and a margin for late data."""
    return evaluation_periods + max(math.floor(evaluation_periods / 3), 2)


def windows(now: float, period: int, evaluation_periods: int) -> list[tuple[float, float]]:
    """The ``[start, end)`` of each period read at ``now``, oldest first."""
    count = looked_back(evaluation_periods)
    return [(now - (count - i) * period, now - (count - i - 1) * period) for i in range(count)]


def due(alarm: Mapping[str, Any], last: float | None, now: float) -> bool:
    """Whether a scheduled evaluation of ``alarm`` is due at ``now`` (``last``: the
    previous one): once a period, at least once a minute, as CloudWatch evaluates, so a
    state set by SetAlarmState lasts until then."""
    return last is None or now - last >= min(int(alarm.get("Period") or 60), 60)


def is_evaluable(alarm: Mapping[str, Any]) -> bool:
    """A single-metric alarm with a threshold comparison (not a metric-math or an
    anomaly-detection alarm, which keep the state they have)."""
    return bool(
        alarm.get("Namespace")
        and alarm.get("MetricName")
        and alarm.get("ComparisonOperator") in COMPARISONS
        and (alarm.get("Statistic") or alarm.get("ExtendedStatistic"))
    )


def verdict(values: list[float | None], alarm: Mapping[str, Any]) -> Verdict | None:
    """The state ``alarm`` should be in for ``values``, one per window of ``windows``
    (oldest first, None for a period without data); None when it keeps its state."""
    if not is_evaluable(alarm):
        return None
    compare = COMPARISONS[alarm["ComparisonOperator"]]
    threshold = float(alarm.get("Threshold", 0))
    periods = int(alarm.get("EvaluationPeriods") or 1)
    needed = int(alarm.get("DatapointsToAlarm") or periods)
    missing = alarm.get("TreatMissingData") or "missing"
    present = [v for v in values if v is not None]
    if not present:
        treated = f"no datapoints were received for {periods} period{'s' if periods > 1 else ''}"
        if missing == "breaching":
            return Verdict(
                "ALARM", f"Threshold Crossed: {treated} and they were treated as breaching."
            )
        if missing == "notBreaching":
            return Verdict(
                "OK", f"Threshold Crossed: {treated} and they were treated as not breaching."
            )
        if missing == "missing":
            return Verdict("INSUFFICIENT_DATA", f"Insufficient Data: {treated}.")
        return None  # ignore
    if _premature(values, needed, missing, compare, threshold):
        return Verdict("ALARM", "Threshold Crossed: premature alarm for missing datapoints.")
    # The newest datapoints, as many as are evaluated; missing ones count as told.
    recent = list(reversed(present))[:periods]
    filler = {"breaching": True, "notBreaching": False}.get(missing)
    judged = [compare(v, threshold) for v in recent]
    if filler is not None:
        judged += [filler] * (periods - len(recent))
    breaching = judged.count(True)
    words = WORDS[alarm["ComparisonOperator"]]
    shown = ", ".join(f"{v:g}" for v in recent)
    if breaching >= needed:
        return Verdict(
            "ALARM",
            f"Threshold Crossed: {breaching} out of the last {periods} datapoints [{shown}] "
            f"{'was' if breaching == 1 else 'were'} {words} the threshold ({threshold:g}).",
        )
    return Verdict(
        "OK",
        f"Threshold Crossed: {breaching} out of the last {periods} datapoints [{shown}] "
        f"{'was' if breaching == 1 else 'were'} {words} the threshold ({threshold:g}), "
        f"fewer than the {needed} that alarm.",
    )


def _premature(
    values: list[float | None],
    needed: int,
    missing: str,
    compare: Callable[[float, float], bool],
    threshold: float,
) -> bool:
    """CloudWatch's rule against a late alarm: with M datapoints to alarm, the alarm goes
    into ALARM when the oldest breaching datapoint of the last M periods is as old as M
    and every newer one breaches or is missing, even with fewer than M datapoints."""
    if missing not in ("missing", "ignore") or needed <= 1 or len(values) < needed:
        return False
    older, last = values[:-needed], values[-needed:]
    first = last[0]
    return (
        all(v is None for v in older)
        and first is not None
        and all(compare(v, threshold) for v in last if v is not None)
    )
