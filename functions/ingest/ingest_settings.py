"""The ingest function's environment variables, and the Processing job's (a subset).

The job runs the function's logic with the function's own settings: the infrastructure
sets them on the function, and the function passes the job's share on as the job's
environment when it routes a file there (``JobSettings.variables``).
"""

from __future__ import annotations

from driftline_runtime.settings import FunctionSettings
from processing import ProcessingSettings

GIB = 1024 * 1024 * 1024


class JobSettings(FunctionSettings):
    """What validating a file needs, in the function and in the Processing job."""

    curated_bucket: str
    quarantine_bucket: str
    lineage_table: str
    event_bus_name: str
    # What validating one file may hold in memory (its batches and working state).
    validation_memory_bytes: int = 256 * 1024 * 1024
    # What a gzip file may inflate to, and how many times its size (past that: a bomb).
    max_decompressed_bytes: int = 1024 * GIB
    max_inflation_ratio: int = 200
    # The longest line a CSV or JSON Lines file may have.
    max_line_bytes: int = 1024 * 1024
    # Where the object is spooled while it is read.
    work_directory: str = "/tmp"  # noqa: S108  # Lambda's ephemeral storage

    def variables(self) -> dict[str, str]:
        return {name.upper(): str(value) for name, value in self.model_dump().items()}


class IngestFunctionSettings(JobSettings):
    idempotency_table: str
    # Files whose text is larger (the object, or what a gzip object inflates to) go to
    # the Processing job: what one invocation safely validates in its timeout.
    large_file_bytes: int = 4 * GIB
    # The route to the Processing job; without it a large file is quarantined (too_large).
    driftline_stage: str = "dev"
    validation_state_machine_arn: str | None = None
    processing_image_uri: str | None = None
    processing_role_arn: str | None = None
    processing_instance_type: str = "ml.m5.large"
    processing_max_runtime_seconds: int = 3600
    processing_code_bucket: str | None = None
    processing_code_key: str | None = None
    processing_key_arn: str | None = None
    # The job's share of the instance's memory for validation.
    processing_memory_bytes: int = 2 * GIB
    # Comma-separated; empty: SageMaker's own network.
    processing_subnets: str = ""
    processing_security_groups: str = ""
    aws_region: str = "us-east-1"

    def processing(self) -> ProcessingSettings | None:
        if not (
            self.validation_state_machine_arn
            and self.processing_image_uri
            and self.processing_role_arn
            and self.processing_code_bucket
            and self.processing_code_key
        ):
            return None
        job = JobSettings.model_validate(
            {
                **self.model_dump(include=set(JobSettings.model_fields)),
                "validation_memory_bytes": self.processing_memory_bytes,
                "work_directory": "/opt/ml/processing/work",
            }
        )
        return ProcessingSettings(
            stage=self.driftline_stage,
            state_machine_arn=self.validation_state_machine_arn,
            image_uri=self.processing_image_uri,
            role_arn=self.processing_role_arn,
            instance_type=self.processing_instance_type,
            max_runtime_seconds=self.processing_max_runtime_seconds,
            code_bucket=self.processing_code_bucket,
            code_key=self.processing_code_key,
            key_arn=self.processing_key_arn,
            environment={
                **job.variables(),
                "DRIFTLINE_STAGE": self.driftline_stage,
                "AWS_DEFAULT_REGION": self.aws_region,
            },
            subnets=_listed(self.processing_subnets),
            security_groups=_listed(self.processing_security_groups),
        )


def _listed(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())
