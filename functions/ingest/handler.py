"""Ingest function: each object created in the raw bucket -> its contract's verdict.

Thin on purpose: parse the S3 event, apply Powertools idempotency per object version
(a redelivered event returns the stored outcome instead of running again), and hand
the object to ``ingest.Ingestion``. A file too large for one invocation is routed to
the validation state machine's Processing job, which runs the same class; when that job
fails, the state machine calls this function again (a ``ValidationFailure`` payload
instead of S3 records) to quarantine the file with the job's failure as the reason.

An attempt that crashed leaves its idempotency record "in progress" until the
function's timeout has passed, longer than Lambda waits before it retries. The retry
then runs the ingestion itself: ``Ingestion`` is idempotent on its own (outputs under
the version's keys, the lineage record created once), so a duplicate running alongside
costs a download and nothing more, while a retry that gave up would lose the object.

Only what every invocation needs is imported here: the validator (pyarrow) loads with
the first file it reads, and each AWS client is created when first used.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from driftline_contracts import declared
from driftline_runtime import names
from driftline_runtime.check_limits import CheckLimits
from driftline_runtime.clients import LazyClient, lazy_table
from driftline_runtime.lineage import LineageStore
from driftline_runtime.observability import observability
from driftline_runtime.steps import step
from driftline_runtime.steps.validation import FailureRecorded, ValidationFailure
from ingest import Ingestion, IngestSettings, Services
from ingest_settings import IngestFunctionSettings
from objects import ObjectRef
from processing import ProcessingSettings, start_validation

SETTINGS = IngestFunctionSettings.from_environ()
OBS = observability("ingest")
SFN = LazyClient("stepfunctions")
PROCESSING: ProcessingSettings | None = SETTINGS.processing()
INGESTION = Ingestion(
    IngestSettings(
        curated_bucket=SETTINGS.curated_bucket,
        quarantine_bucket=SETTINGS.quarantine_bucket,
        event_bus_name=SETTINGS.event_bus_name,
        large_file_bytes=SETTINGS.large_file_bytes,
        limits=CheckLimits(
            memory_bytes=SETTINGS.validation_memory_bytes,
            max_decompressed_bytes=SETTINGS.max_decompressed_bytes,
            max_inflation_ratio=SETTINGS.max_inflation_ratio,
            max_line_bytes=SETTINGS.max_line_bytes,
        ),
        workdir=Path(SETTINGS.work_directory),
    ),
    Services(
        s3=LazyClient("s3"),
        events=LazyClient("events"),
        lineage=LineageStore(lazy_table(SETTINGS.lineage_table)),
        route=partial(start_validation, SFN, PROCESSING) if PROCESSING else None,
        log=OBS.logger,
    ),
)
IDEMPOTENCY = IdempotencyConfig(
    event_key_jmespath="[bucket, key, version_id]", expires_after_seconds=7 * 24 * 3600
)


@idempotent_function(  # type: ignore[untyped-decorator]  # Powertools ships it untyped
    data_keyword_argument="ref",
    config=IDEMPOTENCY,
    persistence_store=DynamoDBPersistenceLayer(table_name=SETTINGS.idempotency_table),
)
def ingest_object(ref: dict[str, Any]) -> dict[str, Any]:
    return run_ingestion(ref)


def run_ingestion(ref: dict[str, Any]) -> dict[str, Any]:
    outcome = INGESTION.ingest(ObjectRef(**ref), now=datetime.now(UTC))
    result: dict[str, Any] = outcome.as_dict()
    OBS.logger.info("Ingested", extra=result)
    # Counted here, once per object version: a redelivery answered from the idempotency
    # store does not count the file a second time.
    record_outcome(result)
    return result


def ingest_once(ref: dict[str, Any]) -> dict[str, Any]:
    try:
        result: dict[str, Any] = ingest_object(ref=ref)
    except IdempotencyAlreadyInProgressError:
        OBS.logger.warning("An earlier attempt is still marked in progress; ingesting anyway")
        return run_ingestion(ref)
    return result


def record_outcome(outcome: dict[str, Any]) -> None:
    """FilesIngested/FilesRejected/FilesDuplicate/FilesRoutedToProcessing and row counts,
    per dataset."""
    status, rows, valid = outcome["status"], outcome["rows"], outcome["valid_rows"]
    count = MetricUnit.Count
    values = {
        "validated": {
            names.FILES_INGESTED_METRIC: (1.0, count),
            names.ROWS_INGESTED_METRIC: (float(valid), count),
            # rows dropped under the drop_bad_rows policy
            names.ROWS_REJECTED_METRIC: (float(rows - valid), count),
        },
        "rejected": {
            names.FILES_REJECTED_METRIC: (1.0, count),
            names.ROWS_REJECTED_METRIC: (float(rows), count),
        },
        "duplicate": {names.FILES_DUPLICATE_METRIC: (1.0, count)},
        "routed": {names.FILES_ROUTED_METRIC: (1.0, count)},
    }[status]
    # Only declared datasets become dimension values: a folder name anyone can write to
    # the raw bucket must not mint new metrics.
    dataset = outcome["dataset"] if outcome["dataset"] in declared() else "_undeclared"
    OBS.record(values, {names.DATASET_DIMENSION: dataset}, {"version": outcome["version"]})


@step(ValidationFailure, FailureRecorded)
def record_failed_validation(failure: ValidationFailure, context: LambdaContext) -> FailureRecorded:
    """The validation state machine's RecordFailure step."""
    ref = ObjectRef(**failure.object.model_dump())
    OBS.logger.append_keys(correlation_id=ref.key)
    outcome = INGESTION.record_failure(
        ref,
        failure.dataset,
        failure.job_name,
        failure.error.error,
        failure.error.cause,
        datetime.now(UTC),
    )
    result = outcome.as_dict()
    OBS.logger.warning("Large file's validation job failed", extra=result)
    record_outcome(result)
    return FailureRecorded(
        status=outcome.status,
        dataset=outcome.dataset,
        version=outcome.version,
        reasons=result["reasons"],
    )


@OBS.logger.inject_lambda_context(correlation_id_path="Records[0].s3.object.key")
@OBS.tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "Records" not in event:
        return record_failed_validation(event, context)
    IDEMPOTENCY.register_lambda_context(context)
    outcomes = []
    for record in event.get("Records", []):
        ref = ObjectRef.from_record(record)
        outcome = ingest_once(asdict(ref))
        outcomes.append(outcome)
    return {"outcomes": outcomes}
