"""The names module: one spelling per name, and shipped wherever a part needs it."""

from __future__ import annotations

import ast
import inspect
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from driftline_runtime import events, names

from infra.constructs.sagemaker import source_tarball

ROOT = Path(__file__).resolve().parents[2]
NAMES_FILE = Path(names.__file__)
# Source folders whose Python must take its names from the names module. local/ runs in
# the local cloud's own environment without the layer (its one shared name is pinned below).
SOURCES = ("infra", "functions", "layers", "training", "driftline", "benchmarks")
# Names whose value is also an AWS API field, which code spells as the API does.
SHARED_WITH_AWS = {"EVENT_BUS_OUTPUT"}  # EventBridge's PutEvents entry field "EventBusName"


def distinctive_names() -> dict[str, str]:
    """Constant -> value for the names that could only mean one thing where they appear:
    CamelCase words, ``split:measure``, dotted sources, routes and ``__sentinels__``."""
    found = {
        constant: value
        for constant, value in vars(names).items()
        if constant.isupper() and isinstance(value, str)
    }
    found.update({f"metric {m}": m for m in names.TRAINING_METRICS + names.CHAMPION_METRICS})
    found.update(
        {
            f"event {model.__name__}": model.detail_type()
            for model in vars(events).values()
            if inspect.isclass(model)
            and issubclass(model, events.DriftlineEvent)
            and hasattr(model, "SOURCE")
        }
    )
    pattern = re.compile(r"^([A-Z][a-z]+){2,}$|[:/.]|^__\w+__$")
    return {
        constant: value
        for constant, value in found.items()
        if pattern.search(value) and constant not in SHARED_WITH_AWS
    }


def string_literals(path: Path) -> set[str]:
    """Every string constant in a module, f-string parts included."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def test_every_distinctive_name_is_spelled_only_in_the_names_module() -> None:
    # Given every name the parts agree on (event models' names as their detail-types)
    wanted = distinctive_names()
    assert {"PRIMARY_METRIC", "RAW_BUCKET_OUTPUT", "FAULTS_ROUTE", "INGEST_SOURCE"} <= set(wanted)
    assert "metric test:auc" in wanted and "event DatasetValidated" in wanted
    # When every Python source outside the tests is read
    elsewhere: dict[str, list[str]] = {}
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == NAMES_FILE or ".cache" in path.parts:
                continue
            literals = string_literals(path)
            for constant, value in wanted.items():
                if value in literals:
                    elsewhere.setdefault(constant, []).append(str(path.relative_to(ROOT)))
    # Then none of them is written out anywhere else
    assert elsewhere == {}


def test_the_names_module_imports_only_the_standard_library() -> None:
    # The training source tarball ships it into a container without the layer's packages
    tree = ast.parse(NAMES_FILE.read_text(encoding="utf-8"))
    imported = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert {name.split(".")[0] for name in imported} <= set(sys.stdlib_module_names)


def test_the_local_clouds_fault_route_is_the_one_the_cli_arms() -> None:
    # The local cloud runs in its own environment, which has no runtime layer to import
    # the route from: its constant must equal the names module's.
    plugin = ROOT / "local" / "driftline_localcloud" / "faults.py"
    tree = ast.parse(plugin.read_text(encoding="utf-8"))
    (route,) = [
        node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "FAULTS_PATH" for t in node.targets)
        and isinstance(node.value, ast.Constant)
    ]
    assert route == names.FAULTS_ROUTE


@pytest.fixture(scope="module")
def source_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The SageMaker source directory as the framework container extracts it."""
    folder = tmp_path_factory.mktemp("sourcedir")
    with tarfile.open(source_tarball()) as archive:
        archive.extractall(folder, filter="data")
    return folder


def test_the_training_source_tarball_bundles_the_names_module(source_dir: Path) -> None:
    # Given the extracted source directory of the training and inference entry points
    bundled = source_dir / "driftline_runtime" / "names.py"
    # Then it holds the layer's names module, byte for byte
    assert bundled.read_bytes() == NAMES_FILE.read_bytes()
    # And the entry points import it from there, as the container runs them
    probe = (
        "import inference, train\n"
        "from sklearn_classifier import metrics\n"
        "import driftline_runtime.names as n\n"
        "print(n.__file__)\n"
        "print(metrics.METRIC_NAMES == n.TRAINING_METRICS + n.CHAMPION_METRICS)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=source_dir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    where, same = result.stdout.split()
    assert Path(where).resolve() == bundled.resolve()
    assert same == "True"
