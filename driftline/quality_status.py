"""What labels measured, as ``status --json`` shows it: ``model_quality[]``.

One entry per scored run with labels: ``{dataset, version, model_group, model_version,
labelled_rows, metrics, reference_metric, degraded, time}`` (and the run, the primary
metric, the calibration per decile), oldest first, read from the quality records the
join-labels function writes (``quality/<dataset>/<version>/<run>.json``).
"""

from __future__ import annotations

from typing import Any

from driftline_runtime import layout
from driftline_runtime.quality import ModelQuality

from driftline.target import Target


def model_quality(target: Target, bucket: str) -> list[dict[str, Any]]:
    s3 = target.client("s3")
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=f"{layout.QUALITY_PREFIX}/"
    ):
        for item in page.get("Contents", []):
            if not item["Key"].endswith(".json"):
                continue
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            found.append(ModelQuality.model_validate_json(body).model_dump(mode="json"))
    return sorted(found, key=lambda q: q["time"])
