"""Denials that say what decided them, as AWS's do, on MiniStack's IAM evaluator.

MiniStack's evaluator applies a role's permissions boundary (a Deny in it denies, an
Allow of the role's policies counts only if the boundary allows too), but its denial
always reads "because no identity-based policy allows the <action> action", even when
the role's policy allowed the call and the boundary did not, and S3's (like most
services') does not name the resource. AWS names both: ``User: <principal> is not
authorized to perform: <action> on resource: <arn> because no permissions boundary
allows it`` (or ``... because statement <sid> of its permissions boundary explicitly
denies it``), and so do the denials here.

MiniStack is imported where it is used, so the rules are unit-tested without it.
``install`` marks the boundary among an evaluation's limits (``_permissions_boundary``
returns it as a ``BoundaryLimit``), wraps ``evaluate`` to note, per principal, action
and resource, whether the boundary decided a denial (``boundary_reason``, pure,
unit-tested), and words the denial from that note, or names the resource where
MiniStack's response would not. A denial by a resource policy keeps MiniStack's
wording, which names the policy.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from typing import Any

# The last evaluated denials of principals with a boundary: (principal, action, resource)
# -> (why, when). MiniStack may evaluate on another thread than the one that words the
# response, and evaluates a denied call again for a resource policy's part (with that
# policy alone, no boundary), so only evaluations with the boundary are noted, and a note
# counts for a response worded within NOTE_SECONDS of it.
_decided: OrderedDict[tuple[str, str, str], tuple[str, float]] = OrderedDict()
_decided_lock = threading.Lock()
KEPT_DENIALS = 256
NOTE_SECONDS = 5.0
NAMED_RESOURCE = re.compile(r" on resource: (\S+) ")


def note(principal: str, action: str, resource: str, why: str) -> None:
    with _decided_lock:
        _decided[(principal, action, resource)] = (why, time.monotonic())
        _decided.move_to_end((principal, action, resource))
        while len(_decided) > KEPT_DENIALS:
            _decided.popitem(last=False)


def noted(principal: str, action: str, resource: str) -> str:
    """Why the boundary denied ``action`` on ``resource`` just now ("" if it did not)."""
    with _decided_lock:
        why, when = _decided.get((principal, action, resource), ("", 0.0))
    return why if time.monotonic() - when <= NOTE_SECONDS else ""


class BoundaryLimit(list[Any]):
    """The evaluation limit a permissions boundary sets (a session policy's is a list)."""


def boundary_reason(
    decision: str,
    identity_allows: bool,
    boundary: list[Any] | None,
    boundary_deny_sid: str | None,
    boundary_allows: bool,
) -> str | None:
    """Why the boundary denied, in AWS's words, or None when it did not decide.

    ``boundary_deny_sid`` is the Sid of the boundary's statement that denies the request
    ("" for one without a Sid, None when none does)."""
    if boundary is None or decision == "Allow":
        return None
    if decision == "Deny" and boundary_deny_sid is not None:
        if boundary_deny_sid:
            return f"statement {boundary_deny_sid} of its permissions boundary explicitly denies it"
        return "an explicit deny in its permissions boundary denies it"
    if decision == "ImplicitDeny" and identity_allows and not boundary_allows:
        return "no permissions boundary allows it"
    return None


def denial_message(principal: str, action: str, resource: str, why: str) -> str:
    """AWS's message for a denial that ``why`` explains."""
    return (
        f"User: {principal} is not authorized to perform: {action} on resource: {resource} "
        f"because {why}"
    )


def _flat(layer: list[list[Any]]) -> list[Any]:
    return [statement for statements in layer for statement in statements]


def noting_evaluate(evaluate: Any) -> Any:
    from ministack.core import iam_evaluator

    def evaluate_noted(ctx: Any, policies: Any, *limits: Any) -> Any:
        result = evaluate(ctx, policies, *limits)
        if result.decision == "Allow":
            return result
        boundary = next((limit for limit in limits if isinstance(limit, BoundaryLimit)), None)
        if boundary is None:
            return result  # not the principal's own evaluation, or it has no boundary
        first = iam_evaluator._first_match
        deny = first(ctx, _flat(boundary), "Deny")
        why = boundary_reason(
            result.decision,
            first(ctx, _flat(policies), "Allow") is not None,
            boundary,
            None if deny is None else (deny.sid or ""),
            first(ctx, _flat(boundary), "Allow") is not None,
        )
        note(ctx.principal_arn, ctx.action, ctx.resource_arn, why or "")
        return result

    return evaluate_noted


def marking_boundary(permissions_boundary: Any) -> Any:
    def boundary_limits(*args: Any, **kwargs: Any) -> Any:
        return [BoundaryLimit(limit) for limit in permissions_boundary(*args, **kwargs)]

    return boundary_limits


def _named(resource: str, message: Any) -> str:
    """The denied resource: the response's, or the one MiniStack's message names."""
    found = NAMED_RESOURCE.search(str(message or "")) if resource == "*" else None
    return found.group(1) if found else resource


def wording_denials(respond: Any) -> Any:
    """The service's denial response, with a message naming the resource and what decided."""
    from ministack.core import iam_actions

    def access_denied_response(
        service: str, action: str, principal_arn: str, request_id: str, **details: Any
    ) -> Any:
        resource = str(details.get("resource_arn") or "*")
        explicit = bool(details.get("explicit_deny"))
        if details.get("error_code") or (explicit and details.get("resource_policy_arn")):
            pass  # a failed authentication, or a resource policy's own denial: as worded
        elif why := noted(principal_arn, action, _named(resource, details.get("message"))):
            # The boundary decided: MiniStack's message (when it words one) blames the
            # identity-based policies.
            details["message"] = denial_message(
                principal_arn, action, _named(resource, details.get("message")), why
            )
        elif not details.get("message") and resource != "*":
            details["message"] = iam_actions.identity_denial_message(
                action, principal_arn, resource, explicit
            )
        return respond(service, action, principal_arn, request_id, **details)

    return access_denied_response


def install() -> None:
    """Idempotent; install after ``driftline_ministack.iam``, whose log line then reads
    the worded denial."""
    from ministack.core import iam_actions, iam_evaluator

    if getattr(iam_evaluator.evaluate, "driftline", False):
        return
    iam_evaluator.evaluate = noting_evaluate(iam_evaluator.evaluate)
    iam_evaluator.evaluate.driftline = True
    iam_evaluator._permissions_boundary = marking_boundary(iam_evaluator._permissions_boundary)
    iam_actions.access_denied_response = wording_denials(iam_actions.access_denied_response)
