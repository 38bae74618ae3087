"""An object copied to the working folder before it is read, and results copied back.

The object is read from S3 once, in pieces, hashed on the way (its SHA-256 names the
dataset version) and written to disk: the readers then read it from there in batches,
and as often as a read that must start over needs, without holding it in memory. A
Lambda function spools to its ephemeral storage (``/tmp``), a Processing job to its
volume.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from boto3.s3.transfer import TransferConfig
from objects import ObjectRef

DOWNLOAD_CHUNK = 8 * 1024 * 1024
# Curated Parquet goes up in parts of this size, a few at a time: bounded memory.
UPLOAD = TransferConfig(
    multipart_threshold=64 * 1024 * 1024,
    multipart_chunksize=16 * 1024 * 1024,
    max_concurrency=4,
)


class ObjectTooLarge(Exception):  # noqa: N818  # a limit, not a fault
    """The object holds more than the limit: the download stopped there."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


def spool_object(s3: Any, ref: ObjectRef, path: Path, limit: int | None) -> str:
    """Copy the object to ``path``; its SHA-256. ObjectTooLarge past ``limit`` bytes.

    The event's size is not trusted alone: an object replaced since, or a hand-made
    event, could hold more than it says.
    """
    arguments: dict[str, str] = {"Bucket": ref.bucket, "Key": ref.key}
    if ref.version_id:
        arguments["VersionId"] = ref.version_id
    body = s3.get_object(**arguments)["Body"]
    sha, size = hashlib.sha256(), 0
    try:
        with path.open("wb") as out:
            while chunk := body.read(DOWNLOAD_CHUNK):
                size += len(chunk)
                if limit is not None and size > limit:
                    raise ObjectTooLarge(size)
                sha.update(chunk)
                out.write(chunk)
    finally:
        body.close()
    return sha.hexdigest()


def upload(s3: Any, path: Path, bucket: str, key: str, content_type: str) -> None:
    """A spooled file to S3 (multipart above 64 MiB)."""
    s3.upload_file(str(path), bucket, key, ExtraArgs={"ContentType": content_type}, Config=UPLOAD)
