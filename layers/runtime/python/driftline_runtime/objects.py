"""S3 objects named by ``s3://bucket/key`` URIs, as events and manifests carry them."""

from __future__ import annotations

from typing import Any


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/key`` -> ``("bucket", "some/key")``."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an S3 URI: {uri!r}")
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def read_object(s3: Any, uri: str) -> bytes:
    """The whole body of the object at ``uri`` (``s3`` is a boto3 S3 client)."""
    bucket, key = split_uri(uri)
    body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body
