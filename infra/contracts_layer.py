"""The contracts layer, built at synth from contract modules that were all checked.

The modules of ``layers/contracts/python/driftline_contracts`` (and of the stage's
``extra_contract_folders``) are staged into one package, imported and checked in a
fresh interpreter (``driftline_runtime.contract_check``), and only then become the
layer's asset, together with the manifest that lets functions load contracts per
dataset (``driftline_runtime.catalog`` says why). Any problem raises ContractsError:
``cdk synth``, and with it ``cdk deploy``, ``make deploy`` and ``driftline local up``,
stops with one message naming each module's file, the line and the field. Every stage
runs it: nothing is deployed without its contracts checked.

The check imports the modules with the project's environment, not the Lambda
dependency layer (which the host may not even load: another CPU architecture or OS).
A module that imports a package only the project's environment has passes synth and
fails in Lambda; per-dataset loading keeps that to its own datasets.

No CDK import here: ``driftline contracts check`` runs the same check.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from driftline_runtime.catalog import (
    MANIFEST_NAME,
    ContractsError,
    Declaration,
    Problem,
    write_manifest,
)
from driftline_runtime.contracts import TrainingSpec
from driftline_runtime.training_code import code_problems

from infra.packaging import ROOT

PACKAGE = "driftline_contracts"
CONTRACTS = ROOT / "layers" / "contracts" / "python" / PACKAGE
RUNTIME_LIBRARY = ROOT / "layers" / "runtime" / "python"
CACHE = ROOT / ".cache" / "contracts"
# Importing pydantic, pyarrow and the modules takes seconds; a module that hangs at
# import must not hang the synth.
CHECK_TIMEOUT_SECONDS = 300


@dataclass(frozen=True)
class ContractsCheck:
    # Each dataset described: name, kind, module, contract, columns, rules, settings.
    datasets: list[dict[str, Any]]
    # Each problem located by its module's source file (and line).
    problems: list[str]
    # Module name -> the file it was staged from.
    sources: dict[str, Path]

    @property
    def declarations(self) -> dict[str, Declaration]:
        return {
            d["name"]: Declaration(dataset=d["name"], module=d["module"], kind=d["kind"])
            for d in self.datasets
        }


@dataclass(frozen=True)
class ContractsLayer:
    # The layer's asset: python/driftline_contracts/ with the manifest.
    path: Path
    datasets: list[dict[str, Any]]


def shown(path: Path) -> str:
    """A path as a user finds it: relative to the project if inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def folder_of(name: str | Path) -> Path:
    path = Path(name)
    return path if path.is_absolute() else ROOT / path


def stage(into: Path, extra_folders: Sequence[str | Path]) -> dict[str, Path]:
    """Copy the package and the extra folders' modules into ``into/python``."""
    package = into / "python" / PACKAGE
    ignored = shutil.ignore_patterns("__pycache__", "*.pyc", MANIFEST_NAME)
    shutil.copytree(CONTRACTS, package, ignore=ignored)
    sources = {path.stem: path for path in CONTRACTS.glob("*.py")}
    for name in extra_folders:
        folder = folder_of(name)
        if not folder.is_dir():
            raise ContractsError([f"extra_contract_folders: {shown(folder)} is not a folder"])
        for path in sorted(folder.glob("*.py")):
            if path.name == "__init__.py":
                continue
            if path.stem in sources:
                raise ContractsError(
                    [
                        f"{shown(path)}: a contract module named {path.stem!r} exists already "
                        f"({shown(sources[path.stem])})"
                    ]
                )
            shutil.copy2(path, package / path.name)
            sources[path.stem] = path
    return sources


def run_check(staged: Path, sources: dict[str, Path]) -> ContractsCheck:
    """Import and check the staged package in a fresh interpreter."""
    out = staged / "check.json"
    python = staged / "python"
    environment = {
        **os.environ,
        # The staged package first: it, not the source tree's, is what gets deployed.
        "PYTHONPATH": os.pathsep.join([str(python), str(RUNTIME_LIBRARY)]),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    command = [sys.executable, "-m", "driftline_runtime.contract_check", str(out)]
    try:
        result = subprocess.run(
            command,
            cwd=python,
            env=environment,
            capture_output=True,
            text=True,
            timeout=CHECK_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise ContractsError(
            [f"importing the contract modules took longer than {CHECK_TIMEOUT_SECONDS} s"]
        ) from error
    if result.returncode != 0:
        raise ContractsError(
            [f"the contract check ended with exit {result.returncode}: {result.stderr[-2000:]}"]
        )
    document = json.loads(out.read_text())
    imported = Path(document["package_file"]).resolve()
    if imported != (python / PACKAGE / "__init__.py").resolve():
        raise ContractsError([f"the check imported {PACKAGE} from {imported}, not the staged copy"])
    problems = [
        Problem(p["module"], p["message"], p["line"]).located(
            shown(sources[p["module"]]) if p["module"] in sources else p["module"]
        )
        for p in document["problems"]
    ]
    problems += training_code_problems(document["datasets"], sources)
    return ContractsCheck(document["datasets"], problems, sources)


def training_code_problems(datasets: list[dict[str, Any]], sources: dict[str, Path]) -> list[str]:
    """Each dataset's own training code (``TrainingSpec.source_dir``) must exist where the
    app is synthesised, with its entry script and serving code: it is packaged from there."""
    problems = []
    for dataset in datasets:
        training = TrainingSpec.model_validate(dataset["settings"].get("training") or {})
        module = dataset["module"]
        where = shown(sources[module]) if module in sources else module
        problems += [
            Problem(module, message).located(where)
            for message in code_problems(dataset["name"], training, ROOT)
        ]
    return problems


def check(extra_folders: Sequence[str | Path] = ()) -> ContractsCheck:
    """Check every contract module offline, as synth does; nothing is kept."""
    with tempfile.TemporaryDirectory(prefix="driftline-contracts-") as folder:
        staged = Path(folder)
        return run_check(staged, stage(staged, extra_folders))


def build_layer(extra_folders: Sequence[str | Path] = ()) -> ContractsLayer:
    """The checked contracts layer with its manifest; ContractsError on any problem."""
    CACHE.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=CACHE, prefix=".staging-"))
    try:
        checked = run_check(staging, stage(staging, extra_folders))
        if checked.problems:
            raise ContractsError(checked.problems)
        (staging / "check.json").unlink()
        write_manifest(staging / "python" / PACKAGE, checked.declarations)
        # Named by content: an unchanged layer keeps its folder (and CDK its asset).
        target = CACHE / _digest(staging)
        try:
            staging.rename(target)
        except OSError:  # there already, from an earlier synth or a parallel one
            if not target.is_dir():
                raise
        return ContractsLayer(target, checked.datasets)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _digest(folder: Path) -> str:
    sha = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        sha.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return sha.hexdigest()[:16]
