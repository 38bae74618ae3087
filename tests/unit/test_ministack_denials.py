"""driftline's IAM additions to MiniStack that need no MiniStack: the wording of denials
(driftline_ministack.iam_denials: when a role's permissions boundary decided, the denial
says so as AWS's does) and the resource an alarm listing is checked on
(driftline_ministack.iam_resources)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The local cloud's code runs in MiniStack's own environment; this part needs none of it.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "local"))
from driftline_ministack.iam_denials import (  # noqa: E402
    BoundaryLimit,
    _named,
    boundary_reason,
    denial_message,
    note,
    noted,
)
from driftline_ministack.iam_resources import alarm_listing_arn, request_fields  # noqa: E402

sys.path.pop(0)

BOUNDARY = BoundaryLimit([["a parsed statement"]])


def test_an_action_the_role_allows_and_its_boundary_does_not_is_the_boundarys_denial() -> None:
    # Given an implicit deny where the role's policies allow and the boundary does not
    # When the reason is asked
    why = boundary_reason("ImplicitDeny", True, BOUNDARY, None, False)
    # Then it is AWS's "no permissions boundary allows it"
    assert why == "no permissions boundary allows it"


def test_a_deny_statement_of_the_boundary_is_named() -> None:
    # Given an explicit deny by the boundary's statement Fence, or by one without a Sid
    # When the reason is asked
    # Then the statement is named, as AWS names it
    assert (
        boundary_reason("Deny", True, BOUNDARY, "Fence", True)
        == "statement Fence of its permissions boundary explicitly denies it"
    )
    assert "explicit deny in its permissions boundary" in str(
        boundary_reason("Deny", True, BOUNDARY, "", True)
    )


@pytest.mark.parametrize(
    ("decision", "identity_allows", "boundary", "deny_sid", "boundary_allows"),
    [
        ("ImplicitDeny", False, BOUNDARY, None, True),  # the role's own policies lack it
        ("ImplicitDeny", False, BOUNDARY, None, False),  # both lack it: identity first
        ("Deny", True, BOUNDARY, None, True),  # a deny elsewhere (the role's policy)
        ("ImplicitDeny", True, None, None, False),  # no boundary at all
        ("Allow", True, BOUNDARY, None, True),
    ],
)
def test_the_boundary_is_not_blamed_for_what_it_did_not_decide(
    decision: str,
    identity_allows: bool,
    boundary: BoundaryLimit | None,
    deny_sid: str | None,
    boundary_allows: bool,
) -> None:
    # Given a decision the boundary did not make
    # When the reason is asked
    # Then there is none (MiniStack's own wording stands)
    assert boundary_reason(decision, identity_allows, boundary, deny_sid, boundary_allows) is None


def test_the_message_names_the_principal_action_resource_and_reason() -> None:
    # Given a boundary's denial of s3:GetObject on an object
    # When it is worded
    message = denial_message(
        "arn:aws:iam::000000000000:role/r",
        "s3:GetObject",
        "arn:aws:s3:::b/k.txt",
        "no permissions boundary allows it",
    )
    # Then it reads as AWS's
    assert message == (
        "User: arn:aws:iam::000000000000:role/r is not authorized to perform: s3:GetObject on "
        "resource: arn:aws:s3:::b/k.txt because no permissions boundary allows it"
    )


def test_an_alarm_listing_is_checked_on_its_prefix_or_its_one_name() -> None:
    # Given DescribeAlarms requests in JSON and in the query form
    json_form = {"content-type": "application/x-amz-json-1.0"}
    by_prefix = request_fields(json_form, b'{"AlarmNamePrefix": "dev-quality-"}', {})
    by_name = request_fields({}, b"", {"AlarmNames.member.1": ["one"], "Action": ["X"]})
    several = request_fields(json_form, b'{"AlarmNames": ["a", "b"]}', {})
    # When the ARN each is checked on is asked
    arn = "arn:aws:cloudwatch:us-east-1:000000000000:alarm:"
    # Then a prefix is checked as the prefix's alarms, one name as its alarm, and a
    # listing of several or of all keeps MiniStack's "*" (None)
    assert alarm_listing_arn(by_prefix, "us-east-1", "000000000000") == f"{arn}dev-quality-*"
    assert alarm_listing_arn(by_name, "us-east-1", "000000000000") == f"{arn}one"
    assert alarm_listing_arn(several, "us-east-1", "000000000000") is None
    assert alarm_listing_arn({}, "us-east-1", "000000000000") is None


def test_a_boundary_denial_is_found_again_by_the_resource_the_response_names() -> None:
    # Given the boundary's denial of an object noted, and a later non-boundary denial of
    # the same call on its bucket (S3 checks both)
    principal, action = "arn:aws:sts::000000000000:assumed-role/r/f", "s3:GetObject"
    note(principal, action, "arn:aws:s3:::b/k.txt", "no permissions boundary allows it")
    note(principal, action, "arn:aws:s3:::b", "")
    # When MiniStack's message names the object (and the response no resource)
    message = f"User: {principal} is not authorized to perform: {action} on resource: "
    resource = _named("*", message + "arn:aws:s3:::b/k.txt because no identity-based policy")
    # Then the object is found in the message and its boundary denial is found again
    assert resource == "arn:aws:s3:::b/k.txt"
    assert noted(principal, action, resource) == "no permissions boundary allows it"
    assert noted(principal, action, "arn:aws:s3:::b") == ""
    assert _named("arn:aws:s3:::c", "anything") == "arn:aws:s3:::c"
