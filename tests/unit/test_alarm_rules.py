"""The local cloud's metric-alarm decisions (driftline_ministack.alarm_rules): one
datapoint per period, DatapointsToAlarm, TreatMissingData and the premature-alarm rule,
as CloudWatch decides them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

# The local cloud's code runs in MiniStack's own environment; this part needs none of it.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "local"))
from driftline_ministack import alarm_rules  # noqa: E402

sys.path.pop(0)


def alarm(**changes: Any) -> dict[str, Any]:
    base = {
        "AlarmName": "quality",
        "Namespace": "driftline",
        "MetricName": "ModelQualityDegraded",
        "Statistic": "Maximum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 0.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
    }
    return {**base, **changes}


def test_the_windows_end_now_and_look_back_at_least_two_periods_more() -> None:
    # Given an alarm of 3 periods of 60 s evaluated at t=1000
    # When its windows are taken
    found = alarm_rules.windows(1000.0, 60, 3)
    # Then they are 5 contiguous periods, oldest first, the last ending now
    assert found == [
        (700.0, 760.0),
        (760.0, 820.0),
        (820.0, 880.0),
        (880.0, 940.0),
        (940.0, 1000.0),
    ]
    assert alarm_rules.looked_back(9) == 12


def test_one_breaching_datapoint_alarms_and_a_good_one_clears() -> None:
    # Given a one-period alarm on Maximum > 0
    # When the newest period measured 1, then when it measured 0
    tripped = alarm_rules.verdict([None, None, 1.0], alarm())
    cleared = alarm_rules.verdict([None, None, 0.0], alarm())
    # Then it is ALARM, then OK, each with CloudWatch's reason
    assert tripped is not None and tripped.state == "ALARM"
    assert tripped.reason.startswith("Threshold Crossed: 1 out of the last 1 datapoints [1]")
    assert cleared is not None and cleared.state == "OK"


def test_the_newest_datapoints_are_judged_not_older_ones() -> None:
    # Given a one-period alarm whose older looked-back period breached and the newest not
    # When it is evaluated
    found = alarm_rules.verdict([5.0, None, 0.0], alarm())
    # Then only the newest datapoint counts
    assert found is not None and found.state == "OK"


def test_a_late_breaching_datapoint_within_the_look_back_still_alarms() -> None:
    # Given a one-period alarm whose only datapoint is two periods old (data arrived late)
    # When it is evaluated
    found = alarm_rules.verdict([1.0, None, None], alarm())
    # Then it alarms, as the look-back is there for
    assert found is not None and found.state == "ALARM"


@pytest.mark.parametrize(
    ("missing", "state"),
    [
        ("missing", "INSUFFICIENT_DATA"),
        ("notBreaching", "OK"),
        ("breaching", "ALARM"),
        ("ignore", None),
    ],
)
def test_no_data_is_treated_as_the_alarm_says(missing: str, state: str | None) -> None:
    # Given an alarm with no datapoint in any period it reads
    # When it is evaluated
    found = alarm_rules.verdict([None, None, None], alarm(TreatMissingData=missing))
    # Then its TreatMissingData decides (ignore keeps the state: no verdict)
    assert (found.state if found else None) == state


def test_m_out_of_n_needs_m_breaching_datapoints() -> None:
    # Given an alarm of 3 periods that needs 2 breaching datapoints, missing data not breaching
    two_of_three = alarm(EvaluationPeriods=3, DatapointsToAlarm=2, Statistic="Sum")
    # When one, then two of the last three datapoints breach
    one = alarm_rules.verdict([None, None, 0.0, 0.0, 3.0], two_of_three)
    two = alarm_rules.verdict([None, None, 2.0, 0.0, 3.0], two_of_three)
    # Then one is not enough and two are
    assert one is not None and one.state == "OK"
    assert two is not None and two.state == "ALARM"
    assert "2 out of the last 3 datapoints [3, 0, 2] were greater than" in two.reason


def test_missing_periods_count_as_breaching_when_told() -> None:
    # Given a 3-period alarm treating missing data as breaching, with one good datapoint
    # When it is evaluated
    found = alarm_rules.verdict(
        [None, None, None, None, 0.0], alarm(EvaluationPeriods=3, TreatMissingData="breaching")
    )
    # Then the two missing periods breach but 3 are needed: OK
    assert found is not None and found.state == "OK"
    # And with 2 needed they alarm
    needed_two = alarm(EvaluationPeriods=3, DatapointsToAlarm=2, TreatMissingData="breaching")
    tripped = alarm_rules.verdict([None, None, None, None, 0.0], needed_two)
    assert tripped is not None and tripped.state == "ALARM"


def test_a_premature_alarm_with_fewer_datapoints_than_needed() -> None:
    # Given a 3-period alarm needing 3 breaching datapoints, missing data as missing,
    # whose data started three periods ago breaching and then went missing
    three = alarm(EvaluationPeriods=3, TreatMissingData="missing", Threshold=1.0)
    # When it is evaluated
    found = alarm_rules.verdict([None, None, 4.0, None, 5.0], three)
    # Then CloudWatch's premature-alarm rule puts it in ALARM
    assert found is not None and found.state == "ALARM"
    assert "premature" in found.reason


@pytest.mark.parametrize(
    "changes",
    [
        {"ComparisonOperator": "LessThanLowerOrGreaterThanUpperThreshold"},
        {"MetricName": None},
        {"Statistic": None},
    ],
)
def test_alarms_it_cannot_judge_keep_their_state(changes: dict[str, Any]) -> None:
    # Given an anomaly-detection, metric-math or statistic-less alarm
    # When it is evaluated with breaching data
    # Then there is no verdict
    assert alarm_rules.verdict([9.0, 9.0, 9.0], alarm(**changes)) is None


def test_a_percentile_alarm_is_judged() -> None:
    # Given a p99 latency alarm (ExtendedStatistic, no Statistic)
    latency = alarm(Statistic=None, ExtendedStatistic="p99", Threshold=1000.0)
    # When its newest period's p99 is above the threshold
    found = alarm_rules.verdict([None, None, 2500.0], latency)
    # Then it alarms
    assert found is not None and found.state == "ALARM"


def test_the_schedule_evaluates_once_a_period_and_at_least_once_a_minute() -> None:
    # Given a 10-second alarm and a 5-minute alarm, last evaluated at t=100
    fast, slow = alarm(Period=10), alarm(Period=300)
    # When the schedule asks whether they are due
    # Then the fast one is due after 10 s, the slow one after a minute, a new one at once
    assert not alarm_rules.due(fast, 100.0, 109.0)
    assert alarm_rules.due(fast, 100.0, 110.0)
    assert not alarm_rules.due(slow, 100.0, 159.0)
    assert alarm_rules.due(slow, 100.0, 160.0)
    assert alarm_rules.due(slow, None, 0.0)
