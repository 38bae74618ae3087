"""Builds Lambda layer assets on the host, without Docker.

CDK's Python bundling runs pip inside a Lambda build image, which needs Docker. Here
the dependency layer is installed with ``uv pip install --target`` asking for wheels of
the asset platform (``infra.platforms``: Lambda's manylinux for AWS, the host's own for
the local cloud; CPython 3.13 either way) with the hashes pinned in
``layers/dependencies/requirements.txt``. The result is cached under ``.cache/layers``
by the requirements' content and the platform's wheel tag, so a synth after the first
costs nothing and needs no network.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from infra.platforms import PYTHON_VERSION, AssetPlatform

ROOT = Path(__file__).resolve().parent.parent
STATE_MACHINES = ROOT / "state_machines"
CACHE = ROOT / ".cache" / "layers"


class LayerBuildError(RuntimeError):
    pass


def build_dependency_layer(requirements: Path, platform: AssetPlatform) -> Path:
    """Return a folder holding ``python/`` with the pinned requirements installed for
    ``platform``, pruned."""
    prune = requirements.with_name("prune.txt")
    digest = hashlib.sha256(
        requirements.read_bytes() + (prune.read_bytes() if prune.is_file() else b"")
    ).hexdigest()[:16]
    # No dots in the name: CDK would read the tail as a file extension.
    python_tag = PYTHON_VERSION.replace(".", "")
    target = CACHE / f"{requirements.parent.name}-{platform.tag}-py{python_tag}-{digest}"
    if target.is_dir():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    # Parallel synths (tests, a watch) must not build the same layer twice.
    with (CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.is_dir():
            return target
        staging = Path(tempfile.mkdtemp(dir=CACHE, prefix=".building-"))
        command = [
            sys.executable,
            "-m",
            "uv",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--require-hashes",
            "--only-binary",
            ":all:",
            "--python-platform",
            platform.uv_platform,
            "--python-version",
            PYTHON_VERSION,
            "--compile-bytecode",
            "--target",
            str(staging / "python"),
            "-r",
            str(requirements),
        ]
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, **platform.environment},
        )
        if result.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise LayerBuildError(
                f"Building the {requirements.parent.name} layer for {platform.tag} failed:\n"
                f"{result.stderr}"
            )
        if prune.is_file():
            _prune(staging / "python", prune)
        staging.rename(target)
    return target


def _prune(root: Path, globs_file: Path) -> None:
    for line in globs_file.read_text().splitlines():
        pattern = line.split("#", 1)[0].strip()
        if not pattern:
            continue
        for path in root.glob(pattern):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
