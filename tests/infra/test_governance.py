"""Security and observability across every stack: encryption, TLS, IAM scope, the key
policy, alarms on every function, queue and state machine, and a prod synth with no
credentials."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Match, Template

from tests.infra.conftest import SynthesizedApp


def resources(app: SynthesizedApp, kind: str) -> dict[str, dict[str, Any]]:
    """``kind`` resources of every stack, keyed by ``<stack>/<logical id>``."""
    return {
        f"{stack}/{logical_id}": dict(resource)
        for stack, template in app.templates.items()
        for logical_id, resource in template.find_resources(kind).items()
    }


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def log_delivery_targets(app: SynthesizedApp) -> set[str]:
    """Logical ids of buckets that receive other buckets' server access logs."""
    return {
        f"{key.split('/')[0]}/{bucket['Properties']['LoggingConfiguration']['DestinationBucketName']['Ref']}"
        for key, bucket in resources(app, "AWS::S3::Bucket").items()
        if "LoggingConfiguration" in bucket["Properties"]
    }


def test_every_bucket_is_encrypted_private_versioned_and_tls_only(
    dev_app: SynthesizedApp,
) -> None:
    buckets = resources(dev_app, "AWS::S3::Bucket")
    log_targets = log_delivery_targets(dev_app)
    assert len(buckets) == 7 and len(log_targets) == 2
    for key, bucket in buckets.items():
        properties = bucket["Properties"]
        (rule,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        algorithm = rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
        # S3 log delivery cannot write to SSE-KMS buckets; every data bucket uses the key
        assert algorithm == ("AES256" if key in log_targets else "aws:kms"), key
        if algorithm == "aws:kms":
            assert "KMSMasterKeyID" in rule["ServerSideEncryptionByDefault"], key
        else:
            assert "LoggingConfiguration" not in properties
        assert properties["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, key
        assert properties["VersioningConfiguration"] == {"Status": "Enabled"}, key
    policies = resources(dev_app, "AWS::S3::BucketPolicy")
    covered = {
        f"{key.split('/')[0]}/{policy['Properties']['Bucket']['Ref']}"
        for key, policy in policies.items()
        if any(
            s["Effect"] == "Deny"
            and s["Principal"] == {"AWS": "*"}
            and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in policy["Properties"]["PolicyDocument"]["Statement"]
        )
    }
    assert covered == set(buckets)


def test_every_log_group_expires_and_is_encrypted(dev_app: SynthesizedApp) -> None:
    groups = resources(dev_app, "AWS::Logs::LogGroup")
    # four functions and the training state machine
    assert len(groups) >= 5
    for key, group in groups.items():
        assert group["Properties"]["RetentionInDays"] == 14, key
        assert "Fn::GetAtt" in group["Properties"]["KmsKeyId"] or "Fn::ImportValue" in json.dumps(
            group["Properties"]["KmsKeyId"]
        ), key


def test_every_queue_topic_and_table_is_encrypted_with_the_key(dev_app: SynthesizedApp) -> None:
    queues = resources(dev_app, "AWS::SQS::Queue")
    topics = resources(dev_app, "AWS::SNS::Topic")
    assert len(queues) == 11 and len(topics) == 1
    for key, resource in {**queues, **topics}.items():
        assert "KmsMasterKeyId" in resource["Properties"], key
    for key, table in resources(dev_app, "AWS::DynamoDB::Table").items():
        assert table["Properties"]["SSESpecification"]["KMSMasterKeyId"], key


def test_queue_and_topic_policies_refuse_plain_http(dev_app: SynthesizedApp) -> None:
    for kind in ("AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy"):
        for key, policy in resources(dev_app, kind).items():
            statements = policy["Properties"]["PolicyDocument"]["Statement"]
            assert any(
                s["Effect"] == "Deny"
                and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
                for s in statements
            ), key


# Per role, the only actions allowed on Resource "*": each supports no resource-level
# permissions. A new "*" anywhere fails here until it is added with its reason.
XRAY = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
# CDK's grants for log delivery and X-Ray on a logged, traced state machine
STATE_MACHINE = (
    XRAY
    | {"xray:GetSamplingRules", "xray:GetSamplingTargets"}
    | {
        "logs:CreateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:DescribeLogGroups",
        "logs:DescribeResourcePolicies",
        "logs:GetLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:UpdateLogDelivery",
    }
)
WILDCARD_ACTIONS: dict[str, set[str]] = {
    "data/IngestRole": XRAY,
    "data/LargeFilesJobRole": {"cloudwatch:PutMetricData", "ecr:GetAuthorizationToken"},
    "data/LargeFilesStateMachineRole": STATE_MACHINE,
    # Finds the champion its job scores on the challenger's holdout.
    "pipeline/PrepareTrainingRole": XRAY | {"sagemaker:ListModelPackages"},
    "pipeline/EvaluateModelRole": XRAY | {"sagemaker:ListModelPackages"},
    "pipeline/RegisterModelRole": XRAY,
    "pipeline/SageMakerRole": {"cloudwatch:PutMetricData", "ecr:GetAuthorizationToken"},
    "pipeline/TrainingStateMachineRole": STATE_MACHINE,
    "pipeline/BatchInferencePrepareInferenceRole": XRAY | {"sagemaker:ListModelPackages"},
    "pipeline/BatchInferenceWritePredictionsRole": XRAY,
    "pipeline/BatchInferenceMonitorDriftRole": XRAY,
    # Reads the champion's training versions: is there anything new to learn from?
    "pipeline/BatchInferenceRetrainingGateRole": XRAY | {"sagemaker:ListModelPackages"},
    "pipeline/LabelsJoinLabelsRole": XRAY,
    "pipeline/BatchInferenceStateMachineRole": STATE_MACHINE,
    "pipeline/SageMakerLogsConfigureRole": XRAY,
    "pipeline/RealtimePlanDeploymentRole": XRAY,
    "pipeline/CaptureCollectCaptureRole": XRAY,
    "pipeline/RealtimeStateMachineRole": STATE_MACHINE,
}
# What SageMaker needs on "*" to run jobs in the stage's VPC (EC2's Describe* calls).
VPC_WILDCARD_ACTIONS = {
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeVpcs",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
}


def wildcard_actions(app: SynthesizedApp) -> dict[str, set[str]]:
    """Per role (``<stack>/<role logical id without its hash>``), actions on "*"."""
    found: dict[str, set[str]] = {}
    for stack, template in app.templates.items():
        for policy in template.find_resources("AWS::IAM::Policy").values():
            properties = policy["Properties"]
            for statement in properties["PolicyDocument"]["Statement"]:
                assert statement["Effect"] == "Allow"
                actions = as_list(statement["Action"])
                assert not any(a == "*" or a.endswith(":*") for a in actions), actions
                if "*" not in as_list(statement["Resource"]):
                    continue
                for role in properties["Roles"]:
                    name = f"{stack}/{role['Ref'][:-8]}"
                    found.setdefault(name, set()).update(actions)
    return found


def test_only_actions_without_resource_permissions_are_granted_on_any_resource(
    dev_app: SynthesizedApp,
) -> None:
    assert wildcard_actions(dev_app) == WILDCARD_ACTIONS


def test_a_vpc_adds_only_the_ec2_describe_calls_on_any_resource(prod_app: SynthesizedApp) -> None:
    expected = dict(WILDCARD_ACTIONS)
    for role in ("pipeline/SageMakerRole", "data/LargeFilesJobRole"):
        expected[role] = WILDCARD_ACTIONS[role] | VPC_WILDCARD_ACTIONS
    assert wildcard_actions(prod_app) == expected
    # and network interfaces are created only in the configured subnets and groups
    (policy,) = prod_app.pipeline.find_resources(
        "AWS::IAM::Policy",
        {"Properties": {"Roles": [{"Ref": Match.string_like_regexp("SageMakerRole")}]}},
    ).values()
    (create,) = [
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if "ec2:CreateNetworkInterface" in as_list(s["Action"])
    ]
    resources_text = json.dumps(create["Resource"])
    for name in ("subnet/subnet-0a1", "subnet/subnet-0b2", "security-group/sg-0c3"):
        assert name in resources_text


def test_prod_training_jobs_run_in_the_configured_vpc(prod_app: SynthesizedApp) -> None:
    (function,) = prod_app.pipeline.find_resources(
        "AWS::Lambda::Function",
        {"Properties": {"FunctionName": "driftline-prod-prepare-training"}},
    ).values()
    rendered = json.dumps(function["Properties"]["Environment"]["Variables"]["TRAINING_JOB"])
    assert '\\"Subnets\\":[\\"subnet-0a1\\",\\"subnet-0b2\\"]' in rendered
    assert '\\"SecurityGroupIds\\":[\\"sg-0c3\\"]' in rendered


def test_prod_functions_reserve_concurrency_and_dev_functions_do_not(
    dev_app: SynthesizedApp, prod_app: SynthesizedApp
) -> None:
    for app, expected in ((dev_app, None), (prod_app, 10)):
        functions = [
            f
            for template in (app.data, app.pipeline)
            for f in template.find_resources("AWS::Lambda::Function").values()
            if f["Properties"].get("FunctionName", "").startswith(app.config.prefix)
        ]
        assert len(functions) == 12
        for function in functions:
            assert function["Properties"].get("ReservedConcurrentExecutions") == expected


def test_key_policy_grants_services_only_what_encryption_needs(dev_app: SynthesizedApp) -> None:
    (key,) = dev_app.data.find_resources("AWS::KMS::Key").values()
    assert key["Properties"]["EnableKeyRotation"] is True
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    assert len(statements) == 4
    # the account administers the key through IAM (CDK's default statement)
    (account,) = [s for s in statements if "AWS" in s["Principal"]]
    assert account["Action"] == "kms:*"
    # CloudWatch Logs encrypts this account's log groups
    (logs,) = [s for s in statements if "logs." in json.dumps(s["Principal"])]
    assert "kms:EncryptionContext:aws:logs:arn" in json.dumps(logs["Condition"])
    # CloudWatch alarms of this account publish to the encrypted topic
    (alarms,) = [s for s in statements if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert alarms["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    # EventBridge delivers to the encrypted topic and dead-letter queues (CDK's grant)
    (bus,) = [s for s in statements if s["Principal"] == {"Service": "events.amazonaws.com"}]
    for statement in (alarms, bus):
        assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]


def test_the_lineage_table_is_backed_up_daily(dev_app: SynthesizedApp) -> None:
    (selection,) = dev_app.data.find_resources("AWS::Backup::BackupSelection").values()
    resources_text = json.dumps(selection["Properties"]["BackupSelection"]["Resources"])
    assert "Lineage" in resources_text and "Idempotency" not in resources_text
    (vault,) = dev_app.data.find_resources("AWS::Backup::BackupVault").values()
    assert "EncryptionKeyArn" in vault["Properties"]


# -- monitoring -------------------------------------------------------------------------


def project_functions(app: SynthesizedApp) -> list[str]:
    return [
        f["Properties"]["FunctionName"]
        for template in (app.data, app.pipeline)
        for f in template.find_resources("AWS::Lambda::Function").values()
        if f["Properties"].get("FunctionName", "").startswith(app.config.prefix)
    ]


def alarm_targets(monitoring: Template) -> dict[str, list[str]]:
    """Per alarm: its metric, and the names of what it watches."""
    found: dict[str, list[str]] = {}
    for alarm in monitoring.find_resources("AWS::CloudWatch::Alarm").values():
        properties = alarm["Properties"]
        found.setdefault(f"{properties['Namespace']}:{properties['MetricName']}", []).append(
            json.dumps(properties["Dimensions"])
        )
    return found


def test_every_function_queue_and_state_machine_has_its_alarms(dev_app: SynthesizedApp) -> None:
    targets = alarm_targets(dev_app.monitoring)
    functions = len(project_functions(dev_app))
    queues = sum(len(t.find_resources("AWS::SQS::Queue")) for t in dev_app.templates.values())
    machines = len(dev_app.pipeline.find_resources("AWS::StepFunctions::StateMachine"))
    assert len(targets["AWS/Lambda:Errors"]) == functions == 12
    assert len(targets["AWS/Lambda:Throttles"]) == functions
    assert len(targets["AWS/SQS:ApproximateNumberOfMessagesVisible"]) == queues == 11
    assert len(targets["AWS/States:ExecutionsFailed"]) == machines == 3
    # And labels measuring a degraded model alarm, per inference dataset
    quality = {
        tuple(sorted((d["Name"], d["Value"]) for d in json.loads(dimensions)))
        for dimensions in targets["driftline:ModelQualityDegraded"]
    }
    assert quality == {
        (("dataset", name), ("service", "join_labels"), ("stage", "dev"))
        for name in ("scoring", "store-sales-batches", "ticket-triage")
    }
    # and every real-time endpoint's server errors (the sample's one)
    assert len(targets["AWS/SageMaker:Invocation5XXErrors"]) == 1
    for dimensions in targets.values():
        assert len(set(dimensions)) == len(dimensions)  # no resource watched twice


def test_alarms_notify_the_topic_when_anything_is_waiting_or_failed(
    dev_app: SynthesizedApp,
) -> None:
    (topic,) = dev_app.monitoring.find_resources("AWS::SNS::Topic")
    for alarm in dev_app.monitoring.find_resources("AWS::CloudWatch::Alarm").values():
        properties = alarm["Properties"]
        assert properties["Threshold"] == 0
        assert properties["ComparisonOperator"] == "GreaterThanThreshold"
        assert properties["TreatMissingData"] == "notBreaching"
        assert properties["AlarmActions"] == [{"Ref": topic}]
        assert properties["OKActions"] == [{"Ref": topic}]


def test_failure_events_reach_the_topic_as_readable_messages(dev_app: SynthesizedApp) -> None:
    (topic,) = dev_app.monitoring.find_resources("AWS::SNS::Topic")
    rules = dev_app.monitoring.find_resources("AWS::Events::Rule")
    detail_types = set()
    for rule in rules.values():
        properties = rule["Properties"]
        detail_types.update(properties["EventPattern"]["detail-type"])
        (target,) = properties["Targets"]
        assert target["Arn"] == {"Ref": topic}
        assert "DeadLetterConfig" in target and target["RetryPolicy"]["MaximumRetryAttempts"] == 8
        template = target["InputTransformer"]["InputTemplate"]
        assert template.startswith('"driftline: ')
    assert detail_types == {
        "TrainingFailed",
        "ModelRejected",
        "ModelQualityDegraded",
        "DatasetRejected",
        "DriftDetected",
        "InferenceFailed",
        "EndpointRolledBack",
        "EndpointDeploymentFailed",
    }


def test_alarm_email_is_subscribed_only_when_configured(
    dev_app: SynthesizedApp, prod_app: SynthesizedApp
) -> None:
    assert not dev_app.monitoring.find_resources("AWS::SNS::Subscription")
    prod_app.monitoring.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"}
    )


def test_dashboard_plots_the_pipelines_metrics(dev_app: SynthesizedApp) -> None:
    (dashboard,) = dev_app.monitoring.find_resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for metric in (
        "FilesIngested",
        "FilesRejected",
        "RowsIngested",
        "ModelAuc",
        "TrainingDuration",
        "DriftScore",
        "DriftDetected",
        "ApproximateNumberOfMessagesVisible",
        "ExecutionsFailed",
        "Errors",
        "Throttles",
    ):
        assert metric in body, metric
    # the rejection rate is metric math over the per-dataset series of this stage
    assert "100 * SUM(rejected) / (SUM(ingested) + SUM(rejected))" in body
    assert 'stage=\\\\\\"dev\\\\\\"' in body or 'stage=\\"dev\\"' in body
