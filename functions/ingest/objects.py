"""What an S3 event names: the object, the dataset its key puts it in, and whether the
key is safe to use as a path."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import unquote_plus

from driftline_runtime.reasons import Reason

NO_DATASET = "_no_dataset"
# Where a key that is unsafe as a path is filed: never under a name taken from the key.
UNSAFE_KEY = "_unsafe_key"
UNSAFE_NAME_CHARACTERS = re.compile(r"[\x00-\x1f\x7f/\\]")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
# An undeclared dataset's name still names its quarantine folder if it is this plain.
SAFE_DATASET_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,62}$")


@dataclass(frozen=True)
class ObjectRef:
    bucket: str
    key: str
    version_id: str | None
    size: int
    # When S3 saw the object arrive: the same on every redelivery of its event.
    event_time: str | None = None

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ObjectRef:
        """From an S3 event notification record (its key arrives URL-encoded)."""
        s3 = record["s3"]
        return cls(
            bucket=s3["bucket"]["name"],
            key=unquote_plus(s3["object"]["key"]),
            version_id=s3["object"].get("versionId"),
            size=int(s3["object"].get("size", 0)),
            event_time=record.get("eventTime"),
        )

    @property
    def arrival_date(self) -> date | None:
        if not self.event_time:
            return None
        return datetime.fromisoformat(self.event_time.replace("Z", "+00:00")).date()

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def dataset_of(key: str) -> str:
    dataset, separator, rest = key.partition("/")
    return dataset if separator and dataset and rest else NO_DATASET


def unsafe_key_reason(key: str) -> Reason | None:
    """Why ``key`` is unsafe to use as a path (``..`` or ``.`` segments, control characters),
    or None. S3 accepts such keys; tools that sync buckets to disks follow them."""
    segments = re.split(r"[/\\]", key)
    if any(segment in (".", "..") for segment in segments) or key.startswith("/"):
        return Reason(
            code="unsafe_key",
            message=f"the key {key!r} has a '.' or '..' segment or a leading '/'; "
            "drop files under <dataset>/<name>",
            details={"key": key},
        )
    if CONTROL_CHARACTERS.search(key):
        return Reason(
            code="unsafe_key",
            message=f"the key {key!r} holds control characters",
            details={"key": key},
        )
    return None


def object_version(ref: ObjectRef) -> str:
    """The version of an object refused unread: named after the object, not its content."""
    return hashlib.sha256(f"{ref.uri}#{ref.version_id}".encode()).hexdigest()[:16]


def file_name(key: str) -> str:
    name = UNSAFE_NAME_CHARACTERS.sub("_", key.rsplit("/", 1)[-1]).strip(". ")
    return name or "object"
