"""Infrastructure of real-time scoring: the deployment state machine, its trigger, the
alarms SageMaker's guardrails roll back on, and least-privilege grants with the key."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Match
from driftline_runtime import names

from tests.infra.conftest import SynthesizedApp
from tests.infra.test_pipeline_stack import actions_of, statements_of

ENDPOINTS = "endpoint/dl-dev-*"


def arn_text(resource: Any) -> str:
    return json.dumps(resource)


def test_approved_models_start_the_deployment_state_machine(dev_app: SynthesizedApp) -> None:
    # Given the deployment's rule on the project bus for approved models (the retraining
    # gate has its own, for rescoring)
    (rule,) = [
        rule
        for logical_id, rule in dev_app.pipeline.find_resources(
            "AWS::Events::Rule",
            {"Properties": {"EventPattern": {"detail-type": ["ModelRegistered"]}}},
        ).items()
        if logical_id.startswith("RealtimeDeployApprovedModels")
    ]
    properties = rule["Properties"]

    # Then it matches only approved ones and starts the deployment with the package and
    # the model the training run created, retried into a dead-letter queue
    assert properties["EventPattern"]["source"] == [names.TRAINING_SOURCE]
    assert properties["EventPattern"]["detail"] == {"status": ["Approved"]}
    (target,) = properties["Targets"]
    template = target["InputTransformer"]["InputTemplate"]
    for field in ("dataset", "model_package_arn", "model_name"):
        assert f'"{field}":' in template
    assert "<detail-training_job>" in template
    assert '"trigger":"registered"' in template.replace(" ", "")
    assert "DeadLetterConfig" in target
    (machine,) = dev_app.pipeline.find_resources(
        "AWS::StepFunctions::StateMachine",
        {"Properties": {"StateMachineName": "driftline-dev-deployment"}},
    )
    assert target["Arn"] == {"Ref": machine}


def test_approvals_in_the_registry_start_the_deployment_state_machine(
    dev_app: SynthesizedApp,
) -> None:
    # Given the deployment's rule for SageMaker's own approval events
    (rule,) = dev_app.pipeline.find_resources(
        "AWS::Events::Rule",
        {"Properties": {"EventPattern": {"detail-type": [names.MODEL_PACKAGE_STATE_CHANGE]}}},
    ).values()
    properties = rule["Properties"]

    # Then it listens on the default bus (where SageMaker puts them), to approvals of the
    # stage's package groups only (prefix "driftline-dev-", so not driftline-devx-)
    assert "EventBusName" not in properties
    assert properties["EventPattern"] == {
        "source": ["aws.sagemaker"],
        "detail-type": [names.MODEL_PACKAGE_STATE_CHANGE],
        "detail": {
            "ModelApprovalStatus": ["Approved"],
            "ModelPackageGroupName": [{"prefix": f"{names.stage_prefix('dev')}-"}],
        },
    }
    # And it starts the same state machine with the package only, marked as the
    # registry's, retried into the same dead-letter queue as ModelRegistered's rule
    (target,) = properties["Targets"]
    template = json.loads(
        target["InputTransformer"]["InputTemplate"].replace("<detail-ModelPackageArn>", '"arn"')
    )
    assert template == {
        "dataset": "",
        "model_package_arn": "arn",
        "model_name": "",
        "trigger": "registry",
    }
    assert target["InputTransformer"]["InputPathsMap"] == {
        "detail-ModelPackageArn": "$.detail.ModelPackageArn"
    }
    (machine,) = dev_app.pipeline.find_resources(
        "AWS::StepFunctions::StateMachine",
        {"Properties": {"StateMachineName": "driftline-dev-deployment"}},
    )
    assert target["Arn"] == {"Ref": machine}
    (registered,) = [
        r
        for logical_id, r in dev_app.pipeline.find_resources("AWS::Events::Rule").items()
        if logical_id.startswith("RealtimeDeployApprovedModels")
    ]
    (registered_target,) = registered["Properties"]["Targets"]
    assert target["DeadLetterConfig"] == registered_target["DeadLetterConfig"]
    assert target["RetryPolicy"] == registered_target["RetryPolicy"]


def test_each_realtime_dataset_has_guardrail_alarms_on_its_variant(
    dev_app: SynthesizedApp,
) -> None:
    # Given the sample's training dataset, which declares realtime settings
    alarms = {
        alarm["Properties"]["AlarmName"]: alarm["Properties"]
        for alarm in dev_app.pipeline.find_resources("AWS::CloudWatch::Alarm").values()
    }
    errors = alarms[names.endpoint_alarm_name("dev", "transactions", "server-errors")]
    latency = alarms[names.endpoint_alarm_name("dev", "transactions", "model-latency")]

    # Then server errors and p99 latency of the endpoint's one variant are watched at the
    # stage's alarm period, and no traffic is no evidence against a model
    dimensions = [
        {"Name": "EndpointName", "Value": names.endpoint_name("dev", "transactions")},
        {"Name": "VariantName", "Value": names.ENDPOINT_VARIANT},
    ]
    assert errors["Namespace"] == latency["Namespace"] == "AWS/SageMaker"
    assert errors["MetricName"] == "Invocation5XXErrors" and errors["Statistic"] == "Sum"
    assert latency["MetricName"] == "ModelLatency" and latency["ExtendedStatistic"] == "p99"
    assert latency["Threshold"] == 1000 * 1000  # microseconds: the default 1,000 ms
    for alarm in (errors, latency):
        assert alarm["Dimensions"] == dimensions
        assert alarm["Period"] == dev_app.config.realtime_alarm_period_seconds == 10
        assert alarm["TreatMissingData"] == "notBreaching"
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"


def test_prod_alarms_use_standard_resolution(prod_app: SynthesizedApp) -> None:
    periods = {
        alarm["Properties"]["Period"]
        for alarm in prod_app.pipeline.find_resources("AWS::CloudWatch::Alarm").values()
    }
    assert periods == {60}


def test_the_state_machine_may_deploy_only_the_stage_s_endpoints(dev_app: SynthesizedApp) -> None:
    # Given the deployment state machine's role
    statements = statements_of(dev_app, "RealtimeStateMachineRole")
    by_action = {action: s for s in statements for action in actions_of(s)}

    # Then it creates configs and endpoints, updates and describes them, under the stage's
    # prefix only, uses the key for volumes and capture, and reads only the endpoint alarms
    for action in (
        "sagemaker:CreateEndpointConfig",
        "sagemaker:CreateEndpoint",
        "sagemaker:UpdateEndpoint",
        "sagemaker:DescribeEndpoint",
    ):
        resources = arn_text(by_action[action]["Resource"])
        assert "dl-dev-*" in resources and '"*"' not in resources
    assert ENDPOINTS in arn_text(by_action["sagemaker:UpdateEndpoint"]["Resource"])
    assert "endpoint-config/dl-dev-*" in arn_text(by_action["sagemaker:CreateEndpointConfig"])
    assert "DataKey" in arn_text(by_action["kms:CreateGrant"]["Resource"])
    alarms = arn_text(by_action["cloudwatch:DescribeAlarms"]["Resource"])
    assert ":alarm:driftline-dev-*-endpoint-*" in alarms
    assert not any(action.startswith("sagemaker:Delete") for action in by_action)
    assert "iam:PassRole" not in by_action  # the model was created with its role already


def test_the_plan_function_only_describes_endpoints_and_packages(
    dev_app: SynthesizedApp,
) -> None:
    # Given the plan function's role
    statements = statements_of(dev_app, "RealtimePlanDeployment")
    sagemaker = [s for s in statements if any(a.startswith("sagemaker:") for a in actions_of(s))]
    # Then it describes the stage's endpoints, the packages of the stage's groups (which
    # the registry's approval events name) and the stage's models, nothing else
    assert [actions_of(s) for s in sagemaker] == [
        ["sagemaker:DescribeEndpoint"],
        ["sagemaker:DescribeModelPackage"],
        ["sagemaker:DescribeModel"],
    ]
    assert ENDPOINTS in arn_text(sagemaker[0]["Resource"])
    packages = arn_text(sagemaker[1]["Resource"])
    assert f"model-package/{names.stage_prefix('dev')}-*/*" in packages
    models = arn_text(sagemaker[2]["Resource"])
    assert ":model/dl-dev-*" in models
    assert '"*"' not in packages and '"*"' not in models


def test_models_may_write_captured_traffic_encrypted(dev_app: SynthesizedApp) -> None:
    # Given the role SageMaker runs models as
    statements = statements_of(dev_app, "SageMakerRole")
    puts = [s for s in statements if "s3:PutObject" in actions_of(s)]
    # Then it may put objects under capture/ of the predictions bucket, with the key
    assert any("/capture/*" in arn_text(s["Resource"]) for s in puts)
    keys = [s for s in statements if "kms:GenerateDataKey" in actions_of(s)]
    assert keys


def test_plan_learns_the_stage_settings(dev_app: SynthesizedApp) -> None:
    dev_app.pipeline.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "FunctionName": names.function_name("dev", "plan_deployment"),
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "STAGE": "dev",
                        "SERVERLESS": "false",
                        "POLL_SECONDS": "5",
                        "MODEL_PACKAGE_GROUP_PREFIX": names.stage_prefix("dev"),
                        "CAPTURE_BUCKET": Match.any_value(),
                        "KEY_ARN": Match.any_value(),
                    }
                )
            },
        },
    )


def test_alarm_names_are_unique_across_the_stacks(dev_app: SynthesizedApp) -> None:
    # A second alarm of the same name would replace a guardrail alarm with its own metric
    # and period (CloudFormation refuses it on AWS; an emulator may not)
    alarm_names = [
        alarm["Properties"]["AlarmName"]
        for template in dev_app.templates.values()
        for alarm in template.find_resources("AWS::CloudWatch::Alarm").values()
    ]
    assert len(alarm_names) == len(set(alarm_names))
    assert "driftline-dev-transactions-endpoint-errors" in alarm_names


def test_captured_traffic_is_collected_on_the_window_into_the_capture_dataset_only(
    dev_app: SynthesizedApp,
) -> None:
    # Given the collect-capture function of the sample (transactions captures into scoring)
    dev_app.pipeline.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "FunctionName": names.function_name("dev", "collect_capture"),
            "Environment": {
                "Variables": Match.object_like({"STAGE": "dev", "WINDOW_MINUTES": "60"})
            },
        },
    )
    # Then a schedule starts it every window, with a dead-letter queue
    (rule,) = dev_app.pipeline.find_resources(
        "AWS::Events::Rule", {"Properties": {"ScheduleExpression": "rate(1 hour)"}}
    ).values()
    (target,) = rule["Properties"]["Targets"]
    assert "DeadLetterConfig" in target
    # And its role reads only the capture of transactions, lists only that prefix, and
    # writes only scoring/capture-* files of the raw bucket, with the key
    statements = statements_of(dev_app, "CaptureCollectCapture")
    by_action = {action: s for s in statements for action in actions_of(s)}
    assert "/capture/transactions/*" in arn_text(by_action["s3:GetObject"]["Resource"])
    assert by_action["s3:ListBucket"]["Condition"] == {
        "StringLike": {"s3:prefix": ["capture/transactions/*"]}
    }
    assert "kms:Decrypt" in by_action
    assert not any(a.startswith(("s3:Put", "s3:Delete", "sagemaker:")) for a in by_action)
    # And it writes through the data stack's policy: only scoring/capture-* of the raw bucket
    (writer,) = dev_app.data.find_resources(
        "AWS::IAM::ManagedPolicy",
        {"Properties": {"Description": Match.string_like_regexp("captured real-time rows")}},
    ).values()
    (put, key) = writer["Properties"]["PolicyDocument"]["Statement"]
    assert actions_of(put) == ["s3:PutObject"]
    assert "/scoring/capture-*" in arn_text(put["Resource"])
    assert "RawBucket" in arn_text(put["Resource"])
    assert actions_of(key) == ["kms:GenerateDataKey"]
    (role,) = [
        r
        for logical_id, r in dev_app.pipeline.find_resources("AWS::IAM::Role").items()
        if logical_id.startswith("CaptureCollectCapture")
    ]
    assert "CaptureBatchWriter" in arn_text(role["Properties"]["ManagedPolicyArns"])


def test_where_labels_measure_the_endpoints_models_each_deployment_guards_its_own_model(
    dev_app: SynthesizedApp,
) -> None:
    # Given the sample: scoring-labels labels scoring, which transactions' models score
    alarms = {
        alarm["Properties"]["AlarmName"]: alarm["Properties"]
        for template in dev_app.templates.values()
        for alarm in template.find_resources("AWS::CloudWatch::Alarm").values()
    }
    # Then no standing alarm on the dataset's measured quality rolls a deployment back
    # (it would judge whichever model scored the measured batch)...
    assert not [name for name in alarms if "-endpoint-model-quality" in name]
    # ...while the monitoring stack still notifies degraded quality per dataset
    monitoring = alarms["driftline-dev-model-quality-degraded-scoring"]
    assert monitoring["MetricName"] == names.MODEL_QUALITY_DEGRADED_METRIC
    assert {d["Name"]: d["Value"] for d in monitoring["Dimensions"]} == {
        "stage": "dev",
        "dataset": "scoring",
        "service": names.MODEL_QUALITY_SERVICE,
    }
    assert monitoring["AlarmActions"]
    # And the plan learns which endpoints to guard, at a period the standard-resolution
    # metric reaches (the stage's 10 s alarm period is too short for it)
    dev_app.pipeline.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "FunctionName": names.function_name("dev", "plan_deployment"),
            "Environment": {
                "Variables": Match.object_like(
                    {"QUALITY_ALARMS": "transactions", "QUALITY_ALARM_PERIOD_SECONDS": "60"}
                )
            },
        },
    )


def test_a_deployment_may_make_and_delete_only_the_deployments_quality_alarms(
    dev_app: SynthesizedApp,
) -> None:
    quality = f":alarm:{names.quality_alarm_prefix('dev', '*')}*"
    # Given the deployment state machine's role
    statements = statements_of(dev_app, "RealtimeStateMachineRole")
    by_action = {action: s for s in statements for action in actions_of(s)}
    # Then it may make (tagged) and delete the stage's deployment quality alarms, no other
    for action in (
        "cloudwatch:PutMetricAlarm",
        "cloudwatch:TagResource",
        "cloudwatch:DeleteAlarms",
    ):
        resources = by_action[action]["Resource"]
        assert quality in arn_text(resources) and '"*"' not in arn_text(resources)
        assert not isinstance(resources, list) or len(resources) == 1
    # And the plan function may list them (to retire what earlier deployments left), no more
    plan = statements_of(dev_app, "RealtimePlanDeployment")
    (listing,) = [s for s in plan if any(a.startswith("cloudwatch:") for a in actions_of(s))]
    assert actions_of(listing) == ["cloudwatch:DescribeAlarms"]
    assert quality in arn_text(listing["Resource"])
