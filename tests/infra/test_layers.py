"""The dependency layer, built on the host for Lambda, loads and fits Lambda's limits."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

from infra.packaging import ROOT, build_dependency_layer
from infra.platforms import asset_platform

LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
REQUIREMENTS = ROOT / "layers" / "dependencies" / "requirements.txt"


def size_of(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


# What the Lambda Python runtime provides besides the standard library.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six.py")


def lambda_runtime(tmp_path: Path) -> Path:
    """A folder standing in for the runtime's own packages, linked from this venv."""
    site = Path(sysconfig.get_paths()["purelib"])
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    for name in RUNTIME_PACKAGES:
        (runtime / name).symlink_to(site / name)
    return runtime


def test_pruned_layer_imports_everything_the_functions_use(tmp_path: Path) -> None:
    # Given the dependency layer built for the local cloud on this host
    layer = build_dependency_layer(REQUIREMENTS, asset_platform("local", "x86_64"))
    # When an isolated interpreter (no site-packages) imports from it what functions use
    code = (
        "import sys; sys.path[:0] = sys.argv[1:];"
        "import numpy, pyarrow, pyarrow.csv, pyarrow.json, pyarrow.parquet, pyarrow.compute;"
        "import pydantic, aws_lambda_powertools, aws_xray_sdk;"
        "from aws_lambda_powertools.utilities.idempotency import idempotent_function"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            "-c",
            code,
            str(layer / "python"),
            str(lambda_runtime(tmp_path)),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    # Then nothing is missing
    assert result.returncode == 0, result.stderr


def test_function_and_layers_fit_lambdas_unzipped_limit() -> None:
    layer = build_dependency_layer(REQUIREMENTS, asset_platform("aws", "x86_64"))
    total = sum(
        size_of(p)
        for p in (
            layer,
            ROOT / "layers" / "runtime",
            ROOT / "layers" / "contracts",
            ROOT / "functions" / "ingest",
        )
    )
    # Headroom for the functions still to come.
    assert total < LAMBDA_UNZIPPED_LIMIT * 0.85, f"{total / 2**20:.0f} MiB"
