"""Each training dataset's own training code (``TrainingSpec.source_dir``), packaged.

The folder becomes a ``sourcedir.tar.gz`` asset of its own (as the SageMaker SDK packs
a ``source_dir``), byte-stable so that only a change of the code moves it. Its S3 URL
and entry script reach the prepare step per dataset; the SageMaker role may read
exactly these objects and nothing else of the assets bucket. Synth checked the folders
already (``infra.contracts_layer``); a folder missing here stops the synth all the same.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct
from driftline_runtime.contracts import TrainingSpec
from driftline_runtime.training_code import code_problems, source_folder

from infra.packaging import CACHE, ROOT

# What the packed folder leaves out: bytecode and caches are the host's, not the code.
SKIPPED_PARTS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".git"})


def code_files(folder: Path) -> dict[str, Path]:
    """Every file of the folder at its relative path (archive name -> file)."""
    return {
        path.relative_to(folder).as_posix(): path
        for path in sorted(folder.rglob("*"))
        if path.is_file()
        and path.suffix != ".pyc"
        and not SKIPPED_PARTS.intersection(path.relative_to(folder).parts)
    }


def sourcedir_tarball(files: dict[str, Path]) -> Path:
    """``sourcedir.tar.gz`` of ``files`` (archive name -> file), named by their content
    so that its asset hash only moves with the code."""
    digest = hashlib.sha256(
        b"".join(name.encode() + b"\0" + path.read_bytes() for name, path in files.items())
    ).hexdigest()[:16]
    target = CACHE.parent / "training" / f"sourcedir-{digest}.tar.gz"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as archive:
        for name, path in files.items():
            info = tarfile.TarInfo(name)
            info.size = path.stat().st_size
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(path.read_bytes()))
    target.write_bytes(buffer.getvalue())
    return target


@dataclass(frozen=True)
class DatasetCode:
    """One dataset's own training code as the prepare step uses it."""

    asset: s3_assets.Asset
    program: str

    @property
    def setting(self) -> dict[str, str]:
        """``preparation.DatasetCodeSettings``: where the code is and which script runs."""
        return {"source_dir": self.asset.s3_object_url, "program": self.program}

    @property
    def object_arn(self) -> str:
        return self.asset.bucket.arn_for_objects(self.asset.s3_object_key)


class DatasetTrainingCode(Construct):
    """One asset per training dataset that brings its own training code."""

    def __init__(
        self, scope: Construct, construct_id: str, *, datasets: list[dict[str, Any]]
    ) -> None:
        super().__init__(scope, construct_id)
        self.code: dict[str, DatasetCode] = {}
        for dataset in sorted(datasets, key=lambda d: str(d["name"])):
            if dataset["kind"] != "training":
                continue
            training = TrainingSpec.model_validate(dataset["settings"].get("training") or {})
            folder = source_folder(training, ROOT)
            if folder is None:
                continue
            problems = code_problems(dataset["name"], training, ROOT)
            if problems:
                raise ValueError("; ".join(problems))
            tarball = sourcedir_tarball(code_files(folder))
            asset = s3_assets.Asset(self, dataset["name"], path=str(tarball))
            self.code[dataset["name"]] = DatasetCode(asset, training.entry_point)

    @property
    def settings(self) -> dict[str, dict[str, str]]:
        return {name: code.setting for name, code in self.code.items()}

    @property
    def object_arns(self) -> list[str]:
        return [code.object_arn for code in self.code.values()]
