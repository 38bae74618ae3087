"""SageMaker Processing jobs: Create, Describe, Stop and List, run by ``ProcessingRun``.

The operations share the provider's stores, job processes and thread pool with training
and transform jobs; a job is stored as its DescribeProcessingJob response. Requests the
local cloud cannot run as SageMaker would are refused at creation with a
ValidationException that says why: a cluster of more than one instance, inputs other
than S3 (Athena, Redshift), local paths outside ``/opt/ml/processing/``, or an entry
point that is not a Python interpreter (the image's default entry point needs the image).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from driftline_localcloud.sagemaker.containers import Processes
from driftline_localcloud.sagemaker.job_host import JobHost
from driftline_localcloud.sagemaker.jobs import JobKind
from driftline_localcloud.sagemaker.processing_run import (
    INTERPRETERS,
    PROCESSING_ROOT,
    ProcessingRun,
)
from driftline_localcloud.sagemaker.shapes import (
    Handler,
    check_name,
    echo,
)
from driftline_localcloud.sagemaker.store import (
    Description,
    RegionStore,
    Stores,
    arn,
    now,
    validation,
)

PROCESSING = JobKind(
    "Processing",
    lambda name: validation(f"Could not find requested job with name {name}"),
    (
        "ProcessingJobName",
        "ProcessingJobArn",
        "CreationTime",
        "ProcessingEndTime",
        "LastModifiedTime",
        "ProcessingJobStatus",
        "FailureReason",
        "ExitMessage",
    ),  # fmt: skip
)


class ProcessingJobs:
    def __init__(
        self, stores: Stores, processes: Processes, host: JobHost, pool: ThreadPoolExecutor
    ) -> None:
        self.stores, self.processes, self.host, self.pool = stores, processes, host, pool

    def dispatch_table(self) -> dict[str, Handler]:
        return {
            "CreateProcessingJob": self.create_processing_job,
            "DescribeProcessingJob": self.describe_processing_job,
            "StopProcessingJob": self.stop_processing_job,
            "ListProcessingJobs": self.list_processing_jobs,
        }

    def _region(self, context: Any) -> RegionStore:
        return self.stores.region(context.account_id, context.region)

    def create_processing_job(self, context: Any, request: dict[str, Any]) -> dict[str, Any]:
        name = check_name(request.get("ProcessingJobName"), "processingJobName")
        check_processing_request(request)
        store = self._region(context)
        job_arn = arn(context.account_id, context.region, "processing-job", name)
        moment = now()
        job: Description = {
            **echo(request, "DescribeProcessingJob"),
            "ProcessingJobArn": job_arn,
            "ProcessingJobStatus": "InProgress",
            "CreationTime": moment,
            "LastModifiedTime": moment,
        }
        stop = PROCESSING.add(self.stores, store, job)
        run = ProcessingRun(
            self.stores, self.processes, self.host, context.account_id, context.region, job, stop
        )
        self.pool.submit(run)
        return {"ProcessingJobArn": job_arn}

    def describe_processing_job(self, context: Any, request: dict[str, Any]) -> dict[str, Any]:
        return PROCESSING.describe(self.stores, self._region(context), request)

    def stop_processing_job(self, context: Any, request: dict[str, Any]) -> dict[str, Any]:
        return PROCESSING.stop(self.stores, self._region(context), request)

    def list_processing_jobs(self, context: Any, request: dict[str, Any]) -> dict[str, Any]:
        return PROCESSING.list(self.stores, self._region(context), request)


def check_processing_request(request: dict[str, Any]) -> None:
    cluster = (request.get("ProcessingResources") or {}).get("ClusterConfig") or {}
    if int(cluster.get("InstanceCount", 1)) != 1:
        raise validation("The local cloud runs processing jobs on one instance (InstanceCount 1).")
    app = request.get("AppSpecification") or {}
    if not app.get("ImageUri"):
        raise validation("AppSpecification.ImageUri is required.")
    entrypoint = app.get("ContainerEntrypoint") or []
    if not entrypoint or entrypoint[0].rsplit("/", 1)[-1] not in INTERPRETERS:
        raise validation(
            "The local cloud runs processing jobs without containers: "
            "AppSpecification.ContainerEntrypoint must start with a Python interpreter "
            f"({', '.join(INTERPRETERS)}), got {entrypoint!r}."
        )
    paths = [
        *(
            (item.get("S3Input") or {}).get("LocalPath", "")
            for item in request.get("ProcessingInputs") or []
        ),
        *(
            (item.get("S3Output") or {}).get("LocalPath", "")
            for item in (request.get("ProcessingOutputConfig") or {}).get("Outputs") or []
        ),
    ]
    for item in request.get("ProcessingInputs") or []:
        if "S3Input" not in item:
            raise validation(
                f"Processing input {item.get('InputName')!r}: only S3Input is supported locally."
            )
    for path in paths:
        if not path.startswith(PROCESSING_ROOT):
            raise validation(f"LocalPath {path!r} must be under {PROCESSING_ROOT}.")
