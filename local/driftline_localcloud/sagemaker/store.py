"""SageMaker's state in memory: jobs, models and the model registry, per account and region.

The provider keeps this itself instead of using moto's SageMaker backend: moto marks a
job Completed the moment it is created and owns its fields, while here the process
running a job drives its status, secondary statuses, metrics and artifacts. Each
resource is stored as its Describe* response (the one source of truth, answered as a
copy), and one lock guards them all: requests and job threads update them concurrently.
"""

from __future__ import annotations

import copy
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Description = dict[str, Any]


class SageMakerError(Exception):
    """An API error in SageMaker's terms; MiniStack's glue answers it in its wire format."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def now() -> datetime:
    return datetime.now(UTC)


def validation(message: str) -> SageMakerError:
    return SageMakerError("ValidationException", message)


def in_use(message: str) -> SageMakerError:
    return SageMakerError("ResourceInUse", message)


def not_found(message: str) -> SageMakerError:
    return SageMakerError("ResourceNotFound", message)


def arn(account: str, region: str, kind: str, name: str) -> str:
    """SageMaker's ARNs carry resource names in lower case."""
    return f"arn:aws:sagemaker:{region}:{account}:{kind}/{name.lower()}"


@dataclass
class RegionStore:
    training_jobs: dict[str, Description] = field(default_factory=dict)
    transform_jobs: dict[str, Description] = field(default_factory=dict)
    processing_jobs: dict[str, Description] = field(default_factory=dict)
    models: dict[str, Description] = field(default_factory=dict)
    endpoint_configs: dict[str, Description] = field(default_factory=dict)
    endpoints: dict[str, Description] = field(default_factory=dict)
    package_groups: dict[str, Description] = field(default_factory=dict)
    # group key -> its packages, version 1 first
    packages: dict[str, list[Description]] = field(default_factory=lambda: defaultdict(list))
    # job ARN -> set when StopTrainingJob/StopTransformJob/StopProcessingJob asks it to stop
    stop_requests: dict[str, threading.Event] = field(default_factory=dict)

    def fail_interrupted_jobs(self) -> None:
        """A job that ran when the local cloud stopped lost its process: it is failed (its
        model, if written, stays in S3), as SageMaker fails a job whose instance is lost."""
        for jobs, status in (
            (self.training_jobs, "TrainingJobStatus"),
            (self.transform_jobs, "TransformJobStatus"),
            (self.processing_jobs, "ProcessingJobStatus"),
        ):
            for job in jobs.values():
                if job.get(status) in ("InProgress", "Stopping"):
                    job[status] = "Failed"
                    job["FailureReason"] = (
                        "InternalServerError: the local cloud stopped while the job ran"
                    )


class Stores:
    """All regions' state behind one re-entrant lock."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.regions: dict[tuple[str, str], RegionStore] = defaultdict(RegionStore)

    def region(self, account: str, region: str) -> RegionStore:
        with self.lock:
            return self.regions[(account, region)]

    def update(self, description: Description, **fields: Any) -> None:
        """Sets fields of a stored description (None removes one) and LastModifiedTime."""
        with self.lock:
            for key, value in fields.items():
                if value is None:
                    description.pop(key, None)
                else:
                    description[key] = value
            description["LastModifiedTime"] = now()

    def snapshot(self, description: Description) -> Description:
        with self.lock:
            return copy.deepcopy(description)

    def clear(self) -> None:
        with self.lock:
            self.regions.clear()

    def dump(self) -> dict[str, Any]:
        """Every region's resources as JSON-ready data (timestamps tagged), for MiniStack's
        persistence, which saves JSON. Stop requests are not state: they belong to the
        running job threads."""
        with self.lock:
            regions = [
                {
                    "account": account,
                    "region": region,
                    **{kind: _tagged(getattr(store, kind)) for kind in STORED},
                }
                for (account, region), store in self.regions.items()
            ]
        return {"version": 1, "regions": regions}

    def restore(self, document: dict[str, Any]) -> None:
        """Loads what ``dump`` wrote; a field written by an older version that lacked it
        starts empty, and jobs that were running are failed."""
        if document.get("version") != 1:
            raise ValueError(f"unknown SageMaker state version {document.get('version')!r}")
        with self.lock:
            for entry in document["regions"]:
                store = self.regions[(entry["account"], entry["region"])]
                for kind in STORED:
                    getattr(store, kind).update(_untagged(entry.get(kind) or {}))
                store.fail_interrupted_jobs()


# The RegionStore fields a restart keeps (all but the live jobs' stop requests).
STORED = (
    "training_jobs",
    "transform_jobs",
    "processing_jobs",
    "models",
    "endpoint_configs",
    "endpoints",
    "package_groups",
    "packages",
)
TIMESTAMP = "__timestamp__"


def _tagged(value: Any) -> Any:
    if isinstance(value, datetime):
        return {TIMESTAMP: value.isoformat()}
    if isinstance(value, dict):
        return {key: _tagged(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_tagged(item) for item in value]
    return value


def _untagged(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {TIMESTAMP}:
            return datetime.fromisoformat(value[TIMESTAMP])
        return {key: _untagged(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_untagged(item) for item in value]
    return value


def transition(stores: Stores, job: Description, status: str, message: str, **fields: Any) -> None:
    """A job's new secondary status (SecondaryStatusTransitions); the previous one ends now."""
    with stores.lock:
        moment = now()
        transitions = job.setdefault("SecondaryStatusTransitions", [])
        if transitions:
            transitions[-1].setdefault("EndTime", moment)
        transitions.append({"Status": status, "StartTime": moment, "StatusMessage": message})
        stores.update(job, SecondaryStatus=status, **fields)
