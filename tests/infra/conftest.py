"""One synth of the whole app per test session: jsii start-up dominates its cost."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from cfnlint.api import lint_all

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


# cfn-lint rules not enforced, each with its reason. Informational findings are not.
CFN_LINT_IGNORED = {
    # CDK adds DependsOn from a function to its role's policy on purpose: the policy
    # must exist before the function first runs, which a GetAtt on the role alone
    # does not guarantee.
    "W3005",
}


def cfn_lint_findings(template: Path) -> list[str]:
    return [
        str(m)
        for m in lint_all(template.read_text())
        if m.rule.severity in ("error", "warning") and m.rule.id not in CFN_LINT_IGNORED
    ]


@pytest.fixture(scope="session")
def dev_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynthesizedApp]:
    yield synth(tmp_path_factory.mktemp("cdk-dev"))
