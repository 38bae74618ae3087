"""One synth of the whole app per test session: jsii start-up dominates its cost."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from cfnlint.api import lint_all

from infra.app import build_app
from infra.config import StageConfig, load_stage_config

ROOT = Path(__file__).resolve().parents[2]
CDK_JSON = json.loads((ROOT / "cdk.json").read_text())
STACKS = ("data", "pipeline", "monitoring")


@dataclass
class SynthesizedApp:
    config: StageConfig
    assembly: cdk.cx_api.CloudAssembly
    data: Template
    data_template_path: Path
    pipeline: Template
    pipeline_template_path: Path
    monitoring: Template
    monitoring_template_path: Path

    @property
    def templates(self) -> dict[str, Template]:
        return {stack: getattr(self, stack) for stack in STACKS}


def synth(tmp: Path, **context: str) -> SynthesizedApp:
    app = cdk.App(outdir=str(tmp), context={**CDK_JSON["context"], **context})
    config, _ = build_app(app)
    return from_assembly(config, app.synth())


def from_assembly(config: StageConfig, assembly: cdk.cx_api.CloudAssembly) -> SynthesizedApp:
    parts: dict[str, object] = {}
    for stack in STACKS:
        artifact = assembly.get_stack_artifact(f"{config.prefix}-{stack}")
        parts[stack] = Template.from_json(artifact.template)
        parts[f"{stack}_template_path"] = Path(assembly.directory) / artifact.template_file
    return SynthesizedApp(config=config, assembly=assembly, **parts)  # type: ignore[arg-type]


# What a prod synth in a clean shell is given: a VPC for SageMaker, an alarm address and
# the permissions boundary the account demands of every role (by name).
PROD_BOUNDARY = "driftline-boundary"
PROD_CONTEXT = {
    "stage": "prod",
    "driftline:sagemaker_subnet_ids": "subnet-0a1,subnet-0b2",
    "driftline:sagemaker_security_group_ids": "sg-0c3",
    "driftline:alarm_email": "ops@example.com",
    "driftline:permissions_boundary": PROD_BOUNDARY,
}


def clean_environment(home: Path) -> dict[str, str]:
    """No AWS_* variable, no profile, an empty HOME: only node and a UTF-8 locale."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is needed to synthesize (the CDK CLI and jsii run on it)")
    return {
        "PATH": os.pathsep.join([str(Path(node).parent), "/usr/bin", "/bin"]),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    }


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


@pytest.fixture(scope="session")
def prod_app(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    """``cdk synth -c stage=prod`` with the project's CDK CLI, in a shell with no AWS
    credentials or configuration at all, as a reviewer or CI would run it."""
    home = tmp_path_factory.mktemp("empty-home")
    out = tmp_path_factory.mktemp("cdk-prod")
    context = [argument for k, v in PROD_CONTEXT.items() for argument in ("-c", f"{k}={v}")]
    result = subprocess.run(
        [str(ROOT / "node_modules" / ".bin" / "cdk"), "synth", *context, "--output", str(out)]
        + ["--quiet", "--no-notices"],
        cwd=ROOT,
        env=clean_environment(home),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    config = load_stage_config(
        {**CDK_JSON["context"], **PROD_CONTEXT}.get, account=None, region=None
    )
    return from_assembly(config, cdk.cx_api.CloudAssembly(str(out)))
