"""What SageMaker's training, transform and processing jobs share in the API.

Each kind is stored the same way (its Describe*Job response, under the lower-cased name,
in the region's ``<kind>_jobs`` table, with a stop request per ARN), so adding one,
describing, stopping and listing are one piece of code, named by ``JobKind``. What
differs is kept as SageMaker has it: the error for an unknown name (training says
ValidationException "Requested resource not found.", transform ResourceNotFound,
processing ValidationException naming the job), the summary fields of a List*Jobs
page, and what a stop records (training adds a secondary status transition).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from driftline_localcloud.sagemaker.shapes import describe, page, sort_and_filter, summary
from driftline_localcloud.sagemaker.store import (
    Description,
    RegionStore,
    SageMakerError,
    Stores,
    in_use,
    validation,
)


def mark_stopping(stores: Stores, job: Description, status_key: str) -> None:
    stores.update(job, **{status_key: "Stopping"})


@dataclass(frozen=True)
class JobKind:
    kind: str  # Training, Transform or Processing
    missing: Callable[[str], SageMakerError]  # the error for an unknown name
    summary_fields: tuple[str, ...]
    stopping: Callable[[Stores, Description, str], None] = field(default=mark_stopping)

    @property
    def name_key(self) -> str:
        return f"{self.kind}JobName"

    @property
    def status_key(self) -> str:
        return f"{self.kind}JobStatus"

    @property
    def arn_key(self) -> str:
        return f"{self.kind}JobArn"

    def jobs(self, region: RegionStore) -> dict[str, Description]:
        table: dict[str, Description] = getattr(region, f"{self.kind.lower()}_jobs")
        return table

    def add(self, stores: Stores, region: RegionStore, job: Description) -> threading.Event:
        """Stores a new job; ResourceInUse when the name is taken. Returns its stop request."""
        name, job_arn = str(job[self.name_key]).lower(), job[self.arn_key]
        stop = threading.Event()
        with stores.lock:
            if name in self.jobs(region):
                raise in_use(
                    f"{self.kind} job names must be unique within an AWS account and region, "
                    f"and a {self.kind.lower()} job with this name already exists ({job_arn})"
                )
            self.jobs(region)[name] = job
            region.stop_requests[job_arn] = stop
        return stop

    def get(self, region: RegionStore, name: str) -> Description:
        job = self.jobs(region).get(str(name).lower())
        if job is None:
            raise self.missing(str(name))
        return job

    def describe(
        self, stores: Stores, region: RegionStore, request: dict[str, Any]
    ) -> dict[str, Any]:
        job = stores.snapshot(self.get(region, request[self.name_key]))
        return describe(job, f"Describe{self.kind}Job")

    def stop(self, stores: Stores, region: RegionStore, request: dict[str, Any]) -> dict[str, Any]:
        job = self.get(region, request[self.name_key])
        with stores.lock:
            if job[self.status_key] != "InProgress":
                raise validation(
                    f"The request was rejected because the {self.kind.lower()} job is in "
                    f"status {job[self.status_key]}."
                )
            self.stopping(stores, job, self.status_key)
            region.stop_requests[job[self.arn_key]].set()
        return {}

    def list(self, stores: Stores, region: RegionStore, request: dict[str, Any]) -> dict[str, Any]:
        with stores.lock:
            jobs = sort_and_filter(
                self.jobs(region).values(), request, self.name_key, self.status_key
            )
            items, token = page([summary(job, self.summary_fields) for job in jobs], request)
        return {f"{self.kind}JobSummaries": items, **({"NextToken": token} if token else {})}
