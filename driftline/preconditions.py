"""What must hold before a command can work, each checked with one clear error.

Every check raises :class:`~driftline.errors.PreconditionFailed` (the CLI exits 2) with
a message naming the fix, and returns what it found, so a command does not ask twice.
The checks run before anything is changed: ``driftline drop`` uploads nothing when the
dataset is undeclared or the file cannot be read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from driftline_runtime.contracts import DatasetSpec
from driftline_runtime.readers import UnreadableFile, detect_format

from driftline.errors import PreconditionFailed
from driftline.localcloud import ROOT, LocalCloud
from driftline.target import Target, aws_session

CDK_JSON = ROOT / "cdk.json"


def local_cloud_running(cloud: LocalCloud) -> None:
    if cloud.health() is not None:
        return
    taken = f" (another program listens on port {cloud.port})" if cloud.port_in_use() else ""
    raise PreconditionFailed(
        f"The local cloud is not running on {cloud.endpoint}{taken}",
        "Start it with `driftline local up` (DRIFTLINE_LOCAL_PORT chooses the port).",
        code="local_cloud_not_running",
    )


def aws_configured() -> None:
    """A region and credentials, found the way the AWS CLI finds them."""
    from botocore.exceptions import BotoCoreError

    try:
        session = aws_session()
        credentials = session.get_credentials()
    except BotoCoreError as error:  # a named profile that does not exist, a broken config
        raise PreconditionFailed(
            f"The AWS configuration cannot be used: {error}",
            "Fix AWS_PROFILE or ~/.aws/config (`aws configure list` shows what is used).",
            code="no_credentials",
        ) from error
    if not session.region_name:
        raise PreconditionFailed(
            "No AWS region is set for --target aws",
            "Set AWS_REGION (or a region in your AWS profile), or use --target local.",
            code="no_region",
        )
    if credentials is None:
        raise PreconditionFailed(
            "No AWS credentials were found for --target aws",
            "Run `aws configure` or `aws sso login`, or set AWS_PROFILE; or use --target local.",
            code="no_credentials",
        )


def reachable(target: Target) -> None:
    """The target answers: the local cloud runs, or AWS has a region and credentials."""
    if target.name == "local":
        local_cloud_running(LocalCloud())
    else:
        aws_configured()


def deployed(target: Target, *lifecycles: str) -> dict[str, dict[str, str]]:
    """The stacks of ``lifecycles`` exist; returns their outputs by lifecycle."""
    reachable(target)
    return {lifecycle: target.outputs(lifecycle) for lifecycle in lifecycles}


def declared_dataset(name: str, kind: str | None = None) -> None:
    """``name`` is a declared dataset (of ``kind``, when given). Reads the declarations
    only: a dataset is named even when another dataset's module is broken."""
    from driftline_contracts import declared
    from driftline_runtime.catalog import ContractsError

    try:
        declarations = declared()
    except ContractsError as error:
        raise PreconditionFailed(
            f"The dataset contracts have {len(error.problems)} problem(s)",
            "See them with `driftline contracts check`.",
            code="contracts_broken",
        ) from error
    found = declarations.get(name)
    if found is None:
        raise PreconditionFailed(
            f"{name!r} is not a declared dataset",
            f"Declared: {_names(declarations)} (see layers/contracts/).",
            code="undeclared_dataset",
        )
    if kind is not None and found.kind != kind:
        fitting = [d for d, declaration in declarations.items() if declaration.kind == kind]
        raise PreconditionFailed(
            f"{name!r} is a dataset of kind {found.kind}, not {kind}",
            f"Datasets of kind {kind}: {_names(fitting)}.",
            code="wrong_dataset_kind",
        )


def loaded_contract(name: str) -> DatasetSpec:
    """The spec of the declared dataset ``name``, whose module must load."""
    from driftline_contracts import ContractUnavailable, contract

    try:
        spec = contract(name)
    except ContractUnavailable as error:
        raise PreconditionFailed(
            f"The contract of {name!r} cannot be used: {error}",
            "See the problem with `driftline contracts check`.",
            code="contract_unavailable",
        ) from error
    if spec is None:
        raise PreconditionFailed(
            f"{name!r} is not a declared dataset",
            "`driftline contracts check` lists the declared ones.",
            code="undeclared_dataset",
        )
    return spec


def validated_version(target: Target, dataset: str, version: str | None) -> str:
    """The full name of a validated version of ``dataset``: the newest one, or the one
    ``version`` names (its first digits are enough, as `driftline status` shows them)."""
    from driftline import status as status_of

    versions = [
        str(d["version"])
        for d in sorted(status_of.datasets(target), key=lambda d: str(d["created_at"]))
        if d["dataset"] == dataset and d["state"] == "validated"
    ]
    if not versions:
        raise PreconditionFailed(
            f"No validated version of {dataset!r} yet",
            f"Drop a file first: `driftline drop FILE --dataset {dataset}`.",
            code="no_validated_version",
        )
    if version is None:
        return versions[-1]
    matching = [v for v in versions if v.startswith(version)]
    if len(matching) != 1:
        which = "names no" if not matching else "names more than one"
        raise PreconditionFailed(
            f"{version!r} {which} validated version of {dataset!r}",
            f"The newest are {', '.join(reversed(versions[-3:]))}; `driftline status` lists all.",
            code="unknown_version",
        )
    return matching[0]


def _names(names: Iterable[str]) -> str:
    return ", ".join(sorted(names)) or "none"


def input_file(path: Path, *, data: bool = True) -> Path:
    """A readable file; with ``data``, in a format the pipeline reads (judged by its name,
    as the ingest function judges an object by its key)."""
    if not path.exists():
        raise PreconditionFailed(f"{path} does not exist", "Check the path.", code="file_missing")
    if not path.is_file():
        raise PreconditionFailed(f"{path} is not a file", "Name a file.", code="file_missing")
    if not os.access(path, os.R_OK):
        raise PreconditionFailed(
            f"{path} cannot be read (permission denied)",
            "Make it readable for you.",
            code="file_unreadable",
        )
    if data:
        known_format(path)
    return path


def known_format(path: Path) -> None:
    try:
        detect_format(path.name)
    except UnreadableFile as error:
        raise PreconditionFailed(
            f"{path.name} is not a format driftline reads",
            "Name it .csv, .parquet, .jsonl or .ndjson (optionally with .gz).",
            code="unknown_format",
        ) from error


def known_stage(stage: str) -> None:
    """A stage that cdk.json defines (what ``cdk deploy -c stage=...`` accepts)."""
    stages = json.loads(CDK_JSON.read_text())["context"]["driftline:stages"]
    if stage not in stages:
        raise PreconditionFailed(
            f"Unknown stage {stage!r}",
            f"cdk.json defines {', '.join(sorted(stages))}; use one with --stage.",
            code="unknown_stage",
        )


def port_free(cloud: LocalCloud) -> None:
    """The local cloud's port is ours: free, or served by this local cloud already."""
    if not cloud.is_running() and cloud.port_in_use():
        raise PreconditionFailed(
            f"Port {cloud.port} on {cloud.host} is already in use by another program",
            "Stop it, or choose another port with DRIFTLINE_LOCAL_PORT.",
            code="port_taken",
        )
