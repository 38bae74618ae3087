"""What an ingestion leaves behind: curated data with its manifest and report, or the
quarantined original with its report; the lineage record; the event on the bus."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from driftline_contracts import declared
from driftline_runtime import layout, reports
from driftline_runtime.contracts import DatasetKind, DatasetSpec
from driftline_runtime.events import DatasetRejected, DatasetValidated, put_event
from driftline_runtime.lineage import DatasetVersionRecord, LineageStore
from driftline_runtime.reasons import Reason
from objects import (
    SAFE_DATASET_NAME,
    UNSAFE_KEY,
    ObjectRef,
    file_name,
    object_version,
    unsafe_key_reason,
)
from spooling import upload

if TYPE_CHECKING:
    from driftline_runtime.checking import Verdict


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

    @classmethod
    def refused(
        cls, ref: ObjectRef, dataset: str, now: datetime, spec: DatasetSpec | None
    ) -> Arrival:
        """An object refused unread: filed under its dataset if that name is safe, and
        named after the object, not its content."""
        safe = unsafe_key_reason(ref.key) is None and SAFE_DATASET_NAME.match(dataset)
        folder = dataset if safe else UNSAFE_KEY
        declaration = declared().get(dataset)
        kind = declaration.kind if declaration else None
        return cls(ref, folder, object_version(ref), "", now, spec, kind)


class Outputs:
    def __init__(
        self,
        curated: str,
        quarantine: str,
        bus: str,
        s3: Any,
        events: Any,
        lineage: LineageStore,
    ) -> None:
        self.curated, self.quarantine, self.bus = curated, quarantine, bus
        self.s3, self.events, self.lineage = s3, events, lineage

    def accept(self, arrival: Arrival, spec: DatasetSpec, verdict: Verdict) -> DatasetVersionRecord:
        ref, version, now = arrival.ref, arrival.version, arrival.now
        validation = verdict.validation or {}
        assert verdict.curated is not None
        # Partitioned by the arrival date, not the processing time, so a retry after
        # midnight rewrites the same object instead of adding a second one.
        arrived = ref.arrival_date or now.date()
        data_key = layout.data_key(spec.name, version, arrived)
        manifest_key = layout.manifest_key(spec.name, version)
        report_key = layout.report_key(spec.name, version)
        upload(self.s3, verdict.curated, self.curated, data_key, "application/vnd.apache.parquet")
        self._put_json(self.curated, report_key, self._report(arrival, "accepted", [], validation))
        manifest = {
            "dataset": spec.name,
            "kind": spec.kind,
            "version": version,
            "content_sha256": arrival.digest,
            "contract_version": spec.contract_version,
            "rows": verdict.valid_rows,
            "dropped_rows": validation.get("bad_rows", 0),
            "schema": _schema(verdict),
            "schema_changes": validation.get("schema_changes"),
            # Accepted, recorded and left out of the curated data (see DeclaredOnly).
            "dropped_columns": validation.get("dropped_columns", []),
            "source": _source(ref),
            "data_uri": f"s3://{self.curated}/{data_key}",
            "report_uri": f"s3://{self.curated}/{report_key}",
            "ingested_at": now.isoformat(),
        }
        self._put_json(self.curated, manifest_key, manifest)
        return DatasetVersionRecord(
            dataset=spec.name,
            version=version,
            kind=spec.kind,
            state="validated",
            rows=verdict.rows,
            valid_rows=verdict.valid_rows,
            content_sha256=arrival.digest,
            contract_version=spec.contract_version,
            source_bucket=ref.bucket,
            source_key=ref.key,
            source_version_id=ref.version_id,
            report_key=f"s3://{self.curated}/{report_key}",
            outputs={
                "data": manifest["data_uri"],
                "manifest": f"s3://{self.curated}/{manifest_key}",
            },
            created_at=now,
        )

    def reject(
        self, arrival: Arrival, reasons: list[Reason], validation: dict[str, Any] | None
    ) -> DatasetVersionRecord:
        ref, spec = arrival.ref, arrival.spec
        folder = f"{arrival.dataset}/{arrival.version}"
        original_key = f"{folder}/{file_name(ref.key)}"
        copy_source: dict[str, str] = {"Bucket": ref.bucket, "Key": ref.key}
        if ref.version_id:
            copy_source["VersionId"] = ref.version_id
        # The managed copy switches to multipart copies above CopyObject's 5 GB limit.
        self.s3.copy(CopySource=copy_source, Bucket=self.quarantine, Key=original_key)
        report = self._report(arrival, "rejected", reasons, validation)
        self._put_json(self.quarantine, f"{folder}/report.json", report)
        return DatasetVersionRecord(
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
            report_key=f"s3://{self.quarantine}/{folder}/report.json",
            outputs={"quarantined": f"s3://{self.quarantine}/{original_key}"},
            reasons=reasons,
            created_at=arrival.now,
        )

    def record(self, record: DatasetVersionRecord) -> Literal["validated", "rejected", "duplicate"]:
        """Create the lineage record and publish its event; "duplicate" if another
        delivery of the same content got there first."""
        if not self.lineage.create(record):
            return "duplicate"
        self.publish(record)
        return record.state

    def publish(self, record: DatasetVersionRecord) -> None:
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
        put_event(self.events, self.bus, event)
        self.lineage.mark_published(record.dataset, record.version)

    def _put_json(self, bucket: str, key: str, document: dict[str, Any]) -> None:
        body = json.dumps(document, indent=2, default=str).encode()
        self.s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")

    def _report(
        self,
        arrival: Arrival,
        outcome: reports.Outcome,
        reasons: list[Reason],
        validation: dict[str, Any] | None,
    ) -> dict[str, Any]:
        return reports.report(
            dataset=arrival.dataset,
            version=arrival.version,
            outcome=outcome,
            reasons=reasons,
            source=_source(arrival.ref),
            checked_at=arrival.now,
            validation=validation,
        )


def _source(ref: ObjectRef) -> dict[str, Any]:
    return {"bucket": ref.bucket, "key": ref.key, "version_id": ref.version_id}


def _schema(verdict: Verdict) -> list[dict[str, str]]:
    """The curated file's columns, read from its footer."""
    import pyarrow.parquet as pq

    assert verdict.curated is not None
    schema = pq.read_schema(verdict.curated)
    return [{"name": field.name, "type": str(field.type)} for field in schema]
