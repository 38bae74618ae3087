"""Ingestion of one raw object: its contract decides between curated data and quarantine.

A dataset version is named by the first 16 hex digits of the object's SHA-256, so the
same content always maps to the same version: a redelivered event or a re-upload of the
same file finds the version in the lineage store and creates nothing new. Outputs are
written under keys derived from the version before the lineage record is created, so a
retry after a crash rewrites the same objects; the event is published after the record,
and a retry publishes it if the record says it was not.

The object is spooled to the working folder, hashed on the way, and read from there in
batches (``driftline_runtime.checking``): memory does not grow with the file. A file
whose text is larger than ``large_file_bytes`` (the object, or what a gzip object
inflates to) is more than one invocation finishes: it is routed to a SageMaker
Processing job that runs this same class with no such limit (``processing_job.py``).

Some objects are refused on their key and size alone, never downloaded: a key with
``.``/``..`` segments or control characters, a key under no or an undeclared dataset, a
dataset whose contract module does not load (``contract_unavailable``), a zero-byte
object. Their content cannot name them, so their version is named after the object (its
URI and S3 version) instead: every such object gets its own quarantine entry, a
redelivery of its event still finds it, and the same file dropped again once its
contract loads is a new object, so it is ingested then.
"""

from __future__ import annotations

import json
import logging
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from driftline_contracts import ContractUnavailable, contract, declared
from driftline_runtime import names
from driftline_runtime.check_limits import CheckLimits
from driftline_runtime.contracts import DatasetKind, DatasetSpec
from driftline_runtime.lineage import LineageStore
from driftline_runtime.reasons import Reason
from objects import NO_DATASET, ObjectRef, dataset_of, object_version, unsafe_key_reason
from outputs import Arrival, Outputs
from spooling import ObjectTooLarge, spool_object

if TYPE_CHECKING:
    from driftline_runtime.checking import Verdict

EMPTY_OBJECT = Reason(code="empty_file", message="the object has 0 bytes", details={"bytes": 0})
Status = Literal["validated", "rejected", "duplicate", "routed"]
# Routes an object to the Processing job: (dataset, object) -> the execution's ARN.
Route = Callable[[str, ObjectRef], str]


@dataclass(frozen=True)
class IngestSettings:
    curated_bucket: str
    quarantine_bucket: str
    event_bus_name: str
    # Text larger than this goes to the Processing job (None: validate anything here).
    large_file_bytes: int | None
    limits: CheckLimits = field(default_factory=CheckLimits)
    # Where objects are spooled while they are read (the function's /tmp, the job's volume).
    workdir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))


@dataclass
class Services:
    """The AWS clients ingestion needs; tests pass moto-backed ones."""

    s3: Any
    events: Any
    lineage: LineageStore
    # How a large file reaches the Processing job (None: it is quarantined as too_large).
    route: Route | None = None
    log: Any = field(default_factory=lambda: logging.getLogger(names.INGEST_SOURCE))


@dataclass(frozen=True)
class Outcome:
    status: Status
    dataset: str
    version: str
    reasons: list[Reason] = field(default_factory=list)
    # Rows read from the file, and those that made it into the curated version.
    rows: int = 0
    valid_rows: int = 0
    # The Processing job's state machine execution, for a routed file.
    execution: str | None = None

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
        self.outputs = Outputs(
            settings.curated_bucket,
            settings.quarantine_bucket,
            settings.event_bus_name,
            services.s3,
            services.events,
            services.lineage,
        )

    # -- the decision ------------------------------------------------------------------
    def ingest(self, ref: ObjectRef, now: datetime) -> Outcome:
        dataset = dataset_of(ref.key)
        refusal = self._refusal(ref, dataset)
        if refusal is not None:
            return self._refuse(ref, dataset, now, refusal)
        limit = self.settings.large_file_bytes
        if limit is not None and ref.size > limit:
            return self._route(ref, dataset, now, ref.size)
        self.settings.workdir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.settings.workdir, prefix="ingest-") as folder:
            work = Path(folder)
            try:
                digest = spool_object(self.services.s3, ref, work / "object", limit)
            except ObjectTooLarge as error:  # larger than its event said
                return self._route(ref, dataset, now, error.size, at_least=True)
            if (work / "object").stat().st_size == 0:
                return self._refuse(ref, dataset, now, EMPTY_OBJECT)
            arrival = Arrival(ref, dataset, digest[:16], digest, now, contract(dataset))
            return self._once(arrival, lambda: self._decide(arrival, work))

    def record_failure(
        self, ref: ObjectRef, dataset: str, job: str, error: str, cause: str, now: datetime
    ) -> Outcome:
        """The Processing job that should have judged ``ref`` failed: quarantine the file
        with the job's failure as the reason, so that nothing is lost."""
        reason = Reason(
            code="validation_job_failed",
            message=f"the Processing job {job} that validates files too large for the "
            f"ingest function failed ({error}): {job_failure_reason(cause)[:500]}",
            details={"job": job, "error": error},
        )
        return self._refuse(ref, dataset, now, reason)

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
        if ref.size == 0 and ref.event_time is not None:
            # An S3 event states the size; a hand-made event without one is downloaded.
            return EMPTY_OBJECT
        return None

    def _route(
        self, ref: ObjectRef, dataset: str, now: datetime, size: int, at_least: bool = False
    ) -> Outcome:
        """Too much for one invocation: the Processing job takes it, if there is a route."""
        limit = self.settings.large_file_bytes or 0
        if self.services.route is None:
            reason = Reason(
                code="too_large",
                message=f"the object has {'at least ' if at_least else ''}{size} bytes; "
                f"the limit is {limit} and no Processing job is configured",
                details={"bytes": size, "at_least": at_least, "large_file_bytes": limit},
            )
            return self._refuse(ref, dataset, now, reason)
        execution = self.services.route(dataset, ref)
        return Outcome("routed", dataset, object_version(ref), execution=execution)

    def _refuse(self, ref: ObjectRef, dataset: str, now: datetime, reason: Reason) -> Outcome:
        arrival = Arrival.refused(ref, dataset, now, loadable(dataset))
        return self._once(
            arrival, lambda: self._record(self.outputs.reject(arrival, [reason], None))
        )

    def _once(self, arrival: Arrival, work: Callable[[], Outcome]) -> Outcome:
        existing = self.services.lineage.get(arrival.dataset, arrival.version)
        if existing is not None:
            if not existing.event_published:
                self.outputs.publish(existing)
            return Outcome(
                "duplicate",
                arrival.dataset,
                arrival.version,
                list(existing.reasons),
                existing.rows,
                existing.valid_rows,
            )
        return work()

    def _decide(self, arrival: Arrival, work: Path) -> Outcome:
        spec = arrival.spec
        if spec is None:  # _refusal lets only declared datasets through
            raise ValueError(f"{arrival.dataset!r} is not a declared dataset")
        settings = self.settings
        # The readers and the validator (pyarrow) load with the first file judged here.
        from driftline_runtime import checking
        from driftline_runtime.readers import FileSource

        try:
            verdict = checking.check_source(
                FileSource(work / "object"),
                arrival.ref.key,
                spec,
                arrival.now,
                work,
                settings.limits,
                max_text_bytes=settings.large_file_bytes,
            )
        except checking.TooMuchText as error:  # a gzip file that inflates past the limit
            return self._route(arrival.ref, arrival.dataset, arrival.now, error.size)
        except Exception as error:  # noqa: BLE001  # a fault of ours must not lose the file
            verdict = self._internal_error(arrival, error)
        if verdict.curated is None:
            return self._record(self.outputs.reject(arrival, verdict.reasons, verdict.validation))
        return self._record(self.outputs.accept(arrival, spec, verdict))

    def _internal_error(self, arrival: Arrival, error: Exception) -> Verdict:
        """An unexpected failure inside validation quarantines the file; the error id
        in the reason is in the log too, with the traceback."""
        error_id = uuid.uuid4().hex[:12]
        self.services.log.exception(
            "Validation failed unexpectedly",
            extra={"error_id": error_id, "key": arrival.ref.key, "version": arrival.version},
        )
        reason = Reason(
            code="internal_error",
            message=f"validation failed unexpectedly ({type(error).__name__}); the file was "
            f"not judged. Error id {error_id}: search the ingest logs for it",
            details={"error_id": error_id, "error": type(error).__name__},
        )
        from driftline_runtime.checking import Verdict

        return Verdict([reason], None)

    def _record(self, record: Any) -> Outcome:
        state: Status = self.outputs.record(record)
        return Outcome(
            state,
            record.dataset,
            record.version,
            list(record.reasons),
            record.rows,
            record.valid_rows,
        )


def kind_of(dataset: str) -> DatasetKind | None:
    declaration = declared().get(dataset)
    return declaration.kind if declaration else None


def job_failure_reason(cause: str) -> str:
    """SageMaker's ``FailureReason`` when ``cause`` is the failed job's description (what a
    ``.sync`` task's failure carries), else ``cause`` itself."""
    try:
        described = json.loads(cause)
    except ValueError:
        return cause
    reason = described.get("FailureReason") if isinstance(described, dict) else None
    return str(reason) if reason else cause
