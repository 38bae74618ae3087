"""Where a SageMaker job runs and how it reaches the local cloud: the ``JobHost``.

The provider is handed a ``JobHost`` (MiniStack's is
``driftline_ministack.sagemaker_api.MiniStackJobHost``) that says where the gateway is,
where job folders go and which credentials a job's calls carry (by default the
account's test credentials; with IAM enforced, the job's role's). ``JobRun`` is what
the training, transform and processing runs share on top of it: the job, its stores,
its stop flag, and clients, logs and a process environment as the job's role.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from driftline_localcloud.sagemaker.containers import LogStream, Processes
from driftline_localcloud.sagemaker.store import Description, Stores

# AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and (for a role's session) AWS_SESSION_TOKEN.
Credentials = dict[str, str]


class JobHost:
    """Where jobs run and how they reach the local cloud.

    ``credentials`` is what a job's calls (and the runner's on its behalf) are signed
    with: by default the account's test credentials, so that the local cloud puts them
    in the right account. MiniStack's host signs them as the job's role when IAM is
    enforced.
    """

    def __init__(self, endpoint: str, work_root: Path) -> None:
        self.endpoint = endpoint
        self.work_root = work_root

    def credentials(self, account: str, role_arn: str | None) -> Credentials:
        return {"AWS_ACCESS_KEY_ID": account, "AWS_SECRET_ACCESS_KEY": "test"}

    def service_events(self, account: str, region: str) -> Any:
        """EventBridge as SageMaker itself puts its events (source ``aws.sagemaker``),
        which no caller's credentials may: MiniStack's host puts them in-process;
        this default is the account's client."""
        return self.client("events", account, region, None)

    def client(self, service: str, account: str, region: str, role_arn: str | None) -> Any:
        return self.client_with(service, region, self.credentials(account, role_arn))

    def client_with(self, service: str, region: str, keys: Credentials) -> Any:
        """A client of the local cloud signed with ``keys``."""
        return boto3.session.Session().client(
            service,
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=keys.get("AWS_SESSION_TOKEN"),
            config=Config(s3={"addressing_style": "path"}, retries={"mode": "standard"}),
        )


def job_root(host: JobHost, kind: str, name: str) -> Path:
    """A fresh folder for one job under the host's work folder."""
    root = host.work_root / kind / f"{name}-{time.time_ns()}"
    root.mkdir(parents=True)
    return root


def base_environment(host: JobHost, python: Path, region: str, keys: Credentials) -> dict[str, str]:
    """What every job's process sees besides its own variables: no host secrets."""
    return {
        "PATH": f"{python.parent}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": str(host.work_root),
        "PYTHONUNBUFFERED": "TRUE",  # as SageMaker's framework images set it
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        **keys,
        "AWS_ENDPOINT_URL": host.endpoint,
    }


class JobRun:
    """What a training and a transform run share: the job, its stores and its stop flag."""

    name_field: str = ""

    def __init__(
        self,
        stores: Stores,
        processes: Processes,
        host: JobHost,
        account: str,
        region: str,
        job: Description,
        stop: threading.Event,
    ) -> None:
        self.stores, self.processes, self.host = stores, processes, host
        self.account, self.region = account, region
        self.job, self.stop = job, stop
        self.spec = stores.snapshot(job)
        self.name: str = self.spec[self.name_field]
        self.logs: LogStream | None = None

    @property
    def role_arn(self) -> str | None:
        """The role the job's calls are made as (a transform job: its model's)."""
        role: str | None = self.spec.get("RoleArn")
        return role

    def client(self, service: str) -> Any:
        return self.host.client(service, self.account, self.region, self.role_arn)

    def log_stream(self, group: str, stream: str) -> LogStream:
        return LogStream(self.client("logs"), group, stream)

    def environment(self, python: Path) -> dict[str, str]:
        keys = self.host.credentials(self.account, self.role_arn)
        return base_environment(self.host, python, self.region, keys)
