"""The data stack's resources, its security defaults and the checks every synth runs."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match

from infra.app import build_app
from tests.infra.conftest import CDK_JSON, STACKS, SynthesizedApp, cfn_lint_findings


def test_every_data_bucket_is_encrypted_with_the_project_key(dev_app: SynthesizedApp) -> None:
    buckets = dev_app.data.find_resources("AWS::S3::Bucket")
    kms_buckets = [
        b
        for b in buckets.values()
        if b["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
            "ServerSideEncryptionByDefault"
        ]["SSEAlgorithm"]
        == "aws:kms"
    ]
    # raw, curated and quarantine use the key; the access-log bucket must use S3-managed keys
    assert len(kms_buckets) == 3
    assert len(buckets) == 4


def test_buckets_block_public_access_and_keep_versions(dev_app: SynthesizedApp) -> None:
    for bucket in dev_app.data.find_resources("AWS::S3::Bucket").values():
        properties = bucket["Properties"]
        assert properties["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert properties["VersioningConfiguration"] == {"Status": "Enabled"}


def test_bucket_policies_deny_plain_http(dev_app: SynthesizedApp) -> None:
    policies = dev_app.data.find_resources("AWS::S3::BucketPolicy")
    assert len(policies) == 4
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in statements
        )


def test_raw_bucket_notifies_the_ingest_function_through_cdk(dev_app: SynthesizedApp) -> None:
    dev_app.data.has_resource_properties(
        "Custom::S3BucketNotifications",
        {
            "NotificationConfiguration": {
                "LambdaFunctionConfigurations": [
                    Match.object_like({"Events": ["s3:ObjectCreated:*"]})
                ]
            }
        },
    )


def test_ingest_function_is_traced_layered_and_logs_to_an_encrypted_group(
    dev_app: SynthesizedApp,
) -> None:
    dev_app.data.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "FunctionName": "driftline-dev-ingest",
            "Runtime": "python3.13",
            "Handler": "handler.handler",
            "TracingConfig": {"Mode": "Active"},
            "Environment": {"Variables": Match.object_like({"CURATED_BUCKET": Match.any_value()})},
        },
    )
    (function,) = dev_app.data.find_resources(
        "AWS::Lambda::Function", {"Properties": {"FunctionName": "driftline-dev-ingest"}}
    ).values()
    # dependencies, the runtime library, the dataset contracts
    assert len(function["Properties"]["Layers"]) == 3
    dev_app.data.has_resource_properties(
        "AWS::Logs::LogGroup",
        {
            "LogGroupName": "/aws/lambda/driftline-dev-ingest",
            "RetentionInDays": 14,
            "KmsKeyId": Match.any_value(),
        },
    )


def test_ingest_function_validates_up_to_the_stage_threshold_in_bounded_memory(
    dev_app: SynthesizedApp,
) -> None:
    # Given the dev stage: 256 MiB for validation, files up to 4 GiB in the function
    (function,) = dev_app.data.find_resources(
        "AWS::Lambda::Function", {"Properties": {"FunctionName": "driftline-dev-ingest"}}
    ).values()
    properties = function["Properties"]
    variables = properties["Environment"]["Variables"]
    # Then the function reads both settings, has Lambda's longest timeout, and a /tmp
    # that holds the spooled object with its curated copy
    assert variables["VALIDATION_MEMORY_BYTES"] == str(256 * 2**20)
    assert variables["LARGE_FILE_BYTES"] == str(4096 * 2**20)
    assert properties["Timeout"] == 900
    assert properties["EphemeralStorage"] == {"Size": 2 * 4096 + 512}


def test_a_large_file_threshold_past_what_lambda_storage_holds_fails_the_synth() -> None:
    from infra.config import StageConfig

    stage = dict(CDK_JSON["context"]["driftline:stages"]["dev"], stage="dev")
    with pytest.raises(ValueError, match="large_file_threshold_mib"):
        StageConfig.model_validate({**stage, "large_file_threshold_mib": 5000})


def test_failed_async_invocations_go_to_an_encrypted_queue(dev_app: SynthesizedApp) -> None:
    dev_app.data.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "MaximumRetryAttempts": 2,
            "DestinationConfig": {"OnFailure": {"Destination": Match.any_value()}},
        },
    )
    dev_app.data.has_resource_properties("AWS::SQS::Queue", {"KmsMasterKeyId": Match.any_value()})


def test_ingest_role_is_scoped_to_its_buckets_and_key(dev_app: SynthesizedApp) -> None:
    policies = dev_app.data.find_resources(
        "AWS::IAM::Policy",
        {"Properties": {"Roles": [{"Ref": Match.string_like_regexp("IngestRole")}]}},
    )
    (policy,) = policies.values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    actions = {
        a
        for s in statements
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert "s3:GetObject" in actions and "s3:PutObject" in actions
    assert not any(a.endswith(":*") or a == "*" for a in actions)
    for statement in statements:
        if statement["Resource"] == "*":
            # only X-Ray, which supports no resource-level permissions
            assert all(a.startswith("xray:") for a in statement["Action"])
    assert not dev_app.data.find_resources(
        "AWS::IAM::Role",
        {
            "Properties": {
                "ManagedPolicyArns": Match.any_value(),
                "Description": Match.string_like_regexp("ingest"),
            }
        },
    )


def test_cdk_nag_reports_nothing_unacknowledged(dev_app: SynthesizedApp) -> None:
    report = json.loads((Path(dev_app.assembly.directory) / "validation-report.json").read_text())
    # Both packs ran (a pack that silently dropped out would report nothing too) ...
    assert {p["pluginName"] for p in report["pluginReports"]} == {
        "AwsSolutions",
        "HIPAA.Security",
    }
    # ... and every finding of either is acknowledged
    violations = [v for plugin in report["pluginReports"] for v in plugin.get("violations", [])]
    assert violations == []


def test_cdk_nag_stops_a_synth_that_adds_an_unencrypted_bucket(tmp_path: Path) -> None:
    # Given the app plus a bucket without server access logs or TLS enforcement
    app = cdk.App(outdir=str(tmp_path), context=CDK_JSON["context"])
    _, data = build_app(app)
    s3.Bucket(data, "Careless")
    # When it is synthesized / Then cdk-nag refuses it
    with pytest.raises(Exception, match="Validation failed|AwsSolutions"):
        app.synth()


@pytest.mark.parametrize("stack", STACKS)
def test_templates_pass_cfn_lint(dev_app: SynthesizedApp, stack: str) -> None:
    assert cfn_lint_findings(getattr(dev_app, f"{stack}_template_path")) == []


def test_prod_stage_retains_data(prod_app: SynthesizedApp) -> None:
    prod = prod_app
    for bucket in prod.data.find_resources("AWS::S3::Bucket").values():
        assert bucket["DeletionPolicy"] == "Retain"
    prod.data.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 365})


def test_tables_are_encrypted_with_the_project_key_and_recoverable(
    dev_app: SynthesizedApp,
) -> None:
    tables = dev_app.data.find_resources("AWS::DynamoDB::Table")
    assert len(tables) == 2  # lineage, idempotency
    for table in tables.values():
        properties = table["Properties"]
        assert properties["SSESpecification"]["SSEEnabled"] is True
        assert properties["SSESpecification"]["SSEType"] == "KMS"
        assert properties["PointInTimeRecoverySpecification"] == {
            "PointInTimeRecoveryEnabled": True
        }


def test_ingest_role_reaches_only_its_tables_and_bus(dev_app: SynthesizedApp) -> None:
    (policy,) = dev_app.data.find_resources(
        "AWS::IAM::Policy",
        {"Properties": {"Roles": [{"Ref": Match.string_like_regexp("IngestRole")}]}},
    ).values()
    for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        if any(a.startswith("dynamodb:") for a in actions):
            assert "Fn::GetAtt" in statement["Resource"], statement
            assert "dynamodb:Scan" not in actions and "dynamodb:DeleteTable" not in actions
        if "events:PutEvents" in actions:
            assert statement["Resource"] == {"Fn::GetAtt": [Match.any_value(), "Arn"]} or (
                "Fn::GetAtt" in statement["Resource"]
            )
