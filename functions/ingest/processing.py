"""The route past Lambda: a file too large for one invocation goes to a SageMaker
Processing job, started through the validation state machine.

The function builds the whole ``CreateProcessingJob`` request (the state machine passes
it on as it is): SageMaker's PyTorch CPU image (CPython 3.13 and boto3), the validator
bundle as the job's code input (``infra.validation_bundle``: the runtime library, the
contracts, this function's logic and the dependency layer's cp313 wheels, as a zip
application that unpacks itself), the ingest function's own settings as the job's
environment, and a volume large enough to spool the object and what validating it
writes. Names are derived from
the object and its S3 version, so a redelivered event starts nothing new.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from driftline_runtime import names
from driftline_runtime.steps import JobNetwork, Tag
from driftline_runtime.steps.validation import (
    CreateProcessingJobRequest,
    LargeFileValidation,
    ProcessingApp,
    ProcessingCluster,
    ProcessingInput,
    ProcessingNetwork,
    ProcessingResources,
    ProcessingS3Input,
    ProcessingStop,
    RoutedObject,
)
from objects import ObjectRef, object_version

GIB = 1024**3
# Where the job finds its code and what it runs (the bundle is a Python zip application).
CODE_PATH = "/opt/ml/processing/input/code"
# The volume holds the spooled object, the curated Parquet (and a rewrite of it), the
# unique key's spill and, for .parquet.gz, the inflated file: four times the object.
VOLUME_FACTOR = 4
VOLUME_SPARE_GB = 2
# The environment variable that names the object to validate.
OBJECT_VARIABLE = "DRIFTLINE_OBJECT"
# Where the job writes why it failed: SageMaker reads it as the job's exit message. Passed
# as a setting, not assumed, so a runner that maps /opt/ml elsewhere can say where.
MESSAGE_VARIABLE = "DRIFTLINE_JOB_MESSAGE"
MESSAGE_PATH = "/opt/ml/output/message"


@dataclass(frozen=True)
class ProcessingSettings:
    stage: str
    state_machine_arn: str
    image_uri: str
    role_arn: str
    instance_type: str
    max_runtime_seconds: int
    code_bucket: str
    code_key: str
    key_arn: str | None
    # The job's settings: the same variables the ingest function reads.
    environment: dict[str, str]
    subnets: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()

    @property
    def entrypoint(self) -> list[str]:
        return ["python3", f"{CODE_PATH}/{self.code_key.rsplit('/', 1)[-1]}"]


def validation_request(
    settings: ProcessingSettings, dataset: str, ref: ObjectRef
) -> LargeFileValidation:
    routed = RoutedObject(
        bucket=ref.bucket,
        key=ref.key,
        version_id=ref.version_id,
        size=ref.size,
        event_time=ref.event_time,
    )
    volume = min(16_384, math.ceil(VOLUME_FACTOR * ref.size / GIB) + VOLUME_SPARE_GB)
    network = None
    if settings.subnets:
        network = ProcessingNetwork(
            VpcConfig=JobNetwork(
                SecurityGroupIds=list(settings.security_groups), Subnets=list(settings.subnets)
            )
        )
    request = CreateProcessingJobRequest(
        ProcessingJobName=names.validation_job_name(settings.stage, dataset, object_version(ref)),
        ProcessingInputs=[
            ProcessingInput(
                InputName="code",
                S3Input=ProcessingS3Input(
                    S3Uri=f"s3://{settings.code_bucket}/{settings.code_key}", LocalPath=CODE_PATH
                ),
            )
        ],
        ProcessingResources=ProcessingResources(
            ClusterConfig=ProcessingCluster(
                InstanceType=settings.instance_type,
                VolumeSizeInGB=volume,
                VolumeKmsKeyId=settings.key_arn,
            )
        ),
        AppSpecification=ProcessingApp(
            ImageUri=settings.image_uri, ContainerEntrypoint=settings.entrypoint
        ),
        Environment={
            **settings.environment,
            OBJECT_VARIABLE: routed.model_dump_json(exclude_none=True),
            MESSAGE_VARIABLE: MESSAGE_PATH,
        },
        StoppingCondition=ProcessingStop(MaxRuntimeInSeconds=settings.max_runtime_seconds),
        RoleArn=settings.role_arn,
        NetworkConfig=network,
        Tags=[
            Tag(Key=names.PROJECT_TAG, Value=names.PROJECT),
            Tag(Key=names.STAGE_TAG, Value=settings.stage),
        ],
    )
    return LargeFileValidation(dataset=dataset, object=routed, request=request)


def start_validation(sfn: Any, settings: ProcessingSettings, dataset: str, ref: ObjectRef) -> str:
    """Start the validation state machine for ``ref``; the execution's ARN. Starting it
    again for the same object returns the same execution (or finds it finished)."""
    validation = validation_request(settings, dataset, ref)
    name = f"validate-{object_version(ref)}"
    document = validation.model_dump(mode="json", exclude_none=True)
    try:
        response = sfn.start_execution(
            stateMachineArn=settings.state_machine_arn, name=name, input=json.dumps(document)
        )
    except sfn.exceptions.ExecutionAlreadyExists:
        # A redelivery after the execution finished: the lineage has its outcome.
        arn = settings.state_machine_arn.replace(":stateMachine:", ":execution:")
        return f"{arn}:{name}"
    return str(response["executionArn"])
