"""The evaluation gate's policy, on plain numbers."""

from __future__ import annotations

import pytest
from driftline_runtime.approval import ApprovalPolicy, Champion, MissingMetric, decide

POLICY = ApprovalPolicy(minimum=0.7, min_improvement=0.01)
CHAMPION = Champion(model_package_arn="arn:champion", metric=0.85)


def test_first_model_meeting_the_minimum_is_approved() -> None:
    decision = decide(POLICY, {"test:auc": 0.8}, None)
    assert decision.status == "Approved"
    assert "first model" in decision.reason


def test_model_below_the_minimum_is_rejected_even_without_a_champion() -> None:
    decision = decide(POLICY, {"test:auc": 0.65}, None)
    assert decision.status == "Rejected"
    assert "below the minimum 0.7000" in decision.reason


def test_challenger_better_by_the_margin_replaces_the_champion() -> None:
    decision = decide(POLICY, {"test:auc": 0.87}, CHAMPION)
    assert decision.status == "Approved"
    assert decision.champion == CHAMPION


@pytest.mark.parametrize("auc", [0.855, 0.85, 0.80])
def test_challenger_not_better_by_the_margin_is_rejected(auc: float) -> None:
    # Given a champion at 0.85 and a margin of 0.01 / When the challenger is not 0.86+
    decision = decide(POLICY, {"test:auc": auc}, CHAMPION)
    # Then the champion stays
    assert decision.status == "Rejected"
    assert "does not beat the champion's 0.8500" in decision.reason


def test_policy_can_ask_a_person_instead_of_rejecting() -> None:
    policy = ApprovalPolicy(
        minimum=0.7, min_improvement=0.01, when_not_better="PendingManualApproval"
    )
    assert decide(policy, {"test:auc": 0.85}, CHAMPION).status == "PendingManualApproval"


def test_missing_primary_metric_is_an_error_naming_what_was_reported() -> None:
    with pytest.raises(MissingMetric, match=r"no 'test:auc'.*\['train:auc'\]"):
        decide(POLICY, {"train:auc": 0.9}, None)
