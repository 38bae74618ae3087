"""Acknowledging cdk-nag findings, always with a written reason.

cdk-nag 3 runs as a CDK validation plugin with two packs, AwsSolutions and
HIPAA-Security: any unacknowledged finding of either stops the synth.
Each finding is acknowledged by its exact id (``Rule[Finding]``), never by rule, so a
new wildcard that appears later is reported instead of being swallowed.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, CfnResource, Stack, Validations
from constructs import IConstruct

PACK = "AwsSolutions::AwsSolutions"
HIPAA = "HIPAA.Security::HIPAA.Security"

INLINE_POLICY_REASON = (
    "One role per function and state machine, each with its own policy: an inline policy "
    "lives and dies with its role, the strict one-to-one relationship for which AWS "
    "recommends inline over managed policies."
)


def acknowledge_synchronous_invocation(function: IConstruct, caller: str) -> None:
    """HIPAA's LambdaDLQ for a function nothing invokes asynchronously."""
    acknowledge(
        function,
        f"Invoked synchronously by {caller}, which retries and catches its errors: a "
        "dead-letter queue only ever receives asynchronous invocations.",
        f"{HIPAA}-LambdaDLQ",
    )


def acknowledge_inline_policy(role: IConstruct) -> None:
    """HIPAA's IAMNoInlinePolicy for a role's own default policy (see INLINE_POLICY_REASON)."""
    acknowledge(role, INLINE_POLICY_REASON, f"{HIPAA}-IAMNoInlinePolicy")


def acknowledge(scope: IConstruct, reason: str, *finding_ids: str) -> None:
    if not reason.strip():
        raise ValueError("A cdk-nag acknowledgement needs a reason")
    if not finding_ids:
        raise ValueError("Name the findings to acknowledge")
    Validations.of(scope).acknowledge(
        *(Acknowledgment(id=finding, reason=reason) for finding in finding_ids)
    )


def wildcard_resource(resource: CfnResource, suffix: str) -> str:
    """The IAM5 finding id for ``<resource>.Arn`` followed by a wildcard suffix."""
    logical_id = Stack.of(resource).resolve(Stack.of(resource).get_logical_id(resource))
    return f"{PACK}-IAM5[Resource::<{logical_id}.Arn>{suffix}]"


def resource_finding(scope: IConstruct, arn: str) -> str:
    """The IAM5 finding id cdk-nag reports for a policy resource ``arn`` (tokens allowed).

    cdk-nag names a finding after the resolved resource, with intrinsics flattened:
    ``{"Ref": "AWS::Region"}`` as ``<AWS::Region>``, a GetAtt as ``<Logical.Arn>``, an
    import by its export name. Deriving the id the same way keeps acknowledgements
    right whatever account and region the app is synthesized for.
    """
    return f"{PACK}-IAM5[Resource::{_flatten(Stack.of(scope).resolve(arn))}]"


def _flatten(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return f"<{argument}>"
        if function == "Fn::GetAtt":
            return f"<{argument[0]}.{argument[1]}>"
        if function == "Fn::Join":
            separator, parts = argument
            return str(separator).join(_flatten(part) for part in parts)
        if function == "Fn::ImportValue":
            return _flatten(argument)
    raise ValueError(f"cdk-nag finding ids for {value!r} are not derived here")
