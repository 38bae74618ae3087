"""Data capture: an endpoint variant's sampled requests and answers, written to S3.

As SageMaker does with an endpoint config's ``DataCaptureConfig``: each successful
request is captured with probability ``InitialSamplingPercentage`` (the request, the
answer or both, per ``CaptureOptions``); records are SageMaker's JSON Lines (one
``{"captureData": {"endpointInput", "endpointOutput"}, "eventMetadata", "eventVersion"}``
per request) under ``<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/``, encrypted
with ``KmsKeyId`` (SSE-KMS), written as the model's execution role. Bodies whose content
type ``CaptureContentTypeHeader`` names as CSV or JSON are kept as text (encoding
``CSV``/``JSON``), anything else as base64.

SageMaker buffers records and writes a file every few minutes; the local cloud writes
every ``FLUSH_SECONDS`` (and when the variant stops), so captured traffic can be read
within seconds. A failed write is logged and its records dropped, as a capture failure
never fails a request on AWS either.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

LOG = logging.getLogger(__name__)

FLUSH_SECONDS = 2.0
# Beyond this many buffered records a write starts at once.
FLUSH_RECORDS = 1000


def capture_settings(config: dict[str, Any] | None) -> dict[str, Any] | None:
    """The endpoint config's DataCaptureConfig when it captures anything, else None."""
    if not config or not config.get("EnableCapture", True):
        return None
    if int(config.get("InitialSamplingPercentage", 0)) <= 0:
        return None
    return config


def encoding(content_type: str, header: dict[str, Any]) -> str:
    media = content_type.split(";", 1)[0].strip().lower()
    if media in [str(t).lower() for t in header.get("CsvContentTypes") or []]:
        return "CSV"
    if media in [str(t).lower() for t in header.get("JsonContentTypes") or []]:
        return "JSON"
    return "BASE64"


def captured(body: bytes, content_type: str, mode: str, header: dict[str, Any]) -> dict[str, Any]:
    kind = encoding(content_type, header)
    text = body.decode("utf-8", errors="replace") if kind != "BASE64" else None
    return {
        "observedContentType": content_type,
        "mode": mode,
        "data": text if text is not None else base64.b64encode(body).decode("ascii"),
        "encoding": kind,
    }


def capture_key(prefix: str, endpoint: str, variant: str, when: datetime) -> str:
    """``<prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm-ss-mmm>-<uuid>.jsonl``."""
    folder = "/".join(p for p in (prefix.strip("/"), endpoint, variant) if p)
    stamp = f"{when:%M-%S}-{when.microsecond // 1000:03d}"
    return f"{folder}/{when:%Y/%m/%d/%H}/{stamp}-{uuid.uuid4()}.jsonl"


class CaptureWriter:
    """One variant's capture: sampling, the buffer and its writes."""

    def __init__(
        self,
        s3: Any,
        config: dict[str, Any],
        endpoint: str,
        variant: str,
        *,
        seed: int | None = None,
    ) -> None:
        self.s3, self.endpoint, self.variant = s3, endpoint, variant
        destination = str(config["DestinationS3Uri"]).removeprefix("s3://")
        self.bucket, _, self.prefix = destination.partition("/")
        self.share = int(config.get("InitialSamplingPercentage", 0)) / 100.0
        modes = {str(o.get("CaptureMode")) for o in config.get("CaptureOptions") or []}
        self.inputs, self.outputs = "Input" in modes, "Output" in modes
        self.header: dict[str, Any] = dict(config.get("CaptureContentTypeHeader") or {})
        self.kms_key = config.get("KmsKeyId")
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._records: list[bytes] = []
        self._stop = threading.Event()
        self._flusher = threading.Thread(target=self._flush_often, name="capture", daemon=True)
        self._flusher.start()

    def offer(self, request: bytes, request_type: str, answer: bytes, answer_type: str) -> bool:
        """Captures one answered request if the sample takes it; True if it did."""
        with self._lock:
            if self._random.random() >= self.share:
                return False
        data: dict[str, Any] = {}
        if self.inputs:
            data["endpointInput"] = captured(request, request_type, "INPUT", self.header)
        if self.outputs:
            data["endpointOutput"] = captured(answer, answer_type, "OUTPUT", self.header)
        record = {
            "captureData": data,
            "eventMetadata": {
                "eventId": str(uuid.uuid4()),
                "inferenceTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
            "eventVersion": "0",
        }
        with self._lock:
            self._records.append(json.dumps(record).encode())
            full = len(self._records) >= FLUSH_RECORDS
        if full:
            self.flush()
        return True

    def flush(self) -> None:
        with self._lock:
            records, self._records = self._records, []
        if not records:
            return
        key = capture_key(self.prefix, self.endpoint, self.variant, datetime.now(UTC))
        encryption = (
            {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key} if self.kms_key else {}
        )
        try:
            self.s3.put_object(
                Bucket=self.bucket, Key=key, Body=b"\n".join(records) + b"\n", **encryption
            )
        except Exception as error:  # a capture failure never fails the endpoint
            LOG.warning(
                "Data capture of %s/%s could not write %d record(s) to s3://%s/%s: %s",
                self.endpoint,
                self.variant,
                len(records),
                self.bucket,
                key,
                error,
            )

    def close(self) -> None:
        self._stop.set()
        self._flusher.join(timeout=FLUSH_SECONDS * 2)
        self.flush()

    def _flush_often(self) -> None:
        while not self._stop.wait(FLUSH_SECONDS):
            self.flush()
