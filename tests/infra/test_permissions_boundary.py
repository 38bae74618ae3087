"""Every IAM role of every stack carries the stage's permissions boundary, and only then.

The prod synth (the CDK CLI in a clean shell) names a boundary, the dev synth none. The
boundary goes on CDK's own custom-resource providers' roles too (bucket notifications,
the provider framework, log retention), which are L1 resources no ``Role`` prop reaches.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template

from infra.config import load_stage_config
from infra.permissions_boundary import apply_permissions_boundary
from tests.infra.conftest import CDK_JSON, PROD_BOUNDARY, ROOT, SynthesizedApp

ROLE = "arn:aws:iam::123456789012:role/driftline-prod-ingest"

# A name resolves to the policy of that name in the deploying account and partition.
NAMED_POLICY_ARN = {
    "Fn::Join": [
        "",
        [
            "arn:",
            {"Ref": "AWS::Partition"},
            ":iam::",
            {"Ref": "AWS::AccountId"},
            f":policy/{PROD_BOUNDARY}",
        ],
    ]
}


def roles(app: SynthesizedApp) -> dict[str, Mapping[str, Any]]:
    """Every AWS::IAM::Role of every stack, by stack and logical id."""
    return {
        f"{stack}/{logical_id}": role
        for stack, template in app.templates.items()
        for logical_id, role in template.find_resources("AWS::IAM::Role").items()
    }


def test_with_a_boundary_every_role_of_every_stack_has_it(prod_app: SynthesizedApp) -> None:
    # Given the prod synth, whose stage names a permissions boundary
    found = roles(prod_app)
    # Then there are roles in every stack, CDK's bucket-notifications handler's among them
    assert {name.split("/", 1)[0] for name in found} == set(prod_app.templates)
    assert any("BucketNotificationsHandler" in name for name in found), sorted(found)
    # And each one is bounded by the named policy's ARN
    unbounded = {
        name: role["Properties"].get("PermissionsBoundary")
        for name, role in found.items()
        if role["Properties"].get("PermissionsBoundary") != NAMED_POLICY_ARN
    }
    assert not unbounded


def test_without_a_boundary_no_role_has_one(dev_app: SynthesizedApp) -> None:
    # Given the dev synth, whose stage names no boundary (cdk.json's null)
    found = roles(dev_app)
    # Then no role of any stack has a PermissionsBoundary
    assert found
    assert [
        name for name, role in found.items() if "PermissionsBoundary" in role["Properties"]
    ] == []


def test_an_arn_is_used_as_it_is_on_l2_and_l1_roles() -> None:
    # Given a stage whose boundary is an ARN, and a stack with an L2 role, a bucket whose
    # objects are deleted on removal (CDK's L1 custom-resource provider role) and
    # CDK's bucket-notifications handler
    arn = "arn:aws:iam::123456789012:policy/guardrails/driftline-boundary"
    context = {**CDK_JSON["context"], "driftline:permissions_boundary": arn}
    config = load_stage_config(context.get, account="123456789012", region="eu-west-1")
    app = cdk.App()
    stack = cdk.Stack(
        app, "Bounded", env=cdk.Environment(account="123456789012", region="eu-west-1")
    )
    iam.Role(stack, "Plain", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    s3.Bucket(stack, "Emptied", auto_delete_objects=True, removal_policy=cdk.RemovalPolicy.DESTROY)
    # When the boundary is applied and the stack synthesized
    apply_permissions_boundary(stack, config)
    template = Template.from_stack(stack)
    # Then every role, L1 or L2, carries the ARN unchanged
    found = template.find_resources("AWS::IAM::Role")
    assert len(found) == 2
    assert {role["Properties"]["PermissionsBoundary"] for role in found.values()} == {arn}


def granted_actions(app: SynthesizedApp) -> set[str]:
    """Every action an identity policy of the app grants its roles (trust policies aside)."""
    documents = [
        resource["Properties"]["PolicyDocument"]
        for template in app.templates.values()
        for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
        for resource in template.find_resources(kind).values()
    ]
    documents += [
        inline["PolicyDocument"]
        for template in app.templates.values()
        for role in template.find_resources("AWS::IAM::Role").values()
        for inline in role["Properties"].get("Policies", [])
    ]
    found: set[str] = set()
    for document in documents:
        for statement in document["Statement"]:
            if statement["Effect"] == "Allow":
                actions = statement.get("Action", [])
                found.update([actions] if isinstance(actions, str) else actions)
    return found


def test_the_e2e_boundary_allows_every_action_the_app_grants(prod_app: SynthesizedApp) -> None:
    # Given the boundary the end-to-end suite deploys under, and the local cloud's evaluator
    sys.path.insert(0, str(ROOT / "local"))
    try:
        policy = importlib.import_module("driftline_localcloud.iam.policy")
    finally:
        sys.path.remove(str(ROOT / "local"))
    boundary = json.loads((ROOT / "tests" / "fixtures" / "permissions_boundary.json").read_text())
    # When every action the prod app's roles are granted (VPC calls included) is asked for
    actions = granted_actions(prod_app)
    assert {"s3:GetObject", "sagemaker:CreateTrainingJob", "iam:PassRole"} <= actions
    refused = {
        action: outcome.decision.value
        for action in sorted(actions)
        if not (
            outcome := policy.evaluate(
                policy.Request(ROLE, "123456789012", action, "*"),
                [{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}],
                boundary=boundary,
            )
        ).allowed
    }
    # Then the boundary lets each one through
    assert refused == {}
