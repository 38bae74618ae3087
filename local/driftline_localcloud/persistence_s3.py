"""S3's object bytes across a restart (``driftline_localcloud.persistence`` calls this).

LocalStack's in-memory S3 keeps object bytes outside the stores its state visitor
offers, in files named by ``hash(f"{key}?{version}")``: Python salts string hashes per
process, so a name computed by the saving process means nothing to the next one. The
bytes are therefore saved one file per object version, with an index naming the bucket,
key and version of each, and the next process files them under its own hash.
Multipart uploads in progress are not kept.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

INDEX = "index.json"


def _object_store(service: Any) -> Any:
    return service._provider._storage_backend


def _buckets() -> dict[str, Any]:
    """Every bucket of every account once (a store's buckets are shared by its regions)."""
    from localstack.services.s3.models import s3_stores

    return {
        name: bucket
        for regions in s3_stores.values()
        for store in regions.values()
        for name, bucket in store.buckets.items()
    }


def save_object_data(service: Any, folder: Path) -> int:
    """Writes every stored object version's bytes under ``folder``; returns their number."""
    from localstack.services.s3.models import S3Object

    storage = _object_store(service)
    folder.mkdir(parents=True, exist_ok=True)
    index: list[dict[str, Any]] = []
    for name, bucket in _buckets().items():
        for s3_object in bucket.objects.values(with_versions=True):
            if not isinstance(s3_object, S3Object):  # a delete marker has no bytes
                continue
            file = storage._get_object_file(name, storage._key_from_s3_object(s3_object))
            if file is None:
                continue
            data = f"{len(index):08d}"
            with file.position_lock, (folder / data).open("wb") as target:
                file.seek(0)
                shutil.copyfileobj(file, target)
            index.append(
                {
                    "bucket": name,
                    "key": s3_object.key,
                    "version_id": s3_object.version_id,
                    "modified": s3_object.internal_last_modified,
                    "data": data,
                }
            )
    (folder / INDEX).write_text(json.dumps(index))
    return len(index)


def load_object_data(service: Any, folder: Path) -> int:
    """Files the saved bytes under this process's names; returns the versions loaded."""
    from localstack.services.s3.storage.ephemeral import (
        S3_MAX_FILE_SIZE_BYTES,
        LockedSpooledTemporaryFile,
    )

    if not (folder / INDEX).is_file():
        return 0
    storage = _object_store(service)
    index = json.loads((folder / INDEX).read_text())
    for entry in index:
        bucket = entry["bucket"]
        directory = Path(storage.root_directory, bucket)
        directory.mkdir(parents=True, exist_ok=True)
        file = LockedSpooledTemporaryFile(dir=str(directory), max_size=S3_MAX_FILE_SIZE_BYTES)
        with (folder / entry["data"]).open("rb") as data:
            shutil.copyfileobj(data, file)
        file.seek(0)
        # The stored object's checksum cache stays valid only if both carry one stamp.
        file.internal_last_modified = entry["modified"]
        name = storage._key_from_s3_object(
            SimpleNamespace(key=entry["key"], version_id=entry["version_id"])
        )
        storage._filesystem[bucket]["keys"][name] = file
    return len(index)
