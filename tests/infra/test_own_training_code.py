"""A dataset's own training code in the app: its folder becomes an asset of its own, the
prepare step learns where it is, and the SageMaker role may read exactly that object.

The synth runs cdk-nag (AwsSolutions and HIPAA), so getting a template at all says the
grant passes both packs."""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path
from typing import Any

import pytest

from tests.infra.conftest import SynthesizedApp, synth

FIXTURE = "tests/fixtures/own_training/contracts"


@pytest.fixture(scope="module")
def own_code_app(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    return synth(
        tmp_path_factory.mktemp("own-code"), **{"driftline:extra_contract_folders": FIXTURE}
    )


def training_job_setting(app: SynthesizedApp) -> tuple[dict[str, Any], list[Any]]:
    """The prepare function's TRAINING_JOB with each CloudFormation token as ``TOKEN<i>``,
    and the tokens."""
    (function,) = [
        resource
        for resource in app.pipeline.find_resources("AWS::Lambda::Function").values()
        if "TRAINING_JOB" in resource["Properties"]["Environment"]["Variables"]
    ]
    joined = function["Properties"]["Environment"]["Variables"]["TRAINING_JOB"]["Fn::Join"][1]
    tokens = [part for part in joined if not isinstance(part, str)]
    text = "".join(
        part if isinstance(part, str) else f"TOKEN{tokens.index(part)}" for part in joined
    )
    setting: dict[str, Any] = json.loads(text)
    return setting, tokens


def code_key(app: SynthesizedApp, setting_name: str = "") -> str:
    """The asset key (``<hash>.gz``) of the dataset's code, or of ``setting_name``'s
    (driftline's own trainer: ``source_dir``)."""
    setting, tokens = training_job_setting(app)
    url = setting[setting_name] if setting_name else setting["dataset_code"]["parcel-delays"]
    url = url if setting_name else url["source_dir"]
    token = tokens[int(url.removeprefix("TOKEN"))]  # s3://<assets bucket>/<key>
    match = re.search(r"s3://[^\"]+/([0-9a-f]{64}\.[a-z.]+)", json.dumps(token))
    assert match is not None, token
    return match.group(1)


def sagemaker_statements(app: SynthesizedApp) -> list[dict[str, Any]]:
    policies = app.pipeline.find_resources("AWS::IAM::Policy")
    (policy,) = [p for name, p in policies.items() if name.startswith("SageMakerRole")]
    statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def test_the_datasets_code_is_an_asset_the_prepare_step_knows(
    own_code_app: SynthesizedApp,
) -> None:
    # Given the app synthesized with the worked example's contracts
    setting, _ = training_job_setting(own_code_app)
    # Then the prepare step's settings name the dataset's code and its entry script, and
    # only that dataset's: the others train with driftline's trainer
    code = setting["dataset_code"]
    assert list(code) == ["parcel-delays"]
    assert code["parcel-delays"]["program"] == "train.py"
    assert code_key(own_code_app) != code_key(own_code_app, "source_dir")
    # And the asset holds the folder's files, nothing more
    manifest = Path(own_code_app.assembly.directory) / "driftline-dev-pipeline.assets.json"
    files = json.loads(manifest.read_text())["files"]
    archives = [
        Path(own_code_app.assembly.directory) / entry["source"]["path"]
        for entry in files.values()
        if entry["source"]["path"].endswith(".tar.gz")
    ]
    contents = []
    for archive in archives:
        with tarfile.open(archive) as opened:
            contents.append(sorted(opened.getnames()))
    assert ["columns.py", "inference.py", "profiles.py", "requirements.txt", "train.py"] in (
        contents
    )


def test_the_sagemaker_role_may_only_read_the_datasets_code(
    own_code_app: SynthesizedApp,
) -> None:
    # Given the SageMaker role's statements in a synth with the worked example
    statements = sagemaker_statements(own_code_app)
    key = code_key(own_code_app)
    # When the statements that name the code's object (by its key) are found
    granted = [s for s in statements if key in json.dumps(s)]
    # Then exactly one names it, allowing s3:GetObject and nothing else
    assert len(granted) == 1, granted
    assert (granted[0]["Action"], granted[0]["Effect"]) == ("s3:GetObject", "Allow")
    # On that exact object, not a prefix of the assets bucket
    (resource,) = [r for r in granted[0]["Resource"] if key in json.dumps(r)]
    assert json.dumps(resource).count("*") == 0
