"""The SageMaker Processing job's entry point: the ingest function's logic on one object
too large for the function.

The job's environment holds the function's settings (``ingest_settings.JobSettings``) and
the object (``DRIFTLINE_OBJECT``). It spools the object to the job's volume, validates
it batch by batch and writes the curated data, manifest, report, lineage record and
event exactly as the function would, since it is the same ``Ingestion``; it only has no
size above which it would send the file elsewhere. A failure it cannot quarantine
itself (S3 or DynamoDB refusing) fails the job: its message goes to
``/opt/ml/output/message`` (``DRIFTLINE_JOB_MESSAGE``), where SageMaker takes the job's
failure reason from, and the state machine then quarantines the file through the function.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path

import boto3
from driftline_runtime import names
from driftline_runtime.check_limits import CheckLimits
from driftline_runtime.lineage import LineageStore
from driftline_runtime.steps.validation import RoutedObject
from ingest import Ingestion, IngestSettings, Services
from ingest_settings import JobSettings
from objects import ObjectRef
from processing import MESSAGE_PATH, MESSAGE_VARIABLE, OBJECT_VARIABLE

LOG = logging.getLogger(names.INGEST_SOURCE)


def run() -> dict[str, object]:
    settings = JobSettings.from_environ()
    routed = RoutedObject.model_validate_json(os.environ[OBJECT_VARIABLE])
    ref = ObjectRef(**routed.model_dump())
    ingestion = Ingestion(
        IngestSettings(
            curated_bucket=settings.curated_bucket,
            quarantine_bucket=settings.quarantine_bucket,
            event_bus_name=settings.event_bus_name,
            large_file_bytes=None,
            limits=CheckLimits(
                memory_bytes=settings.validation_memory_bytes,
                max_decompressed_bytes=settings.max_decompressed_bytes,
                max_inflation_ratio=settings.max_inflation_ratio,
                max_line_bytes=settings.max_line_bytes,
            ),
            workdir=Path(settings.work_directory),
        ),
        Services(
            s3=boto3.client("s3"),
            events=boto3.client("events"),
            lineage=LineageStore(boto3.resource("dynamodb").Table(settings.lineage_table)),
            log=LOG,
        ),
    )
    LOG.info("Validating s3://%s/%s (%d bytes)", ref.bucket, ref.key, ref.size)
    outcome: dict[str, object] = ingestion.ingest(ref, now=datetime.now(UTC)).as_dict()
    return outcome


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        outcome = run()
    except Exception as error:
        LOG.error("The validation job failed:\n%s", traceback.format_exc())
        message = Path(os.environ.get(MESSAGE_VARIABLE, MESSAGE_PATH))
        try:
            message.parent.mkdir(parents=True, exist_ok=True)
            message.write_text(f"{type(error).__name__}: {error}"[:1000])
        except OSError:
            pass  # the log has it
        return 1
    LOG.info("Ingested %s", json.dumps(outcome))
    return 0


if __name__ == "__main__":
    sys.exit(main())
