"""Ingestion of one raw object: its contract decides between curated data and quarantine.

A dataset version is named by the first 16 hex digits of the object's SHA-256, so the
same content always maps to the same version: a redelivered event or a re-upload of the
same file finds the version in the lineage store and creates nothing new. Outputs are
written under keys derived from the version before the lineage record is created, so a
retry after a crash rewrites the same objects; the event is published after the record,
and a retry publishes it if the record says it was not.

Some objects are refused on their key and size alone, never downloaded: a key with
``.``/``..`` segments or control characters, a key under no or an undeclared dataset, a
dataset whose contract module does not load (``contract_unavailable``), a zero-byte
object and one above ``max_object_bytes``. Their content cannot name them, so their
version is named after the object (its URI and S3 version) instead: every such object
gets its own quarantine entry, a redelivery of its event still finds it, and the same
file dropped again once its contract loads is a new object, so it is ingested then.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq
from driftline_contracts import ContractUnavailable, contract, declared
from driftline_runtime import checking, layout
from driftline_runtime.contracts import DatasetKind, DatasetSpec
from driftline_runtime.events import DatasetRejected, DatasetValidated, put_event
from driftline_runtime.lineage import DatasetVersionRecord, LineageStore
from driftline_runtime.readers import Data, ReaderLimits
from driftline_runtime.reasons import Reason
from objects import (
    NO_DATASET,
    SAFE_DATASET_NAME,
    UNSAFE_KEY,
    ObjectRef,
    dataset_of,
    file_name,
    object_version,
    unsafe_key_reason,
)

DOWNLOAD_CHUNK = 8 * 1024 * 1024
EMPTY_OBJECT = Reason(code="empty_file", message="the object has 0 bytes", details={"bytes": 0})


class ObjectTooLarge(Exception):
    """The object holds more than ``max_object_bytes``: the download stopped there."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


@dataclass(frozen=True)
class IngestSettings:
    curated_bucket: str
    quarantine_bucket: str
    event_bus_name: str
    max_object_bytes: int
    limits: ReaderLimits = ReaderLimits()


@dataclass
class Services:
    """The AWS clients ingestion needs; tests pass moto-backed ones."""

    s3: Any
    events: Any
    lineage: LineageStore


@dataclass(frozen=True)
class Arrival:
    """One object being ingested, with what is known about it so far."""

    ref: ObjectRef
    dataset: str
    version: str
    digest: str
    now: datetime
    spec: DatasetSpec | None = None
    # Known from the catalog even when the spec is not (its module does not load).
    kind: DatasetKind | None = None


@dataclass(frozen=True)
class Outcome:
    status: Literal["validated", "rejected", "duplicate"]
    dataset: str
    version: str
    reasons: list[Reason] = field(default_factory=list)
    # Rows read from the file, and those that made it into the curated version.
    rows: int = 0
    valid_rows: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON data: the idempotency store keeps it, the handler returns it."""
        outcome = asdict(self)
        outcome["reasons"] = [reason.model_dump(mode="json") for reason in self.reasons]
        return outcome


def loadable(dataset: str) -> DatasetSpec | None:
    """For the record of a refused object: its dataset's spec, if declared and its module
    loads (when it does not, the refusal's reason says so)."""
    try:
        return contract(dataset)
    except ContractUnavailable:
        return None


class Ingestion:
    def __init__(self, settings: IngestSettings, services: Services) -> None:
        self.settings = settings
        self.services = services

    # -- the decision ------------------------------------------------------------------
    def ingest(self, ref: ObjectRef, now: datetime) -> Outcome:
        dataset = dataset_of(ref.key)
        refusal = self._refusal(ref, dataset)
        if refusal is not None:
            return self._refuse(ref, dataset, now, refusal)
        try:
            data, digest = self._download(ref)
        except ObjectTooLarge as error:  # larger than its event said
            return self._refuse(ref, dataset, now, self._too_large(error.size, at_least=True))
        if not data:
            return self._refuse(ref, dataset, now, EMPTY_OBJECT)
        arrival = Arrival(ref, dataset, digest[:16], digest, now, contract(dataset))
        return self._once(arrival, lambda: self._decide(arrival, data))

    def _refusal(self, ref: ObjectRef, dataset: str) -> Reason | None:
        """Why the object is refused on its key and size alone, or None to read it."""
        unsafe: Reason | None = unsafe_key_reason(ref.key)
        if unsafe is not None:
            return unsafe
        if dataset not in declared():
            known = sorted(declared())
            if dataset == NO_DATASET:
                return Reason(
                    code="no_dataset",
                    message="the key names no dataset; drop files under <dataset>/",
                    details={"key": ref.key},
                )
            return Reason(
                code="undeclared_dataset",
                message=f"{dataset!r} is not a declared dataset "
                f"(declared: {', '.join(known) or 'none'})",
                details={"dataset": dataset, "declared": known},
            )
        try:
            contract(dataset)  # imports only the module that declares it, once
        except ContractUnavailable as error:
            return Reason(
                code="contract_unavailable", message=str(error), details={"dataset": dataset}
            )
        if ref.size > self.settings.max_object_bytes:
            return self._too_large(ref.size)
        if ref.size == 0 and ref.event_time is not None:
            # An S3 event states the size; a hand-made event without one is downloaded.
            return EMPTY_OBJECT
        return None

    def _too_large(self, size: int, at_least: bool = False) -> Reason:
        limit = self.settings.max_object_bytes
        return Reason(
            code="too_large",
            message=f"the object has {'at least ' if at_least else ''}{size} bytes; "
            f"the limit is {limit} (max_object_bytes)",
            details={"bytes": size, "at_least": at_least, "max_object_bytes": limit},
        )

    def _refuse(self, ref: ObjectRef, dataset: str, now: datetime, reason: Reason) -> Outcome:
        safe = unsafe_key_reason(ref.key) is None and SAFE_DATASET_NAME.match(dataset)
        folder = dataset if safe else UNSAFE_KEY
        declaration = declared().get(dataset)
        kind = declaration.kind if declaration else None
        arrival = Arrival(ref, folder, object_version(ref), "", now, loadable(dataset), kind)
        return self._once(arrival, lambda: self._reject(arrival, [reason], None))

    def _once(self, arrival: Arrival, work: Callable[[], Outcome]) -> Outcome:
        existing = self.services.lineage.get(arrival.dataset, arrival.version)
        if existing is not None:
            if not existing.event_published:
                self._publish(existing)
            return Outcome(
                "duplicate",
                arrival.dataset,
                arrival.version,
                list(existing.reasons),
                existing.rows,
                existing.valid_rows,
            )
        return work()

    def _decide(self, arrival: Arrival, data: Data) -> Outcome:
        spec = arrival.spec
        if spec is None:  # _refusal lets only declared datasets through
            raise ValueError(f"{arrival.dataset!r} is not a declared dataset")
        limits = self.settings.limits
        verdict = checking.check_file(data, arrival.ref.key, spec, arrival.now, limits)
        if verdict.clean is None:
            return self._reject(arrival, verdict.reasons, verdict.validation)
        return self._accept(arrival, spec, verdict.clean, verdict.validation or {})

    # -- outcomes ----------------------------------------------------------------------
    def _accept(
        self, arrival: Arrival, spec: DatasetSpec, clean: pa.Table, validation: dict[str, Any]
    ) -> Outcome:
        ref, version, now = arrival.ref, arrival.version, arrival.now
        curated = self.settings.curated_bucket
        # Partitioned by the arrival date, not the processing time, so a retry after
        # midnight rewrites the same object instead of adding a second one.
        arrived = ref.arrival_date or now.date()
        data_key = layout.data_key(spec.name, version, arrived)
        manifest_key = layout.manifest_key(spec.name, version)
        report_key = layout.report_key(spec.name, version)
        buffer = io.BytesIO()
        pq.write_table(clean, buffer, compression="zstd")
        self._put(curated, data_key, buffer.getvalue(), "application/vnd.apache.parquet")
        report = self._report(arrival, "accepted", [], validation)
        self._put_json(curated, report_key, report)
        manifest = {
            "dataset": spec.name,
            "kind": spec.kind,
            "version": version,
            "content_sha256": arrival.digest,
            "contract_version": spec.contract_version,
            "rows": clean.num_rows,
            "dropped_rows": validation.get("bad_rows", 0),
            "schema": [{"name": f.name, "type": str(f.type)} for f in clean.schema],
            "schema_changes": validation.get("schema_changes"),
            "source": self._source(ref),
            "data_uri": f"s3://{curated}/{data_key}",
            "report_uri": f"s3://{curated}/{report_key}",
            "ingested_at": now.isoformat(),
        }
        self._put_json(curated, manifest_key, manifest)
        record = DatasetVersionRecord(
            dataset=spec.name,
            version=version,
            kind=spec.kind,
            state="validated",
            rows=int(validation.get("rows", clean.num_rows)),
            valid_rows=clean.num_rows,
            content_sha256=arrival.digest,
            contract_version=spec.contract_version,
            source_bucket=ref.bucket,
            source_key=ref.key,
            source_version_id=ref.version_id,
            report_key=f"s3://{curated}/{report_key}",
            outputs={"data": manifest["data_uri"], "manifest": f"s3://{curated}/{manifest_key}"},
            created_at=now,
        )
        return self._record(record)

    def _reject(
        self, arrival: Arrival, reasons: list[Reason], validation: dict[str, Any] | None
    ) -> Outcome:
        ref, spec = arrival.ref, arrival.spec
        quarantine = self.settings.quarantine_bucket
        folder = f"{arrival.dataset}/{arrival.version}"
        original_key = f"{folder}/{file_name(ref.key)}"
        copy_source: dict[str, str] = {"Bucket": ref.bucket, "Key": ref.key}
        if ref.version_id:
            copy_source["VersionId"] = ref.version_id
        # The managed copy switches to multipart copies above CopyObject's 5 GB limit.
        self.services.s3.copy(CopySource=copy_source, Bucket=quarantine, Key=original_key)
        report = self._report(arrival, "rejected", reasons, validation)
        self._put_json(quarantine, f"{folder}/report.json", report)
        record = DatasetVersionRecord(
            dataset=arrival.dataset,
            version=arrival.version,
            kind=spec.kind if spec else arrival.kind,
            state="rejected",
            rows=int((validation or {}).get("rows", 0)),
            valid_rows=0,
            content_sha256=arrival.digest,
            contract_version=spec.contract_version if spec else None,
            source_bucket=ref.bucket,
            source_key=ref.key,
            source_version_id=ref.version_id,
            report_key=f"s3://{quarantine}/{folder}/report.json",
            outputs={"quarantined": f"s3://{quarantine}/{original_key}"},
            reasons=reasons,
            created_at=arrival.now,
        )
        return self._record(record)

    def _record(self, record: DatasetVersionRecord) -> Outcome:
        if not self.services.lineage.create(record):
            # Another delivery of the same content got there first.
            state: Literal["validated", "rejected", "duplicate"] = "duplicate"
        else:
            self._publish(record)
            state = record.state
        return Outcome(
            state,
            record.dataset,
            record.version,
            list(record.reasons),
            record.rows,
            record.valid_rows,
        )

    def _publish(self, record: DatasetVersionRecord) -> None:
        common = {
            "dataset": record.dataset,
            "kind": record.kind,
            "version": record.version,
            "contract_version": record.contract_version,
            "source_bucket": record.source_bucket,
            "source_key": record.source_key,
            "source_version_id": record.source_version_id,
            "report_uri": record.report_key,
        }
        event: DatasetValidated | DatasetRejected
        if record.state == "validated":
            event = DatasetValidated(
                **common,
                data_uri=record.outputs["data"],
                manifest_uri=record.outputs["manifest"],
                rows=record.valid_rows,
                dropped_rows=record.rows - record.valid_rows,
            )
        else:
            event = DatasetRejected(
                **common, reasons=record.reasons, quarantine_uri=record.outputs["quarantined"]
            )
        put_event(self.services.events, self.settings.event_bus_name, event)
        self.services.lineage.mark_published(record.dataset, record.version)

    # -- storage helpers -------------------------------------------------------------
    def _download(self, ref: ObjectRef) -> tuple[Data, str]:
        """(content, SHA-256), read in chunks; ObjectTooLarge past max_object_bytes.

        The event's size is not trusted alone: an object replaced since, or a hand-made
        event, could hold more than it says.
        """
        arguments: dict[str, str] = {"Bucket": ref.bucket, "Key": ref.key}
        if ref.version_id:
            arguments["VersionId"] = ref.version_id
        body = self.services.s3.get_object(**arguments)["Body"]
        limit = self.settings.max_object_bytes
        sha, data = hashlib.sha256(), bytearray()
        while chunk := body.read(DOWNLOAD_CHUNK):
            data += chunk
            if len(data) > limit:
                body.close()
                raise ObjectTooLarge(len(data))
            sha.update(chunk)
        return data, sha.hexdigest()

    def _put(self, bucket: str, key: str, body: bytes, content_type: str) -> None:
        self.services.s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)

    def _put_json(self, bucket: str, key: str, document: dict[str, Any]) -> None:
        body = json.dumps(document, indent=2, default=str).encode()
        self._put(bucket, key, body, "application/json")

    def _source(self, ref: ObjectRef) -> dict[str, Any]:
        return {"bucket": ref.bucket, "key": ref.key, "version_id": ref.version_id}

    def _report(
        self,
        arrival: Arrival,
        outcome: checking.Outcome,
        reasons: list[Reason],
        validation: dict[str, Any] | None,
    ) -> dict[str, Any]:
        return checking.report(
            dataset=arrival.dataset,
            version=arrival.version,
            outcome=outcome,
            reasons=reasons,
            source=self._source(arrival.ref),
            checked_at=arrival.now,
            validation=validation,
        )
