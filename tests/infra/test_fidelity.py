"""What real AWS would reject or regret, pinned in the templates.

Each test stands for a finding of the fidelity audit: the local cloud accepted what AWS
would refuse at deploy or run time (an export in use, an ARN built by replacing text in a
token), or a setting that only AWS honours was missing (network isolation, key conditions,
log retention).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match
from driftline_runtime import layout, names

from infra.config import load_stage_config
from infra.constructs.sagemaker import SageMakerJobs
from infra.lint_templates import validate_asl
from infra.packaging import ROOT
from tests.infra.conftest import CDK_JSON, SynthesizedApp
from tests.infra.test_pipeline_stack import ASL_FILES, actions_of, statements_of, tasks

ASL = {name: json.loads((ROOT / "state_machines" / f).read_text()) for name, f in ASL_FILES.items()}


def rendered(value: Any) -> str:
    """A CloudFormation value as text, with intrinsic functions reduced to their names."""
    if isinstance(value, dict) and "Fn::Join" in value:
        return "".join(rendered(part) for part in value["Fn::Join"][1])
    if isinstance(value, dict) and "Ref" in value:
        return "${" + str(value["Ref"]) + "}"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    return value if isinstance(value, str) else json.dumps(value)


# -- a: layers -----------------------------------------------------------------------------
def test_pipeline_functions_use_layer_versions_of_their_own_stack(dev_app: SynthesizedApp) -> None:
    # A layer version exported by the data stack could never change while the pipeline
    # stack imports it: a new contract would stop at the data stack's update on AWS
    own_layers = set(dev_app.pipeline.find_resources("AWS::Lambda::LayerVersion"))
    assert len(own_layers) == 3
    for function in dev_app.pipeline.find_resources("AWS::Lambda::Function").values():
        layers = function["Properties"]["Layers"]
        assert {layer["Ref"] for layer in layers} == own_layers
    exports = [
        name
        for name, output in dev_app.data.to_json().get("Outputs", {}).items()
        if "Export" in output
    ]
    assert not [name for name in exports if "Layer" in name], exports


# -- b: the retraining gate's DescribeExecution ---------------------------------------------
def test_the_gate_may_describe_the_training_executions_it_started(dev_app: SynthesizedApp) -> None:
    statements = statements_of(dev_app, "RetrainingGateRole")
    (describe,) = [s for s in statements if "states:DescribeExecution" in str(s["Action"])]
    resource = rendered(describe["Resource"])
    training = names.state_machine_name(dev_app.config.stage, names.TRAINING_STATE_MACHINE)
    # Then it names executions of the training state machine, as IAM evaluates them
    assert resource.endswith(f":execution:{training}:*"), resource
    assert ":stateMachine:" not in resource


# -- c, f: models carry their code, run isolated, in the stage's VPC ------------------------
# The deployment creates no model: it deploys the one its training run created.
@pytest.mark.parametrize("name", sorted(set(ASL) - {"deployment"}))
def test_create_model_passes_the_whole_request_a_function_built(name: str) -> None:
    (create,) = [s for s in tasks(ASL[name]["States"]).values() if "createModel" in s["Resource"]]
    # No static Parameters: the function's request (network isolation, the serving code
    # inside the model, a VpcConfig when the stage has one) goes to SageMaker whole
    assert "Parameters" not in create
    assert create["InputPath"].endswith(".model")


def test_prod_models_run_in_the_stages_vpc(prod_app: SynthesizedApp) -> None:
    for function_name in ("prepare-inference", "register-model"):
        (function,) = prod_app.pipeline.find_resources(
            "AWS::Lambda::Function",
            {"Properties": {"FunctionName": f"driftline-prod-{function_name}"}},
        ).values()
        model = rendered(function["Properties"]["Environment"]["Variables"]["MODEL"])
        assert '"Subnets":["subnet-0a1","subnet-0b2"]' in model.replace("\\", "")
        assert '"SecurityGroupIds":["sg-0c3"]' in model.replace("\\", "")


def test_no_function_points_models_at_the_deployments_current_source(
    dev_app: SynthesizedApp,
) -> None:
    # The register function used to give every model the current source tarball, which a
    # redeploy replaces; models now serve with the code inside their own artefact
    (register,) = dev_app.pipeline.find_resources(
        "AWS::Lambda::Function",
        {"Properties": {"FunctionName": "driftline-dev-register-model"}},
    ).values()
    assert "SOURCE_DIR" not in register["Properties"]["Environment"]["Variables"]


# -- d: the Distributed Map's results ---------------------------------------------------------
def test_the_map_writes_its_results_to_s3_and_may_do_so(dev_app: SynthesizedApp) -> None:
    (score,) = [s for s in ASL["batch-inference"]["States"].values() if s["Type"] == "Map"]
    writer = score["ResultWriter"]
    assert writer["Resource"] == "arn:${Partition}:states:::s3:putObject"
    assert writer["Parameters"]["Prefix.$"] == "$.resolved.result.input.results_prefix"
    write = ASL["batch-inference"]["States"]["WritePredictions"]["Parameters"]["Payload"]
    assert write["results.$"] == score["ResultPath"]
    statements = statements_of(dev_app, "BatchInferenceStateMachineRole")
    puts = [s for s in statements if "s3:PutObject" in str(s["Action"])]
    assert any(f"/{layout.INFERENCE_PREFIX}/*" in rendered(s["Resource"]) for s in puts)


# -- e: retry names -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(ASL))
def test_retries_name_errors_aws_raises_and_spare_validation_errors(name: str) -> None:
    for task_name, state in tasks(ASL[name]["States"]).items():
        for retrier in state["Retry"]:
            errors = retrier["ErrorEquals"]
            # AWS raises throttling as SageMaker's base exception, never under this name
            assert "SageMaker.ThrottlingException" not in errors
            # ... which also carries validation errors: retried, but briefly
            if "SageMaker.AmazonSageMakerException" in errors:
                assert retrier["MaxAttempts"] <= 2, task_name
        if "events:putEvents" in state["Resource"]:
            retried = {e for r in state["Retry"] for e in r["ErrorEquals"]}
            assert "EventBridge.FailedEntry" in retried, task_name


# -- g: per-stage SageMaker names ---------------------------------------------------------------
@pytest.mark.parametrize("role", ["TrainingStateMachineRole", "BatchInferenceStateMachineRole"])
def test_a_stage_reaches_only_its_own_jobs_and_models(
    dev_app: SynthesizedApp, prod_app: SynthesizedApp, role: str
) -> None:
    for app in (dev_app, prod_app):
        sagemaker = [
            rendered(s["Resource"])
            for s in statements_of(app, role)
            if any(a.startswith("sagemaker:") for a in actions_of(s))
        ]
        assert sagemaker
        for resource in sagemaker:
            assert resource.endswith(f"/dl-{app.config.stage}-*"), resource


# -- h: the key and SageMaker's log groups ------------------------------------------------------
def test_every_service_the_key_policy_admits_is_limited_to_this_account(
    dev_app: SynthesizedApp,
) -> None:
    (key,) = dev_app.data.find_resources("AWS::KMS::Key").values()
    for statement in key["Properties"]["KeyPolicy"]["Statement"]:
        principal = statement["Principal"]
        if "Service" not in principal:
            continue
        conditions = json.dumps(statement.get("Condition", {}))
        assert "aws:SourceAccount" in conditions or "kms:EncryptionContext:aws:logs:arn" in (
            conditions
        ), principal


def test_notifications_are_published_as_a_role_of_this_account(dev_app: SynthesizedApp) -> None:
    rules = dev_app.monitoring.find_resources("AWS::Events::Rule")
    roles = {
        json.dumps(t.get("RoleArn")) for r in rules.values() for t in r["Properties"]["Targets"]
    }
    assert len(roles) == 1 and "Notifier" in roles.pop()
    (notifier,) = dev_app.monitoring.find_resources(
        "AWS::IAM::Role", {"Properties": {"Description": Match.string_like_regexp("notification")}}
    ).values()
    (trust,) = notifier["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert "aws:SourceAccount" in json.dumps(trust["Condition"])


def test_sagemakers_job_log_groups_get_retention_and_the_key(dev_app: SynthesizedApp) -> None:
    (resource,) = dev_app.pipeline.find_resources("Custom::SageMakerLogGroups").values()
    properties = resource["Properties"]
    assert sorted(properties["LogGroups"]) == sorted(
        f"{names.SAGEMAKER_LOGS_PREFIX}{kind}"
        for kind in ("ProcessingJobs", "TrainingJobs", "TransformJobs")
    )
    assert properties["RetentionDays"] == str(dev_app.config.log_retention_days)
    assert "DataKey" in json.dumps(properties["KmsKeyArn"])


# -- i: bytecode --------------------------------------------------------------------------------
def test_layers_and_functions_ship_bytecode_lambda_can_use(dev_app: SynthesizedApp) -> None:
    assets = Path(dev_app.assembly.directory)
    codes = [
        r["Properties"]["Content"]["S3Key"]
        for t in (dev_app.data, dev_app.pipeline)
        for r in t.find_resources("AWS::Lambda::LayerVersion").values()
    ] + [
        r["Properties"]["Code"]["S3Key"]
        for t in (dev_app.data, dev_app.pipeline)
        for r in t.find_resources("AWS::Lambda::Function").values()
        if "S3Key" in r["Properties"]["Code"]
    ]
    for key in set(codes):
        folder = assets / f"asset.{key.removesuffix('.zip')}"
        modules = [m for m in folder.rglob("*.py") if "site-packages" not in m.parts]
        own = [m for m in modules if "driftline" in str(m) or m.name == "handler.py"]
        for module in own:
            (compiled,) = (module.parent / "__pycache__").glob(f"{module.stem}.cpython-313.pyc")
            flags = int.from_bytes(compiled.read_bytes()[4:8], "little")
            assert flags == 0b01, f"{compiled}: not an unchecked-hash pyc"


# -- j: partition, regions ------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(ASL_FILES))
def test_integrations_are_named_in_the_stacks_partition(dev_app: SynthesizedApp, name: str) -> None:
    text = (ROOT / "state_machines" / ASL_FILES[name]).read_text()
    assert "arn:aws:" not in text
    assert re.findall(r'"arn:\$\{Partition\}:states:::', text)
    machines = dev_app.pipeline.find_resources("AWS::StepFunctions::StateMachine")
    for machine in machines.values():
        assert machine["Properties"]["DefinitionSubstitutions"]["Partition"] == {
            "Ref": "AWS::Partition"
        }


def test_a_region_without_the_image_fails_the_synth_with_a_reason() -> None:
    config = load_stage_config(CDK_JSON["context"].get, account=None, region=None)
    app = cdk.App()
    stack = cdk.Stack(app, "Nowhere", env=cdk.Environment(region="xx-nowhere-1"))
    with pytest.raises(ValueError, match=r"not published in region xx-nowhere-1.*us-east-1"):
        SageMakerJobs(
            stack,
            "SageMaker",
            config=config,
            key=cdk.aws_kms.Key(stack, "Key"),
            artifacts=cdk.aws_s3.Bucket(stack, "Artifacts"),
        )


def test_a_stack_of_unknown_region_refuses_other_regions_at_deploy(
    dev_app: SynthesizedApp,
) -> None:
    # Given a synth that knows no region (an environment-agnostic stack)
    assert dev_app.config.region is None
    rules = dev_app.pipeline.to_json().get("Rules", {})
    (rule,) = [r for name, r in rules.items() if name.startswith("SageMakerImageRegion")]
    (assertion,) = rule["Assertions"]
    assert "not published in this region" in assertion["AssertDescription"]
    assert "us-east-1" in json.dumps(assertion["Assert"])


# -- lint -------------------------------------------------------------------------------------
def test_the_asl_validator_finds_a_broken_definition() -> None:
    # Given the ASL validator make lint runs, and a definition with a state it cannot reach
    broken = {"StartAt": "Missing", "States": {"Done": {"Type": "Succeed"}}}
    # Then it reports it, and accepts the real files once their placeholders are filled
    assert validate_asl("broken", json.dumps(broken))
    for name in ASL_FILES.values():
        text = (ROOT / "state_machines" / name).read_text().replace("${Partition}", "aws")
        text = re.sub(r"\$\{[A-Za-z]+\}", "arn:aws:lambda:us-east-1:123456789012:function:x", text)
        assert validate_asl(name, text) == []
