"""AWS's policy evaluation for one request, as its documentation states it.

No maintained Python library evaluates identity and resource policies together
(moto's evaluator ignores resources and conditions; policy linters do not evaluate), so
this is a small evaluator of the documented logic for a principal and a resource in
the same account:

1. An explicit ``Deny`` in any applicable policy denies, the role's permissions
   boundary included.
2. Otherwise a role with a permissions boundary that allows nothing of the request is
   implicitly denied: the boundary caps what identity policies grant, and what a
   resource policy grants to the role's ARN (only a grant to the session's ARN escapes
   it, and no driftline policy names a session).
3. Otherwise an ``Allow`` in an identity policy or in the resource's policy (for this
   principal) allows, except for KMS, where the key policy must allow itself or
   delegate to IAM by allowing the account's root.
4. Otherwise the request is implicitly denied.

Statements support ``Action``/``NotAction``, ``Resource``/``NotResource``,
``Principal``/``NotPrincipal``, wildcards (``*`` and ``?``, case-insensitive for actions)
and the condition operators IAM defines for strings, ARNs, booleans, numbers and
``Null``, with ``...IfExists`` and the ``ForAnyValue:``/``ForAllValues:`` set qualifiers.
Session policies and SCPs are not modelled: driftline uses none.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any
from urllib.parse import unquote

Document = Mapping[str, Any]


class Decision(Enum):
    ALLOWED = "allowed"
    IMPLICIT_DENY = "implicitly denied"
    EXPLICIT_DENY = "explicitly denied"


@dataclass(frozen=True)
class Request:
    """One action on one resource by one principal, with the request's context keys."""

    principal_arn: str  # the role's ARN (not the session's)
    account: str
    action: str  # "s3:GetObject"
    resource: str  # an ARN, or "*" for actions without a resource
    context: Mapping[str, str | Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    decision: Decision
    statement: str = ""  # the Sid (or index) of the statement that decided, for the log
    boundary: bool = False  # the role's permissions boundary decided (denied)

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOWED


def parse(document: str | Document) -> Document:
    """A policy document as IAM stores it: JSON, sometimes URL-encoded."""
    if isinstance(document, Mapping):
        return document
    text = document if document.lstrip().startswith("{") else unquote(document)
    parsed: Document = json.loads(text)
    return parsed


def evaluate(
    request: Request,
    identity_policies: Iterable[str | Document],
    resource_policy: str | Document | None = None,
    *,
    resource_policy_required: bool = False,
    boundary: str | Document | None = None,
) -> Outcome:
    """The decision for ``request``; ``resource_policy_required`` is KMS's key-policy rule,
    ``boundary`` the role's permissions boundary (a managed policy's document)."""
    identity = [parse(document) for document in identity_policies]
    resource = parse(resource_policy) if resource_policy else None
    policies = [(document, False) for document in identity]
    if resource is not None:
        policies.append((resource, True))
    for document, is_resource in policies:
        if label := _first(document, "Deny", request, is_resource):
            return Outcome(Decision.EXPLICIT_DENY, label)
    if boundary is not None and (capped := _beyond_boundary(parse(boundary), request)):
        return capped
    if resource is not None and (label := _first(resource, "Allow", request, True)):
        return Outcome(Decision.ALLOWED, label)
    if resource_policy_required and not _delegates_to_iam(resource, request):
        return Outcome(Decision.IMPLICIT_DENY)
    for document in identity:
        if label := _first(document, "Allow", request, False):
            return Outcome(Decision.ALLOWED, label)
    return Outcome(Decision.IMPLICIT_DENY)


def _beyond_boundary(boundary: Document, request: Request) -> Outcome | None:
    """The boundary's denial (explicit, or for want of an allow), or None when it allows."""
    if label := _first(boundary, "Deny", request, False):
        return Outcome(Decision.EXPLICIT_DENY, label, boundary=True)
    if not _first(boundary, "Allow", request, False):
        return Outcome(Decision.IMPLICIT_DENY, boundary=True)
    return None


def _first(document: Document, effect: str, request: Request, is_resource: bool) -> str:
    """The label of the first statement with ``effect`` that applies, or ``""``."""
    for label, statement in _statements(document):
        if statement.get("Effect") == effect and _applies(statement, request, is_resource):
            return label
    return ""


def _delegates_to_iam(resource: Document | None, request: Request) -> bool:
    """True when the key policy allows the action to the account (IAM policies decide)."""
    for _label, statement in _statements(resource or {}):
        if statement.get("Effect") == "Allow" and _names_the_account(
            statement.get("Principal"), request
        ):
            bare = {key: value for key, value in statement.items() if key != "Principal"}
            if _applies({**bare, "Principal": "*"}, request, True):
                return True
    return False


def _statements(document: Document) -> Iterable[tuple[str, Mapping[str, Any]]]:
    statements = document.get("Statement", [])
    if isinstance(statements, Mapping):
        statements = [statements]
    for index, statement in enumerate(statements):
        yield str(statement.get("Sid") or f"#{index}"), statement


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _applies(statement: Mapping[str, Any], request: Request, resource_policy: bool) -> bool:
    action = _element(statement, "Action", lambda p: _any_action(p, request.action))
    resource = _element(statement, "Resource", lambda p: _any_match(p, request.resource))
    # An identity policy's statement needs a Resource; a resource policy's may omit it.
    if not action or resource is False or (resource is None and not resource_policy):
        return False
    if resource_policy:
        effect = str(statement.get("Effect", ""))
        principal = _element(
            statement, "Principal", lambda p: _principal_matches(p, request, effect)
        )
        if not principal:
            return False
    return conditions_hold(statement.get("Condition", {}), request.context)


def _element(statement: Mapping[str, Any], name: str, matches: Any) -> bool | None:
    """``name`` (or ``Not<name>``) against the request; None when the statement has neither."""
    if name in statement:
        return bool(matches(statement[name]))
    if f"Not{name}" in statement:
        return not matches(statement[f"Not{name}"])
    return None


def _any_action(patterns: Any, action: str) -> bool:
    return any(_wildcard(str(pattern), action, ignore_case=True) for pattern in _as_list(patterns))


def _any_match(patterns: Any, value: str) -> bool:
    return any(_wildcard(str(pattern), value) for pattern in _as_list(patterns))


def _wildcard(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    if pattern == "*":
        return True
    if ignore_case:
        pattern, value = pattern.lower(), value.lower()
    # fnmatch would also read "[" as a character class; IAM knows only * and ?.
    expression = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    return re.fullmatch(expression, value, flags=re.DOTALL) is not None


def _principal_values(principal: Any) -> list[str]:
    if principal == "*":
        return ["*"]
    if isinstance(principal, Mapping):
        return [str(value) for value in _as_list(principal.get("AWS"))]
    return []


def _names_the_account(principal: Any, request: Request) -> bool:
    account = (request.account, f"arn:aws:iam::{request.account}:root")
    return any(value in account for value in _principal_values(principal))


def _principal_matches(principal: Any, request: Request, effect: str) -> bool:
    """Whether a resource policy's statement is about this principal.

    The account as principal covers every principal in it for a ``Deny``; for an
    ``Allow`` it only delegates to the account's identity policies, so it grants nothing
    by itself.
    """
    for value in _principal_values(principal):
        if value == "*" or value == request.principal_arn:
            return True
    return effect == "Deny" and _names_the_account(principal, request)


def _values(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(item) for item in value]


def _compare(operator: str, expected: str, actual: str) -> bool:
    base = operator.removesuffix("IfExists")
    if base in ("StringEquals", "ArnEquals", "StringNotEquals", "ArnNotEquals"):
        return actual == expected
    if base in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        return actual.lower() == expected.lower()
    if base in ("StringLike", "StringNotLike", "ArnLike", "ArnNotLike"):
        return _wildcard(expected, actual)
    if base == "Bool":
        return actual.lower() == str(expected).lower()
    if base.startswith("Numeric"):
        left, right = float(actual), float(expected)
        return {
            "NumericEquals": left == right,
            "NumericNotEquals": left == right,
            "NumericLessThan": left < right,
            "NumericLessThanEquals": left <= right,
            "NumericGreaterThan": left > right,
            "NumericGreaterThanEquals": left >= right,
        }[base]
    raise ValueError(f"condition operator {operator} is not supported by the local cloud")


_NEGATED = frozenset(
    {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike"}
    | {"ArnNotEquals", "ArnNotLike", "NumericNotEquals"}
)


def conditions_hold(
    conditions: Mapping[str, Mapping[str, Any]], context: Mapping[str, str | Sequence[str]]
) -> bool:
    """Every operator's every key must hold (AND); a key's values are alternatives (OR)."""
    lowered = {key.lower(): value for key, value in context.items()}
    return all(
        _condition_holds(qualified, expected, _values(lowered.get(key.lower())))
        for qualified, keys in conditions.items()
        for key, expected in keys.items()
    )


def _condition_holds(qualified: str, expected: Any, actual: list[str]) -> bool:
    qualifier, _, operator = qualified.rpartition(":")
    base = operator.removesuffix("IfExists")
    if operator == "Null":
        return (not actual) == (str(expected).lower() == "true")
    if not actual:
        # A missing key satisfies ...IfExists and negated operators, and an empty set
        # satisfies ForAllValues, as IAM evaluates them; any other operator fails.
        return operator.endswith("IfExists") or base in _NEGATED or qualifier == "ForAllValues"
    wanted = [str(item) for item in _as_list(expected)]
    hits = [any(_compare(operator, item, value) for item in wanted) for value in actual]
    if base in _NEGATED:
        return not any(hits)
    return all(hits) if qualifier == "ForAllValues" else any(hits)


__all__ = ["Decision", "Outcome", "Request", "conditions_hold", "evaluate", "parse"]
