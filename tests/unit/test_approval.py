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


# -- a lower-is-better metric (regression's RMSE) ----------------------------------------
RMSE_POLICY = ApprovalPolicy(
    primary_metric="test:rmse", direction="lower", minimum=5.0, min_improvement=0.1
)
RMSE_CHAMPION = Champion(model_package_arn="arn:champion", metric=3.0)


def test_a_lower_error_by_the_margin_replaces_the_champion() -> None:
    # Given a champion with RMSE 3.0 / When the challenger's is 2.8
    decision = decide(RMSE_POLICY, {"test:rmse": 2.8}, RMSE_CHAMPION)
    # Then it is approved: lower is better
    assert decision.status == "Approved"
    assert "beats the champion's 3.0000 on the same holdout by 0.2000" in decision.reason


@pytest.mark.parametrize("rmse", [2.95, 3.0, 3.5])
def test_a_higher_or_barely_lower_error_keeps_the_champion(rmse: float) -> None:
    assert decide(RMSE_POLICY, {"test:rmse": rmse}, RMSE_CHAMPION).status == "Rejected"


def test_an_error_above_the_datasets_bound_is_rejected() -> None:
    decision = decide(RMSE_POLICY, {"test:rmse": 6.0}, None)
    assert decision.status == "Rejected"
    assert "above the maximum 5.0000" in decision.reason


def test_without_a_bound_the_first_model_is_approved() -> None:
    policy = RMSE_POLICY.model_copy(update={"minimum": None})
    decision = decide(policy, {"test:rmse": 600.0}, None)
    assert decision.status == "Approved" and "no bound set" in decision.reason
