"""Captured real-time traffic as batches: an endpoint's data capture -> a file to ingest.

SageMaker writes the requests an endpoint answered (a sampled share, SSE-KMS) as JSON
Lines under ``capture/<dataset>/<endpoint>/<variant>/yyyy/mm/dd/hh/``. For every training
dataset whose ``realtime.capture_dataset`` names an inference dataset, this collects the
capture objects written in one window (the ``window_minutes`` before the scheduled
time), takes the rows of their requests (CSV with a header, JSON Lines, a JSON list) in
the dataset's own columns, and drops them as one CSV file of the inference dataset in
the raw bucket: ``<capture dataset>/capture-<window end>-<endpoint>.csv``. From there the
file is validated against the contract, scored and drift-monitored as any batch is.

Requests without a header (positional CSV) cannot be matched to columns and are counted,
not guessed; a row sent more than once in a window is kept once, as last sent. The
file's name depends only on the window, so a repeated schedule event writes the same
object again, which ingestion takes as the same version.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from driftline_runtime import layout, names
from driftline_runtime.contracts import DatasetSpec
from driftline_runtime.settings import FunctionSettings

# What a dropped batch may hold: the ingest function's own bound is far above this.
MAX_ROWS_PER_FILE = 1_000_000
JSON_LINES = ("application/jsonlines", "application/x-jsonlines", "application/jsonl")


class Settings(FunctionSettings):
    stage: str
    capture_bucket: str
    raw_bucket: str
    window_minutes: int = 60


@dataclass(frozen=True)
class Services:
    s3: Any
    # Every declared dataset's spec.
    datasets: Callable[[], dict[str, DatasetSpec]]


@dataclass
class Window:
    """One endpoint's capture over one window, and where it went."""

    dataset: str
    capture_dataset: str
    endpoint: str
    objects: int = 0
    records: int = 0
    rows: int = 0
    unnamed: int = 0  # requests whose rows name no columns (positional CSV)
    repeated: int = 0  # rows whose id an earlier row of the window had
    key: str | None = None
    columns: list[str] = field(default_factory=list)


def request_rows(capture: dict[str, Any], id_column: str) -> list[dict[str, Any]] | None:
    """The rows of one captured request, by column; None when they name no columns
    (CSV without a header line naming the id column, or a body captured as base64)."""
    endpoint_input = (capture.get("captureData") or {}).get("endpointInput") or {}
    kind, data = endpoint_input.get("encoding"), str(endpoint_input.get("data") or "")
    media = str(endpoint_input.get("observedContentType", "")).split(";", 1)[0].strip()
    if kind == "CSV":
        lines = [row for row in csv.reader(io.StringIO(data)) if any(f.strip() for f in row)]
        if not lines or id_column not in [name.strip() for name in lines[0]]:
            return None
        header = [name.strip() for name in lines[0]]
        return [dict(zip(header, row, strict=False)) for row in lines[1:]]
    if kind != "JSON":
        return None
    if media in JSON_LINES:
        document: Any = [json.loads(line) for line in data.splitlines() if line.strip()]
    else:
        document = json.loads(data)
        if isinstance(document, dict):
            document = document.get("instances")
    if not isinstance(document, list):
        return None
    return [row for row in document if isinstance(row, dict)]


def as_field(value: Any) -> str:
    """A value as the CSV reader of ingestion reads it back."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class CaptureCollection:
    def __init__(self, settings: Settings, services: Services) -> None:
        self.settings, self.services = settings, services

    def collect(self, time: datetime) -> list[Window]:
        end = time.replace(second=0, microsecond=0)
        start = end - timedelta(minutes=self.settings.window_minutes)
        specs = self.services.datasets()
        windows = []
        for name, spec in sorted(specs.items()):
            if spec.kind != "training" or spec.realtime is None:
                continue
            captured = spec.realtime.capture_dataset
            if not captured:
                continue
            window = Window(name, captured, names.endpoint_name(self.settings.stage, name))
            self._collect(window, specs[captured], start, end)
            windows.append(window)
        return windows

    def _collect(self, window: Window, scored: DatasetSpec, start: datetime, end: datetime) -> None:
        rows: list[dict[str, Any]] = []
        for key in self._objects(window, start, end):
            window.objects += 1
            body = self.services.s3.get_object(Bucket=self.settings.capture_bucket, Key=key)
            for line in body["Body"].read().decode("utf-8").splitlines():
                if not line.strip():
                    continue
                window.records += 1
                found = request_rows(json.loads(line), scored.id_column)
                if found is None:
                    window.unnamed += 1
                    continue
                rows.extend(found)
        # A row scored more than once in the window (a retry, a re-score) is one row of
        # the batch, as it was last sent: the dataset's id column is its unique key.
        unique = {str(row.get(scored.id_column)): row for row in rows}
        window.repeated = len(rows) - len(unique)
        rows = list(unique.values())[:MAX_ROWS_PER_FILE]
        window.rows = len(rows)
        if not rows:
            return
        declared = scored.columns
        window.columns = [c for c in declared if any(c in row for row in rows)]
        sink = io.StringIO()
        writer = csv.writer(sink, lineterminator="\n")
        writer.writerow(window.columns)
        for row in rows:
            writer.writerow([as_field(row.get(column)) for column in window.columns])
        window.key = layout.capture_batch_key(window.capture_dataset, window.endpoint, end)
        self.services.s3.put_object(
            Bucket=self.settings.raw_bucket,
            Key=window.key,
            Body=sink.getvalue().encode("utf-8"),
            ContentType="text/csv",
        )

    def _objects(self, window: Window, start: datetime, end: datetime) -> Iterable[str]:
        """Capture objects of the endpoint written in [start, end)."""
        prefix = f"{layout.CAPTURE_PREFIX}/{window.dataset}/{window.endpoint}/"
        pages = self.services.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.settings.capture_bucket, Prefix=prefix
        )
        for page in pages:
            for item in page.get("Contents", []):
                if start <= item["LastModified"] < end:
                    yield str(item["Key"])
