"""A model's container made ready to serve: its model data and code on disk.

Batch transform and endpoints set a model up the same way, as SageMaker's
scikit-learn serving container does: ``ModelDataUrl`` (a model.tar.gz) extracted into
the model folder, the code from ``SAGEMAKER_SUBMIT_DIRECTORY`` (a sourcedir.tar.gz in
S3, or a folder inside the model) copied into the code folder, and
``SAGEMAKER_PROGRAM`` naming the entry file there.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from driftline_localcloud.sagemaker.containers import (
    JobFailure,
    S3Uri,
    download,
    extract_tarball,
)
from driftline_localcloud.sagemaker.store import Description


def primary_container(model: Description) -> dict[str, Any]:
    """The model's one container (PrimaryContainer, or the only one of Containers)."""
    containers = model.get("Containers") or []
    container = model.get("PrimaryContainer") or (containers[0] if containers else None)
    if not container or not container.get("Image"):
        raise JobFailure(f"ClientError: Model {model['ModelName']} has no container.")
    if len(containers) > 1:
        raise JobFailure("ClientError: Multi-container models are not supported locally.")
    return dict(container)


def prepare_model(s3: Any, container: dict[str, Any], root: Path) -> tuple[Path, Path]:
    """Model data into ``root/model`` and code into ``root/code``; returns both folders."""
    model_dir, code_dir = root / "model", root / "code"
    model_dir.mkdir()
    if container.get("ModelDataUrl"):
        archive = root / "model.tar.gz"
        download(s3, S3Uri.parse(container["ModelDataUrl"]), archive)
        extract_tarball(archive, model_dir, f"ModelDataUrl {container['ModelDataUrl']}")
        archive.unlink()
    prepare_code(s3, dict(container.get("Environment") or {}), root, model_dir, code_dir)
    return model_dir, code_dir


def prepare_code(
    s3: Any, environment: dict[str, str], root: Path, model_dir: Path, code_dir: Path
) -> None:
    program = environment.get("SAGEMAKER_PROGRAM")
    submit = environment.get("SAGEMAKER_SUBMIT_DIRECTORY", "")
    if not program:
        raise JobFailure(
            "ClientError: The model's container Environment must name the inference entry "
            "file in SAGEMAKER_PROGRAM (and its code in SAGEMAKER_SUBMIT_DIRECTORY)."
        )
    if submit.startswith(("s3://", "https://")):
        archive = root / "sourcedir.tar.gz"
        download(s3, S3Uri.parse(submit), archive)
        extract_tarball(archive, code_dir, f"SAGEMAKER_SUBMIT_DIRECTORY {submit}")
    elif submit.startswith("/opt/ml/model"):  # code packed inside model.tar.gz
        packed = model_dir / submit.removeprefix("/opt/ml/model").lstrip("/")
        if not packed.is_dir():
            raise JobFailure(f"ClientError: {submit} is not a folder in the model data.")
        shutil.copytree(packed, code_dir)
    else:
        raise JobFailure(
            f"ClientError: SAGEMAKER_SUBMIT_DIRECTORY {submit!r} must be the S3 URI of a "
            "sourcedir.tar.gz or a folder under /opt/ml/model."
        )
    if not (code_dir / program).is_file():
        raise JobFailure(f"ClientError: SAGEMAKER_PROGRAM {program!r} is not in {submit}.")
