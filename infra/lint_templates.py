"""``make lint``'s check of what CloudFormation and Step Functions will be given.

Synthesizes the app for every stage in ``cdk.json`` (as ``cdk synth -c stage=<stage>``
would, with no account or region), runs cfn-lint on each stack's template, and validates
each state machine's definition with the pinned ``asl-validator`` (npm), after filling its
``${...}`` placeholders the way CloudFormation does: ``${Partition}`` with ``aws`` and
every other placeholder with a value of its kind (a Lambda function ARN for a function, a
name otherwise), so the validator checks the ASL as a deployment would hand it over.

Exits 1 and names each finding; prints one line per template checked otherwise.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cfnlint.api import lint_all

from infra.packaging import ROOT

CDK = ROOT / "node_modules" / ".bin" / "cdk"
ASL_VALIDATOR = ROOT / "node_modules" / ".bin" / "asl-validator"
# cfn-lint rules not enforced, each with its reason (the infra tests use the same list).
CFN_LINT_IGNORED = {
    # CDK adds DependsOn from a function to its role's policy on purpose: the policy must
    # exist before the function first runs, which a GetAtt on the role alone does not
    # guarantee.
    "W3005",
}
EXAMPLE_FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:driftline-lint"


def stages() -> list[str]:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    return sorted(context["driftline:stages"])


def synth(stage: str, out: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environment.pop("CDK_DEFAULT_ACCOUNT", None)
    environment.pop("CDK_DEFAULT_REGION", None)
    result = subprocess.run(
        [str(CDK), "synth", "-c", f"stage={stage}", "--output", str(out), "--quiet"]
        + ["--no-notices"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"cdk synth -c stage={stage} failed:\n{result.stderr[-4000:]}")


def templates(out: Path) -> Iterator[Path]:
    yield from sorted(out.glob("*.template.json"))


def cfn_lint(template: Path) -> list[str]:
    return [
        f"{template.name}: {match}"
        for match in lint_all(template.read_text())
        if match.rule.severity in ("error", "warning") and match.rule.id not in CFN_LINT_IGNORED
    ]


def placeholder_value(name: str, value: Any) -> str:
    """What CloudFormation puts for a placeholder, in kind (the stack is not deployed)."""
    if name == "Partition":
        return "aws"
    if isinstance(value, dict) and "Fn::GetAtt" in value and value["Fn::GetAtt"][1] == "Arn":
        return EXAMPLE_FUNCTION_ARN
    if isinstance(value, str):
        return value
    return f"driftline-lint-{name}"


def definitions(template: Path) -> Iterator[tuple[str, str]]:
    """Each state machine's definition with its placeholders filled: (logical id, JSON)."""
    resources = json.loads(template.read_text()).get("Resources", {})
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::StepFunctions::StateMachine":
            continue
        properties = resource["Properties"]
        # The ASL file itself, uploaded as an asset (DefinitionS3Location) beside the template.
        key = properties["DefinitionS3Location"]["Key"]
        definition = (template.parent / f"asset.{key}").read_text()
        for name, value in properties.get("DefinitionSubstitutions", {}).items():
            definition = definition.replace("${" + name + "}", placeholder_value(name, value))
        yield logical_id, definition


def validate_asl(name: str, definition: str) -> list[str]:
    with tempfile.NamedTemporaryFile("w", suffix=".asl.json", delete=False) as file:
        file.write(definition)
    try:
        result = subprocess.run(
            [str(ASL_VALIDATOR), "--json-path", file.name],
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        Path(file.name).unlink()
    if result.returncode == 0:
        return []
    return [f"{name}: {line}" for line in (result.stdout + result.stderr).splitlines() if line]


def main() -> int:
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="driftline-lint-") as folder:
        for stage in stages():
            out = Path(folder) / stage
            synth(stage, out)
            for template in templates(out):
                found = cfn_lint(template)
                machines = list(definitions(template))
                for logical_id, definition in machines:
                    found += validate_asl(f"{template.name} {logical_id}", definition)
                problems += found
                print(
                    f"{stage}: {template.name}: cfn-lint and {len(machines)} state machine "
                    f"definition(s) {'clean' if not found else 'with findings'}"
                )
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
