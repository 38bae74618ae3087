"""The SageMaker API subset driftline uses, whichever emulator serves the wire format.

Operations are a table (operation name -> handler taking a context with ``account_id``
and ``region`` and the parsed request); MiniStack's glue
(``driftline_ministack.sagemaker_api``) parses and serializes the wire format and
answers ``SageMakerError`` with AWS's codes (ValidationException, ResourceNotFound,
ResourceInUse). Descriptions echo every request field that the matching Describe*
response has (read from the service model), plus the fields SageMaker adds; jobs run
on a thread pool so that Create*Job returns at once.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from driftline_localcloud.faults import faults
from driftline_localcloud.sagemaker.containers import Processes
from driftline_localcloud.sagemaker.endpoints import EndpointService
from driftline_localcloud.sagemaker.job_host import JobHost
from driftline_localcloud.sagemaker.jobs import JobKind
from driftline_localcloud.sagemaker.processing import ProcessingJobs
from driftline_localcloud.sagemaker.registry import ModelRegistry
from driftline_localcloud.sagemaker.serving import WarmShims
from driftline_localcloud.sagemaker.serving_host import JobServingHost
from driftline_localcloud.sagemaker.shapes import (
    Handler,
    check_name,
    describe,
    echo,
)
from driftline_localcloud.sagemaker.store import (
    Description,
    RegionStore,
    SageMakerError,
    Stores,
    arn,
    not_found,
    now,
    transition,
    validation,
)
from driftline_localcloud.sagemaker.training import TrainingRun
from driftline_localcloud.sagemaker.transform import TransformRun

# Jobs running at once; later ones wait in Starting (or InProgress) for a free slot.
MAX_CONCURRENT_JOBS = 4


def stop_training(stores: Stores, job: Description, status_key: str) -> None:
    transition(stores, job, "Stopping", "Stopping the training job", **{status_key: "Stopping"})


TRAINING = JobKind(
    "Training",
    lambda name: validation("Requested resource not found."),
    (
        "TrainingJobName",
        "TrainingJobArn",
        "CreationTime",
        "TrainingEndTime",
        "LastModifiedTime",
        "TrainingJobStatus",
        "SecondaryStatus",
    ),  # fmt: skip
    stopping=stop_training,
)
TRANSFORM = JobKind(
    "Transform",
    lambda name: not_found(f"Could not find requested job with name {name}"),
    (
        "TransformJobName",
        "TransformJobArn",
        "CreationTime",
        "TransformEndTime",
        "LastModifiedTime",
        "TransformJobStatus",
        "FailureReason",
    ),  # fmt: skip
)
TRAINING_FLAGS = (
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
)


class SageMakerProvider:
    """Operation handlers over the in-memory stores, and the pool that runs the jobs."""

    def __init__(self, host: JobHost) -> None:
        self.host = host
        self.stores = Stores()
        self.processes = Processes()
        # Serving processes kept between the transform jobs of one model.
        self.warm = WarmShims(self.processes)
        self.pool = ThreadPoolExecutor(
            max_workers=MAX_CONCURRENT_JOBS, thread_name_prefix="sagemaker-job"
        )
        self.endpoints = EndpointService(self.stores, JobServingHost(host), self.processes)

    def dispatch_table(self) -> dict[str, Handler]:
        handlers: dict[str, Handler] = {
            "CreateTrainingJob": self.create_training_job,
            "DescribeTrainingJob": self.describe_training_job,
            "StopTrainingJob": self.stop_training_job,
            "ListTrainingJobs": self.list_training_jobs,
            "CreateModel": self.create_model,
            "DescribeModel": self.describe_model,
            "DeleteModel": self.delete_model,
            "CreateTransformJob": self.create_transform_job,
            "DescribeTransformJob": self.describe_transform_job,
            "StopTransformJob": self.stop_transform_job,
            "ListTransformJobs": self.list_transform_jobs,
        }
        handlers.update(ModelRegistry(self.stores, self._events).dispatch_table())
        processing = ProcessingJobs(self.stores, self.processes, self.host, self.pool)
        handlers.update(processing.dispatch_table())
        handlers.update(self.endpoints.dispatch_table())
        return {
            operation: with_faults(operation, handler) for operation, handler in handlers.items()
        }

    def shutdown(self) -> None:
        # Job processes live in their own process groups: end them with the local cloud.
        self.endpoints.shutdown()
        self.warm.close_all()
        self.processes.kill_all()
        self.pool.shutdown(wait=False, cancel_futures=True)

    def _events(self, account: str, region: str) -> Any:
        """EventBridge of the account and region, as SageMaker itself calls it."""
        return self.host.service_events(account, region)

    def _region(self, context: Any) -> RegionStore:
        return self.stores.region(context.account_id, context.region)

    # -- training jobs -----------------------------------------------------------------
    def create_training_job(self, context: Any, request: dict[str, Any]) -> dict[str, Any]:
        name = check_name(request.get("TrainingJobName"), "trainingJobName")
        check_training_request(request)
        store = self._region(context)
        job_arn = arn(context.account_id, context.region, "training-job", name)
        moment = now()
        job: Description = {
            **echo(request, "DescribeTrainingJob"),
            "TrainingJobArn": job_arn,
            "TrainingJobStatus": "InProgress",
            "SecondaryStatus": "Starting",
            "SecondaryStatusTransitions": [
                {
                    "Status": "Starting",
                    "StartTime": moment,
                    "StatusMessage": "Launching requested ML instances",
                }
            ],
            "CreationTime": moment,
            "LastModifiedTime": moment,
            **{flag: bool(request.get(flag, False)) for flag in TRAINING_FLAGS},
            "StoppingCondition": request.get("StoppingCondition") or {"MaxRuntimeInSeconds": 86400},
        }
        stop = TRAINING.add(self.stores, store, job)
        run = TrainingRun(
            self.stores, self.processes, self.host, context.account_id, context.region, job, stop
        )
        self.pool.submit(run)
        return {"TrainingJobArn": job_arn}

    def describe_training_job(self, context: Any, request: dict[str, Any]) -> dict[str, Any]:
        return TRAINING.describe(self.stores, self._region(context), request)

    def stop_training_job(self, context: Any, request: dict[str, Any]) -> dict[str, Any]:
        return TRAINING.stop(self.stores, self._region(context), request)

    def list_training_jobs(self, context: Any, request: dict[str, Any]) -> dict[str, Any]:
        return TRAINING.list(self.stores, self._region(context), request)

    # -- models ------------------------------------------------------------------------
    def create_model(self, context: Any, request: dict[str, Any]) -> dict[str, Any]:
        name = check_name(request.get("ModelName"), "modelName")
        if not request.get("PrimaryContainer") and not request.get("Containers"):
            raise validation("Either PrimaryContainer or Containers must be specified.")
        model_arn = arn(context.account_id, context.region, "model", name)
        store = self._region(context)
        with self.stores.lock:
            if name.lower() in store.models:
                raise validation(f'Cannot create already existing model "{model_arn}".')
            store.models[name.lower()] = {
                **echo(request, "DescribeModel"),
                "ModelArn": model_arn,
                "CreationTime": now(),
                "EnableNetworkIsolation": bool(request.get("EnableNetworkIsolation", False)),
            }
        return {"ModelArn": model_arn}

    def _model(self, context: Any, name: str) -> Description:
        model = self._region(context).models.get(str(name).lower())
        if model is None:
            model_arn = arn(context.account_id, context.region, "model", str(name))
            raise validation(f'Could not find model "{model_arn}".')
        return model

    def describe_model(self, context: Any, request: dict[str, Any]) -> dict[str, Any]:
        return describe(
            self.stores.snapshot(self._model(context, request["ModelName"])), "DescribeModel"
        )

    def delete_model(self, context: Any, request: dict[str, Any]) -> dict[str, Any]:
        with self.stores.lock:
            self._model(context, request["ModelName"])
            del self._region(context).models[request["ModelName"].lower()]
        return {}

    # -- transform jobs ----------------------------------------------------------------
    def create_transform_job(self, context: Any, request: dict[str, Any]) -> dict[str, Any]:
        name = check_name(request.get("TransformJobName"), "transformJobName")
        check_transform_request(request)
        store = self._region(context)
        job_arn = arn(context.account_id, context.region, "transform-job", name)
        model = self.stores.snapshot(self._model(context, request["ModelName"]))
        job: Description = {
            **echo(request, "DescribeTransformJob"),
            "TransformJobArn": job_arn,
            "TransformJobStatus": "InProgress",
            "CreationTime": now(),
            "LastModifiedTime": now(),
            "MaxPayloadInMB": request.get("MaxPayloadInMB", 6),
            "BatchStrategy": request.get("BatchStrategy", "MultiRecord"),
        }
        stop = TRANSFORM.add(self.stores, store, job)
        run = TransformRun(
            self.stores,
            self.processes,
            self.host,
            context.account_id,
            context.region,
            job,
            model,
            stop,
            self.warm,
        )
        self.pool.submit(run)
        return {"TransformJobArn": job_arn}

    def describe_transform_job(self, context: Any, request: dict[str, Any]) -> dict[str, Any]:
        return TRANSFORM.describe(self.stores, self._region(context), request)

    def stop_transform_job(self, context: Any, request: dict[str, Any]) -> dict[str, Any]:
        return TRANSFORM.stop(self.stores, self._region(context), request)

    def list_transform_jobs(self, context: Any, request: dict[str, Any]) -> dict[str, Any]:
        return TRANSFORM.list(self.stores, self._region(context), request)


def with_faults(operation: str, handler: Handler) -> Handler:
    """``handler``, unless an armed ``sagemaker-api`` fault answers this call first."""

    def handle(context: Any, request: dict[str, Any]) -> dict[str, Any]:
        fault = faults().take("sagemaker-api", name=operation, subject=str(request))
        if fault is not None:
            raise SageMakerError(
                fault.code,
                f"Fault injected by the local cloud: {operation} answered with {fault.code}",
                fault.status,
            )
        return handler(context, request)

    return handle


# -- request checks ------------------------------------------------------------------------
def check_training_request(request: dict[str, Any]) -> None:
    algorithm = request.get("AlgorithmSpecification") or {}
    if not algorithm.get("TrainingImage"):
        raise validation(
            "AlgorithmSpecification.TrainingImage is required: the local cloud runs framework "
            "images (script mode), not built-in algorithms (AlgorithmName)."
        )
    if not (request.get("OutputDataConfig") or {}).get("S3OutputPath"):
        raise validation("OutputDataConfig.S3OutputPath is required.")
    if int((request.get("ResourceConfig") or {}).get("InstanceCount", 1)) != 1:
        raise validation("The local cloud runs training jobs on one instance (InstanceCount 1).")
    for name, value in (request.get("HyperParameters") or {}).items():
        if not isinstance(value, str):
            raise validation(f"Hyperparameter {name!r} must be a string, got {value!r}.")
    for definition in algorithm.get("MetricDefinitions") or []:
        try:
            re.compile(definition["Regex"])
        except (re.error, KeyError) as error:
            raise validation(f"Metric definition {definition!r} is not valid: {error}") from None


def check_transform_request(request: dict[str, Any]) -> None:
    source = ((request.get("TransformInput") or {}).get("DataSource") or {}).get("S3DataSource")
    if not source or not source.get("S3Uri"):
        raise validation("TransformInput.DataSource.S3DataSource.S3Uri is required.")
    if not (request.get("TransformOutput") or {}).get("S3OutputPath"):
        raise validation("TransformOutput.S3OutputPath is required.")
    processing = request.get("DataProcessing") or {}
    if any(processing.get(key, default) != default for key, default in DATA_PROCESSING_DEFAULTS):
        raise validation("DataProcessing (input/output filters, joins) is not supported locally.")
    if request.get("MaxPayloadInMB", 6) > 100:
        raise validation("MaxPayloadInMB must be at most 100.")


DATA_PROCESSING_DEFAULTS = (("InputFilter", "$"), ("OutputFilter", "$"), ("JoinSource", "None"))
