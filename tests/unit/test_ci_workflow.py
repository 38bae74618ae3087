"""The CI workflow runs lint and `make test` on every platform the README claims for CI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def workflow() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    return loaded


def test_the_matrix_covers_linux_x86_64_linux_arm64_and_macos_arm64() -> None:
    job = workflow()["jobs"]["test"]
    runners = [entry["os"] for entry in job["strategy"]["matrix"]["include"]]
    assert runners == ["ubuntu-latest", "ubuntu-24.04-arm", "macos-latest"]
    assert job["runs-on"] == "${{ matrix.os }}"
    assert job["strategy"]["fail-fast"] is False


def test_each_runs_lint_and_the_whole_suite_with_its_caches() -> None:
    steps = workflow()["jobs"]["test"]["steps"]
    commands = [step.get("run") for step in steps]
    assert commands.index("make lint") < commands.index("make test")
    cached = " ".join(
        str(step["with"]["path"])
        for step in steps
        if step.get("uses", "").startswith("actions/cache")
    )
    assert "~/.cache/uv" in cached and ".cache/layers" in cached
    node = next(step for step in steps if step.get("uses", "").startswith("actions/setup-node"))
    assert node["with"]["cache"] == "npm"
    python = next(step for step in steps if step.get("uses", "").startswith("actions/setup-python"))
    assert python["with"]["python-version"] == "3.13"
