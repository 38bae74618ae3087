"""What endpoints need from the local cloud, over the provider's ``JobHost``.

Endpoints are served by ``endpoint_serving``, which knows no emulator; their
S3, CloudWatch Logs and metrics calls and their alarms reach the local cloud through
its gateway like a job's, signed with the model's execution role where SageMaker's
containers would act as it, and with the account's own credentials for what
SageMaker itself does (metrics, alarm reads, log delivery).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from driftline_localcloud.sagemaker.containers import LogStream
from driftline_localcloud.sagemaker.job_host import Credentials, JobHost, base_environment, job_root


class JobServingHost:
    """``ServingHost`` (``endpoint_serving``) over a ``JobHost``."""

    def __init__(self, host: JobHost) -> None:
        self.host = host
        # SageMaker's own clients per service, account and region: metrics go out every
        # second and alarms are read every few while a deployment is watched.
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._lock = threading.Lock()

    def _own(self, service: str, account: str, region: str) -> Any:
        key = (service, account, region)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self.host.client(service, account, region, None)
            return self._clients[key]

    def credentials(self, role_arn: str | None, session: str, region: str) -> Credentials | None:
        if not role_arn:
            return None
        account = role_arn.split(":")[4]  # arn:aws:iam::<account>:role/<name>
        return self.host.credentials(account, role_arn)

    def s3(self, account: str, region: str, credentials: Credentials | None = None) -> Any:
        if credentials is None:
            return self._own("s3", account, region)
        return self.host.client_with("s3", region, credentials)

    def log_stream(self, account: str, region: str, group: str, stream: str) -> LogStream:
        return LogStream(self._own("logs", account, region), group, stream)

    def work_root(self, kind: str, name: str) -> Path:
        return job_root(self.host, kind, name)

    def environment(
        self, python: Path, account: str, region: str, credentials: Credentials | None = None
    ) -> dict[str, str]:
        keys = credentials or self.host.credentials(account, None)
        return base_environment(self.host, python, region, keys)

    def put_metrics(
        self, account: str, region: str, namespace: str, data: list[dict[str, Any]]
    ) -> None:
        cloudwatch = self._own("cloudwatch", account, region)
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=data)

    def alarm_states(self, account: str, region: str, names: list[str]) -> dict[str, str]:
        cloudwatch = self._own("cloudwatch", account, region)
        found = cloudwatch.describe_alarms(AlarmNames=names)
        return {
            alarm["AlarmName"]: alarm["StateValue"]
            for alarm in [*found.get("MetricAlarms", []), *found.get("CompositeAlarms", [])]
        }
