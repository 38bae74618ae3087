"""The large-file route in the data stack: the validation state machine, the Processing
job's role and code, and the ingest function's settings and permission to use them."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Any

from aws_cdk.assertions import Match
from driftline_runtime import names

from infra.constructs.large_files import IMAGE_REPOSITORY, PYTORCH_VERSION
from infra.packaging import ROOT
from tests.infra.conftest import SynthesizedApp
from tests.infra.test_fidelity import rendered
from tests.infra.test_pipeline_stack import actions_of


def statements(app: SynthesizedApp, role_pattern: str) -> list[dict[str, Any]]:
    policies = app.data.find_resources(
        "AWS::IAM::Policy",
        {"Properties": {"Roles": [{"Ref": Match.string_like_regexp(role_pattern)}]}},
    )
    return [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]


def ingest_variables(app: SynthesizedApp) -> dict[str, Any]:
    (function,) = app.data.find_resources(
        "AWS::Lambda::Function",
        {"Properties": {"FunctionName": f"driftline-{app.config.stage}-ingest"}},
    ).values()
    variables: dict[str, Any] = function["Properties"]["Environment"]["Variables"]
    return variables


def validation_machine(app: SynthesizedApp) -> dict[str, Any]:
    name = names.state_machine_name(app.config.stage, names.VALIDATION_STATE_MACHINE)
    (machine,) = app.data.find_resources(
        "AWS::StepFunctions::StateMachine", {"Properties": {"StateMachineName": name}}
    ).values()
    return dict(machine)


def test_the_ingest_function_routes_to_the_stages_validation_state_machine(
    dev_app: SynthesizedApp,
) -> None:
    # Given the dev stage's ingest function
    variables = ingest_variables(dev_app)
    name = names.state_machine_name("dev", names.VALIDATION_STATE_MACHINE)
    # Then it starts the validation state machine by its ARN, and may start nothing else
    arn = rendered(variables["VALIDATION_STATE_MACHINE_ARN"])
    assert arn.endswith(f":stateMachine:{name}"), arn
    (start,) = [s for s in statements(dev_app, "IngestRole") if "states:" in str(s["Action"])]
    assert actions_of(start) == ["states:StartExecution"]
    assert rendered(start["Resource"]) == arn
    # And it has everything the request needs: the image, the job's role, the code
    for variable in ("PROCESSING_IMAGE_URI", "PROCESSING_ROLE_ARN", "PROCESSING_KEY_ARN"):
        assert variables[variable], variable
    assert rendered(variables["PROCESSING_CODE_KEY"]).endswith(".pyz")
    assert variables["DRIFTLINE_STAGE"] == "dev"


def test_the_image_is_sagemakers_pytorch_cpu_image_per_region(dev_app: SynthesizedApp) -> None:
    image = ingest_variables(dev_app)["PROCESSING_IMAGE_URI"]
    mapping_name = image["Fn::FindInMap"][0]
    mapping = dev_app.data.to_json()["Mappings"][mapping_name]
    uri = mapping["us-east-1"]["uri"]
    assert re.fullmatch(
        rf"\d{{12}}\.dkr\.ecr\.us-east-1\.amazonaws\.com/{IMAGE_REPOSITORY}:"
        rf"{PYTORCH_VERSION}-cpu-py313",
        uri,
    ), uri


def test_the_state_machine_passes_only_the_job_role_and_runs_only_the_stages_jobs(
    dev_app: SynthesizedApp, prod_app: SynthesizedApp
) -> None:
    for app in (dev_app, prod_app):
        machine = statements(app, "LargeFilesStateMachineRole")
        (passing,) = [s for s in machine if "iam:PassRole" in actions_of(s)]
        assert rendered(passing["Resource"]) == rendered(
            ingest_variables(app)["PROCESSING_ROLE_ARN"]
        )
        assert passing["Condition"] == {
            "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
        }
        sagemaker = [s for s in machine if any(a.startswith("sagemaker:") for a in actions_of(s))]
        (jobs,) = sagemaker
        prefix = names.job_prefix(app.config.stage)
        assert rendered(jobs["Resource"]).endswith(f":processing-job/{prefix}*")
        assert "sagemaker:CreateProcessingJob" in actions_of(jobs)
        rules = [s for s in machine if "events:PutRule" in actions_of(s)]
        assert rendered(rules[0]["Resource"]).endswith(
            ":rule/StepFunctionsGetEventsForSageMakerProcessingJobsRule"
        )


def test_the_job_role_reaches_only_what_validating_one_file_needs(dev_app: SynthesizedApp) -> None:
    job = statements(dev_app, "LargeFilesJobRole")
    actions = {a for s in job for a in actions_of(s)}
    # No SageMaker, IAM, Step Functions or S3 listing: the job validates and writes
    assert not {a for a in actions if a.split(":")[0] in ("sagemaker", "iam", "states")}
    assert "s3:DeleteObject" not in actions
    # Listing only to find its code object, as SageMaker does for an S3Prefix input
    (listing,) = [s for s in job if "s3:ListBucket" in actions_of(s)]
    key = rendered(ingest_variables(dev_app)["PROCESSING_CODE_KEY"])
    assert listing["Condition"] == {"StringEquals": {"s3:prefix": key}}
    writes = [rendered(s["Resource"]) for s in job if "s3:PutObject" in actions_of(s)]
    assert writes and not any("Raw" in w for w in writes), writes
    (table,) = [s for s in job if any(a.startswith("dynamodb:") for a in actions_of(s))]
    assert "Lineage" in rendered(table["Resource"])
    (put,) = [s for s in job if "events:PutEvents" in actions_of(s)]
    assert "Bus" in rendered(put["Resource"])


def test_the_deployed_definition_is_the_asl_file_with_the_ingest_function(
    dev_app: SynthesizedApp,
) -> None:
    properties = validation_machine(dev_app)["Properties"]
    asset = Path(dev_app.assembly.directory) / f"asset.{properties['DefinitionS3Location']['Key']}"
    assert asset.read_text() == (ROOT / "state_machines" / "validation.asl.json").read_text()
    substitutions = properties["DefinitionSubstitutions"]
    assert set(substitutions) == {"IngestFunctionArn", "EventBusName", "Partition"}
    assert "Ingest" in rendered(substitutions["IngestFunctionArn"])


def test_the_code_bundle_holds_the_job_and_what_it_imports(dev_app: SynthesizedApp) -> None:
    # Given the asset the job's code input downloads
    key = rendered(ingest_variables(dev_app)["PROCESSING_CODE_KEY"])
    bundle = Path(dev_app.assembly.directory) / f"asset.{key}"
    with zipfile.ZipFile(bundle) as archive:
        contents = set(archive.namelist())
    # Then it is a zip application that unpacks the job's modules and the packages they
    # import, pyarrow's compiled modules built for Linux x86_64 among them
    assert "__main__.py" in contents
    for module in (
        "site/processing_job.py",
        "site/ingest.py",
        "site/driftline_runtime/checking.py",
        "site/driftline_contracts/__init__.py",
        "site/pydantic/__init__.py",
    ):
        assert module in contents, module
    assert any(
        re.fullmatch(r"site/pyarrow/lib\.cpython-313-x86_64-linux-gnu\.so", n) for n in contents
    )
    assert json.dumps(sorted(contents)).count("__pycache__") > 0
