"""The training pipeline stack: the ASL file as deployed, scoped IAM, the trigger."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match

from infra.packaging import ROOT
from tests.infra.conftest import SynthesizedApp


def statements_of(app: SynthesizedApp, role_pattern: str) -> list[dict[str, Any]]:
    policies = app.pipeline.find_resources(
        "AWS::IAM::Policy",
        {"Properties": {"Roles": [{"Ref": Match.string_like_regexp(role_pattern)}]}},
    )
    return [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]


def actions_of(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


ASL_FILES = {
    "training": "training.asl.json",
    "batch-inference": "batch_inference.asl.json",
    "deployment": "deployment.asl.json",
}


def state_machine(app: SynthesizedApp, name: str) -> dict[str, Any]:
    (machine,) = app.pipeline.find_resources(
        "AWS::StepFunctions::StateMachine",
        {"Properties": {"StateMachineName": f"{app.config.prefix}-{name}"}},
    ).values()
    return dict(machine)


def tasks(states: dict[str, Any]) -> dict[str, Any]:
    """Every Task state, including those inside Map and Parallel states."""
    found: dict[str, Any] = {}
    for name, state in states.items():
        if state["Type"] == "Task":
            found[name] = state
        for processor in [state.get("ItemProcessor"), *state.get("Branches", [])]:
            if processor:
                found.update(tasks(processor["States"]))
    return found


@pytest.mark.parametrize("name", sorted(ASL_FILES))
def test_deployed_definition_is_the_asl_file(dev_app: SynthesizedApp, name: str) -> None:
    # Given the ASL file in the repo, with its ${...} placeholders
    source = ROOT / "state_machines" / ASL_FILES[name]
    placeholders = set(re.findall(r"\$\{([A-Za-z]+)\}", source.read_text()))
    # When CDK synthesizes the state machine
    properties = state_machine(dev_app, name)["Properties"]
    # Then the definition CloudFormation deploys is that very file, uploaded as an asset,
    # and CloudFormation fills in exactly its placeholders (no second definition anywhere)
    asset = Path(dev_app.assembly.directory) / f"asset.{properties['DefinitionS3Location']['Key']}"
    assert asset.read_bytes() == source.read_bytes()
    assert set(properties["DefinitionSubstitutions"]) == placeholders
    assert "DefinitionString" not in properties


@pytest.mark.parametrize("name", sorted(ASL_FILES))
def test_every_task_retries_and_catches(name: str) -> None:
    definition = json.loads((ROOT / "state_machines" / ASL_FILES[name]).read_text())
    found = tasks(definition["States"])
    assert found
    for task_name, state in found.items():
        assert state.get("Retry"), f"{task_name} has no Retry"
        inside_map = task_name not in definition["States"]
        # The failure event's own task has nowhere left to go; a Map's tasks fail the Map,
        # whose Catch handles them.
        if not (task_name.startswith("Publish") and task_name.endswith("Failed")):
            assert state.get("Catch") or inside_map, f"{task_name} has no Catch"
    for state in definition["States"].values():
        if state["Type"] == "Map":
            assert state.get("Catch"), "a Map state has no Catch"


def test_batch_inference_fans_out_over_the_input_parts() -> None:
    definition = json.loads((ROOT / "state_machines" / ASL_FILES["batch-inference"]).read_text())
    (score,) = [s for s in definition["States"].values() if s["Type"] == "Map"]
    assert score["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert score["ItemReader"]["Resource"] == "arn:${Partition}:states:::s3:listObjectsV2"
    states = score["ItemProcessor"]["States"]
    transform = states[score["ItemProcessor"]["StartAt"]]
    assert transform["Resource"] == "arn:${Partition}:states:::sagemaker:createTransformJob.sync"
    parameters = transform["Parameters"]
    assert parameters["TransformInput"]["SplitType"] == "Line"
    assert parameters["BatchStrategy"] == "MultiRecord"
    assert parameters["TransformOutput"]["AssembleWith"] == "Line"
    # A failed job is reported as its iteration's result, for WritePredictions to name
    (catch,) = transform["Catch"]
    assert states[catch["Next"]]["Parameters"]["status"] == "Failed"


@pytest.mark.parametrize("app", ["dev_app", "prod_app"])
def test_the_prepare_function_cuts_parts_of_the_stages_size_in_bytes(
    app: str, request: pytest.FixtureRequest
) -> None:
    synthesized: SynthesizedApp = request.getfixturevalue(app)
    stage = synthesized.config.stage
    (function,) = synthesized.pipeline.find_resources(
        "AWS::Lambda::Function",
        {"Properties": {"FunctionName": f"driftline-{stage}-prepare-inference"}},
    ).values()
    variables = function["Properties"]["Environment"]["Variables"]
    rendered = json.dumps(variables["TRANSFORM"]).replace("\\", "")
    # Then the part size is the stage's MiB in bytes, and no row count bounds a part
    size = synthesized.config.inference_part_size_mib * 1024 * 1024
    assert re.search(rf'"part_size_bytes":{size}\b', rendered), rendered
    assert "rows_per_part" not in rendered


@pytest.mark.parametrize(
    ("role", "job"),
    [
        ("TrainingStateMachineRole", "training-job"),
        ("BatchInferenceStateMachineRole", "transform-job"),
    ],
)
def test_state_machine_reaches_only_its_jobs_models_and_bus(
    dev_app: SynthesizedApp, role: str, job: str
) -> None:
    statements = statements_of(dev_app, role)
    sagemaker = [s for s in statements if any(a.startswith("sagemaker:") for a in actions_of(s))]
    assert sagemaker
    for statement in sagemaker:
        assert "sagemaker:*" not in actions_of(statement)
        resource = json.dumps(statement["Resource"])
        prefix = f"dl-{dev_app.config.stage}-*"
        assert f":{job}/{prefix}" in resource or f":model/{prefix}" in resource
    (pass_role,) = [s for s in statements if "iam:PassRole" in actions_of(s)]
    assert pass_role["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }


def test_sagemaker_role_has_no_wildcard_actions(dev_app: SynthesizedApp) -> None:
    for statement in statements_of(dev_app, "SageMakerRole"):
        for action in actions_of(statement):
            assert not action.endswith("*"), action


def test_validated_training_data_starts_the_state_machine(dev_app: SynthesizedApp) -> None:
    dev_app.pipeline.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["driftline.ingest"],
                "detail-type": ["DatasetValidated"],
                "detail": {"kind": ["training"]},
            },
            "Targets": [Match.object_like({"Arn": Match.any_value()})],
        },
    )


def test_state_machine_logs_everything_and_traces(dev_app: SynthesizedApp) -> None:
    dev_app.pipeline.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "TracingConfiguration": {"Enabled": True},
            "LoggingConfiguration": Match.object_like({"Level": "ALL"}),
        },
    )


def test_validated_inference_data_starts_batch_inference_with_its_version(
    dev_app: SynthesizedApp,
) -> None:
    rules = dev_app.pipeline.find_resources(
        "AWS::Events::Rule",
        {"Properties": {"EventPattern": {"detail": {"kind": ["inference"]}}}},
    )
    ((_, rule),) = rules.items()
    (target,) = rule["Properties"]["Targets"]
    assert "DeadLetterConfig" in target
    template = target["InputTransformer"]["InputTemplate"]
    assert '"dataset":<detail-dataset>' in template.replace(" ", "")
    assert '"version":<detail-version>' in template.replace(" ", "")


def test_drift_reaches_the_retraining_gate_not_the_state_machine(dev_app: SynthesizedApp) -> None:
    rules = dev_app.pipeline.find_resources(
        "AWS::Events::Rule",
        {"Properties": {"EventPattern": {"detail-type": ["DriftDetected"]}}},
    )
    ((_, rule),) = rules.items()
    (target,) = rule["Properties"]["Targets"]
    assert "RetrainingGate" in json.dumps(target["Arn"])
    assert "DeadLetterConfig" in target
    # and only the gate may start the training state machine on drift
    starts = [
        s
        for s in statements_of(dev_app, "RetrainingGate")
        if "states:StartExecution" in actions_of(s)
    ]
    (start,) = starts
    assert "TrainingStateMachine" in json.dumps(start["Resource"])


def test_the_dev_stage_scores_only_new_drops(dev_app: SynthesizedApp) -> None:
    scheduled = dev_app.pipeline.find_resources(
        "AWS::Events::Rule", {"Properties": {"ScheduleExpression": Match.any_value()}}
    )
    assert dev_app.config.inference_schedule is None
    # (captured real-time traffic is collected on its own schedule: no re-scoring)
    assert [name for name in scheduled if not name.startswith("CaptureCollectCapture")] == []


def test_prod_rescores_every_inference_dataset_on_its_schedule(prod_app: SynthesizedApp) -> None:
    scheduled = prod_app.pipeline.find_resources(
        "AWS::Events::Rule", {"Properties": {"ScheduleExpression": Match.any_value()}}
    )
    # One rule per declared inference dataset (beside the capture collection's own)
    inputs = []
    for name, rule in scheduled.items():
        if name.startswith("CaptureCollectCapture"):
            continue
        assert rule["Properties"]["ScheduleExpression"] == prod_app.config.inference_schedule
        (target,) = rule["Properties"]["Targets"]
        assert "DeadLetterConfig" in target
        inputs.append(json.loads(target["Input"]))
    assert sorted(inputs, key=lambda document: document["dataset"]) == [
        {"dataset": name, "scheduled": True}
        for name in ("scoring", "store-sales-batches", "ticket-triage")
    ]


def test_only_step_functions_of_this_account_assume_a_state_machines_role(
    dev_app: SynthesizedApp,
) -> None:
    # Given the roles the state machine factory creates
    roles = {
        logical_id: role
        for logical_id, role in dev_app.pipeline.find_resources("AWS::IAM::Role").items()
        if "StateMachineRole" in logical_id
    }
    assert len(roles) == 3
    for role in roles.values():
        # Then only states.amazonaws.com may assume it, for a state machine of this account
        (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Principal"] == {"Service": "states.amazonaws.com"}
        assert statement["Condition"]["StringEquals"] == {
            "aws:SourceAccount": {"Ref": "AWS::AccountId"}
        }
        assert ":stateMachine:*" in json.dumps(statement["Condition"]["ArnLike"])
