"""Builds Lambda layer assets on the host, without Docker.

CDK's Python bundling runs pip inside a Lambda build image, which needs Docker. Here
the dependency layer is installed with ``uv pip install --target`` asking for wheels of
the asset platform (``infra.platforms``: Lambda's manylinux for AWS, the host's own for
the local cloud; CPython 3.13 either way) with the hashes pinned in
``layers/dependencies/requirements.txt``. The result is cached under ``.cache/layers``
by the requirements' content and the platform's wheel tag, so a synth after the first
costs nothing and needs no network.

Every asset ships compiled bytecode (``compiled_copy``, ``compile_bytecode``): Lambda
mounts layers read-only under ``/opt`` and code under ``/var/task``, so Python cannot
write ``__pycache__`` there and would compile every module again at every cold start.
The ``.pyc`` files are *unchecked-hash* ones (PEP 552): a zip keeps file times only to
two seconds, which would invalidate timestamp-based ones, and an asset folder is named
by its content, so a stale ``.pyc`` cannot outlive its source.
"""

from __future__ import annotations

import compileall
import fcntl
import hashlib
import os
import py_compile
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from infra.platforms import PYTHON_VERSION, AssetPlatform

ROOT = Path(__file__).resolve().parent.parent
STATE_MACHINES = ROOT / "state_machines"
CACHE = ROOT / ".cache" / "layers"
CODE_CACHE = ROOT / ".cache" / "code"
# Part of every cache key: a change of how bytecode is made rebuilds the assets.
BYTECODE = b"bytecode: unchecked-hash, cpython-313"
COMPILE_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "tests")


class LayerBuildError(RuntimeError):
    pass


def build_dependency_layer(requirements: Path, platform: AssetPlatform) -> Path:
    """Return a folder holding ``python/`` with the pinned requirements installed for
    ``platform``, pruned."""
    prune = requirements.with_name("prune.txt")
    digest = hashlib.sha256(
        requirements.read_bytes() + (prune.read_bytes() if prune.is_file() else b"") + BYTECODE
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
        # Third-party packages may hold files that are not valid Python 3.13 (templates,
        # old test fixtures); they stay uncompiled, as pip leaves them.
        compile_bytecode(staging / "python", strict=False)
        staging.rename(target)
    return target


def compile_bytecode(root: Path, *, strict: bool = True) -> None:
    """Compile every module under ``root`` into unchecked-hash ``.pyc`` files for the
    Lambda runtime's CPython 3.13 (the interpreter running the synth must be that one)."""
    if sys.version_info[:2] != (3, 13):
        raise LayerBuildError(
            f"Assets are compiled for CPython 3.13, the functions' runtime; this synth runs "
            f"Python {sys.version_info[0]}.{sys.version_info[1]} (use the project's .venv)"
        )
    compiled = compileall.compile_dir(
        str(root),
        quiet=1,
        force=True,
        workers=0,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    if strict and not compiled:
        raise LayerBuildError(f"{root} holds modules that do not compile (see above)")


def compiled_copy(source: Path, name: str) -> Path:
    """A copy of ``source`` (without caches and tests) with its bytecode compiled, under
    ``.cache/code/<name>-<content digest>``; the same content gives the same folder, and
    so the same asset hash."""
    sha = hashlib.sha256(BYTECODE)
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        relative = path.relative_to(source)
        if {"__pycache__", "tests"} & set(relative.parts) or path.suffix == ".pyc":
            continue
        sha.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    target = CODE_CACHE / f"{name}-{sha.hexdigest()[:16]}"
    if target.is_dir():
        return target
    CODE_CACHE.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=CODE_CACHE, prefix=".building-"))
    try:
        shutil.copytree(source, staging / "tree", ignore=COMPILE_IGNORED)
        compile_bytecode(staging / "tree")
        try:
            (staging / "tree").rename(target)
        except OSError:  # built meanwhile by a parallel synth
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
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
