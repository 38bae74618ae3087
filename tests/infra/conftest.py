"""One synth of the whole app per test session: jsii start-up dominates its cost."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from infra.app import build_app
from infra.config import StageConfig

CDK_JSON = json.loads((Path(__file__).resolve().parents[2] / "cdk.json").read_text())


@dataclass
class SynthesizedApp:
    config: StageConfig
    assembly: cdk.cx_api.CloudAssembly
    data: Template
    data_template_path: Path
    pipeline: Template
    pipeline_template_path: Path


def synth(tmp: Path, **context: str) -> SynthesizedApp:
    app = cdk.App(outdir=str(tmp), context={**CDK_JSON["context"], **context})
    config, data = build_app(app)
    assembly = app.synth()
    artifact = assembly.get_stack_artifact(data.artifact_id)
    pipeline = assembly.get_stack_artifact(f"{config.prefix}-pipeline")
    return SynthesizedApp(
        config=config,
        assembly=assembly,
        data=Template.from_json(artifact.template),
        data_template_path=Path(assembly.directory) / artifact.template_file,
        pipeline=Template.from_json(pipeline.template),
        pipeline_template_path=Path(assembly.directory) / pipeline.template_file,
    )


@pytest.fixture(scope="session")
def dev_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynthesizedApp]:
    yield synth(tmp_path_factory.mktemp("cdk-dev"))
