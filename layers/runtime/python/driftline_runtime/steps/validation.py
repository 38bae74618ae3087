"""The large-file validation state machine's steps (``state_machines/validation.asl.json``).

A file above the stage's ``large_file_threshold_mib`` is too much for one Lambda
invocation: the ingest function starts this state machine instead of reading it, with
the whole ``CreateProcessingJob`` request built (:class:`LargeFileValidation`). The
Processing job runs the ingest function's own logic (``functions/ingest``) on SageMaker's
PyTorch CPU image (``infra.constructs.large_files``): it writes the curated data,
manifest, report, lineage and the event itself, exactly as the function would have. If
the job fails, the function is called again to quarantine the file with the job's
failure as the reason.

execution input: LargeFileValidation
Validate       LargeFileValidation.request -> ProcessingJob            at $.job
               (failed: the job's error at $.error)
RecordFailure  ValidationFailure           -> FailureRecorded          at $.failure.result
               (failed: its error at $.record_error)
PublishValidationFailed                    ValidationFailed (driftline_runtime.events)

An execution whose job failed ends failed (``ValidationJobFailed`` once the file is
quarantined, ``ValidationFailed`` when it could not be), so the stage's failed-execution
alarm sees it even though the file itself is accounted for.
"""

from __future__ import annotations

from pydantic import Field

from driftline_runtime.steps import AwsAnswer, JobNetwork, LambdaResult, StepError, StepModel, Tag


class RoutedObject(StepModel):
    """The raw object, as its S3 event named it."""

    bucket: str
    key: str
    version_id: str | None = None
    size: int
    event_time: str | None = None


# -- CreateProcessingJob, as the ingest function builds it --------------------------------
class ProcessingS3Input(StepModel):
    S3Uri: str
    LocalPath: str
    S3DataType: str = "S3Prefix"
    S3InputMode: str = "File"


class ProcessingInput(StepModel):
    InputName: str
    S3Input: ProcessingS3Input


class ProcessingCluster(StepModel):
    InstanceCount: int = 1
    InstanceType: str
    VolumeSizeInGB: int = Field(ge=1, le=16_384)
    VolumeKmsKeyId: str | None = None


class ProcessingResources(StepModel):
    ClusterConfig: ProcessingCluster


class ProcessingApp(StepModel):
    ImageUri: str
    ContainerEntrypoint: list[str]
    ContainerArguments: list[str] | None = None


class ProcessingStop(StepModel):
    MaxRuntimeInSeconds: int = Field(ge=1, le=432_000)


class ProcessingNetwork(StepModel):
    VpcConfig: JobNetwork


class CreateProcessingJobRequest(StepModel):
    ProcessingJobName: str = Field(pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
    ProcessingInputs: list[ProcessingInput]
    ProcessingResources: ProcessingResources
    AppSpecification: ProcessingApp
    Environment: dict[str, str]
    StoppingCondition: ProcessingStop
    RoleArn: str
    NetworkConfig: ProcessingNetwork | None = None
    Tags: list[Tag] = []


# -- the execution ---------------------------------------------------------------------
class LargeFileValidation(StepModel):
    """The execution input: the object and the job that validates it."""

    dataset: str
    object: RoutedObject
    request: CreateProcessingJobRequest


class ProcessingJob(AwsAnswer):
    """What ``createProcessingJob.sync`` leaves: the job's description."""

    ProcessingJobName: str
    ProcessingJobStatus: str


class ValidationFailure(StepModel):
    """RecordFailure's input: the job did not finish, the file must not be lost."""

    dataset: str
    object: RoutedObject
    job_name: str
    execution: str
    error: StepError


class FailureRecorded(StepModel):
    """What became of the file: quarantined (or found already judged)."""

    status: str
    dataset: str
    version: str
    reasons: list[dict[str, object]] = []


class ValidationState(StepModel):
    """What a finished execution leaves, as ``driftline status`` reads it."""

    dataset: str
    object: RoutedObject
    request: CreateProcessingJobRequest
    job: ProcessingJob | None = None
    error: StepError | None = None
    failure: LambdaResult[FailureRecorded] | None = None
    record_error: StepError | None = None
