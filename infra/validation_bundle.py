"""The validation job's code: one Python zip application with everything the job imports.

The Processing job runs the ingest function's logic (``functions/ingest``) in SageMaker's
PyTorch CPU image, whose Python 3.13 has boto3 but none of the project's packages. The
bundle carries the ingest modules, the runtime library, the dataset contracts and the
dependency layer's packages, installed for the job's platform (Linux x86_64 on AWS, the
host's own on the local cloud). pyarrow and pydantic-core hold compiled extension
modules, which Python cannot import from inside a zip, so the archive's ``__main__``
(``infra/bundles/validation_main.py``) unpacks ``site/`` onto the job's volume first and
runs the job's entry point from there. One file keeps the job's input a single S3 object
(an asset) instead of a prefix that a custom resource would have to keep in sync.
"""

from __future__ import annotations

import hashlib
import tempfile
import zipfile
from pathlib import Path

from infra.constructs.functions import FUNCTIONS, LAYERS, contracts_layer
from infra.packaging import CODE_CACHE, ROOT, build_dependency_layer, compiled_copy
from infra.platforms import AssetPlatform

BOOTSTRAP = ROOT / "infra" / "bundles" / "validation_main.py"
# Where the bundle's modules sit inside the archive (the bootstrap unpacks this folder).
SITE = "site"


def bundle_sources(platform: AssetPlatform, extra_contract_folders: tuple[str, ...]) -> list[Path]:
    """The folders whose contents make up ``site/``, each built (and cached) with its
    bytecode: the dependency layer, the runtime library, the contracts, the ingest code."""
    contracts = contracts_layer(extra_contract_folders)
    return [
        build_dependency_layer(LAYERS / "dependencies" / "requirements.txt", platform) / "python",
        compiled_copy(LAYERS / "runtime", "runtime") / "python",
        compiled_copy(contracts.path, "contracts") / "python",
        compiled_copy(FUNCTIONS / "ingest", "function-ingest"),
    ]


def validation_bundle(platform: AssetPlatform, extra_contract_folders: tuple[str, ...]) -> Path:
    """``.cache/code/validator-<digest>.pyz``, built once per content: every source
    folder's name carries its own content digest, so their names and the bootstrap's text
    name the bundle."""
    sources = bundle_sources(platform, extra_contract_folders)
    digest = hashlib.sha256(BOOTSTRAP.read_bytes())
    for source in sources:
        digest.update(str(source.relative_to(ROOT)).encode() + b"\0")
    target = CODE_CACHE / f"validator-{digest.hexdigest()[:16]}.pyz"
    if target.is_file():
        return target
    CODE_CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=CODE_CACHE, prefix=".building-", delete=False) as file:
        staging = Path(file.name)
    try:
        _write(staging, sources)
        staging.replace(target)
    finally:
        staging.unlink(missing_ok=True)
    return target


def _write(archive_path: Path, sources: list[Path]) -> None:
    seen: set[str] = set()
    # Fast compression: the archive is built at synth time and read once per job.
    with zipfile.ZipFile(archive_path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.write(BOOTSTRAP, "__main__.py")
        for source in sources:
            for path in sorted(p for p in source.rglob("*") if p.is_file()):
                name = f"{SITE}/{path.relative_to(source).as_posix()}"
                if name in seen:
                    raise ValueError(f"{name} is in more than one part of the validation bundle")
                seen.add(name)
                archive.write(path, name)
