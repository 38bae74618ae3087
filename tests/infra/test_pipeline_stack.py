"""The training pipeline stack: the ASL file as deployed, scoped IAM, the trigger."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

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


def test_deployed_definition_is_the_asl_file(dev_app: SynthesizedApp) -> None:
    # Given the ASL file in the repo, with its ${...} placeholders
    source = ROOT / "state_machines" / "training.asl.json"
    placeholders = set(re.findall(r"\$\{([A-Za-z]+)\}", source.read_text()))
    # When CDK synthesizes the state machine
    (machine,) = dev_app.pipeline.find_resources("AWS::StepFunctions::StateMachine").values()
    properties = machine["Properties"]
    # Then the definition CloudFormation deploys is that very file, uploaded as an asset,
    # and CloudFormation fills in exactly its placeholders (no second definition anywhere)
    asset = Path(dev_app.assembly.directory) / f"asset.{properties['DefinitionS3Location']['Key']}"
    assert asset.read_bytes() == source.read_bytes()
    assert set(properties["DefinitionSubstitutions"]) == placeholders
    assert "DefinitionString" not in properties


def test_every_task_retries_and_catches(dev_app: SynthesizedApp) -> None:
    definition = json.loads((ROOT / "state_machines" / "training.asl.json").read_text())
    for name, state in definition["States"].items():
        if state["Type"] != "Task":
            continue
        assert state.get("Retry"), f"{name} has no Retry"
        if name != "PublishTrainingFailed":
            assert state.get("Catch"), f"{name} has no Catch"


def test_state_machine_reaches_only_its_jobs_models_and_bus(dev_app: SynthesizedApp) -> None:
    statements = statements_of(dev_app, "TrainingStateMachineRole")
    sagemaker = [s for s in statements if any(a.startswith("sagemaker:") for a in actions_of(s))]
    assert sagemaker
    for statement in sagemaker:
        assert "sagemaker:*" not in actions_of(statement)
        resource = json.dumps(statement["Resource"])
        assert ":training-job/dl-*" in resource or ":model/dl-*" in resource
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
