"""The local cloud's kept state: where it lives, and whether the app in it is current.

The local cloud saves its services' state when it stops and loads it when it starts
(``local/driftline_localcloud/persistence.py``), under ``.localcloud/state``.
``DRIFTLINE_LOCAL_PERSISTENCE=0`` starts empty every time instead, and
``DRIFTLINE_LOCAL_STATE_DIR`` names another folder for it. With state kept,
``driftline local up`` skips the deployment when the stacks are there and nothing the
stacks are built from changed since it last deployed them (a digest of the app's
sources, ``cdk.json``, the stage and the target, recorded after each local deploy).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What the deployed stacks are built from.
APP_SOURCES = ("infra", "functions", "layers", "state_machines", "training")
APP_FILES = ("cdk.json", "pyproject.toml", "uv.lock", "package.json", "package-lock.json")
RECORD = "deployed.json"


def enabled() -> bool:
    value = os.environ.get("DRIFTLINE_LOCAL_PERSISTENCE", "1").strip().lower()
    return value not in ("0", "false", "no")


def folder(state: Path) -> Path:
    """Where the local cloud in ``state`` keeps its services' state:
    ``DRIFTLINE_LOCAL_STATE_DIR`` if set (the test suites keep theirs apart from the
    user's), else ``<state>/state``."""
    chosen = os.environ.get("DRIFTLINE_LOCAL_STATE_DIR", "").strip()
    return Path(chosen) if chosen else state / "state"


def _files(root: Path, extra: list[str]) -> Iterable[Path]:
    for name in (*APP_SOURCES, *APP_FILES, *extra):
        path = root / name
        if path.is_file():
            yield path
        elif path.is_dir():
            yield from sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
            )


def _extra_contract_folders(root: Path, stage: str) -> list[str]:
    try:
        stages = json.loads((root / "cdk.json").read_text())["context"]["driftline:stages"]
        return [str(folder) for folder in stages[stage].get("extra_contract_folders", [])]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []


def app_digest(stage: str, root: Path = ROOT) -> str:
    """A digest of everything a local deploy of ``stage`` is built from."""
    sha = hashlib.sha256("\0".join((stage, "local")).encode())
    for path in _files(root, _extra_contract_folders(root, stage)):
        sha.update(str(path.relative_to(root)).encode() + b"\0")
        sha.update(path.read_bytes())
    return sha.hexdigest()


def deployed_digest(state: Path, stage: str) -> str | None:
    try:
        record = json.loads((folder(state) / RECORD).read_text())
    except (OSError, ValueError):
        return None
    found = record.get(stage)
    return str(found) if found else None


def record_deploy(state: Path, stage: str, digest: str) -> None:
    path = folder(state) / RECORD
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        record = {}
    record[stage] = digest
    path.write_text(json.dumps(record, indent=2))


def forget(state: Path) -> bool:
    """Removes the kept state; True if there was any."""
    target = folder(state)
    existed = target.exists()
    shutil.rmtree(target, ignore_errors=True)
    return existed


def forget_deploys(state: Path) -> None:
    """A deploy of anything else (other context, other sources) is under way: until it is
    recorded, no stage counts as current."""
    (folder(state) / RECORD).unlink(missing_ok=True)
