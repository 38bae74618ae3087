"""What a job's process and its transfers act as on the LocalStack base: the job role.

SageMaker hands a job's containers temporary credentials of its execution role; the
local cloud does the same, and uses them for the job's own downloads and uploads, so
the local cloud's IAM checks (``driftline_localcloud.iam``) see the role's permissions
as AWS's would. ``LocalStackJobHost`` gives the shared job runner these credentials.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from localstack.aws.connect import connect_to

from driftline_localcloud.sagemaker.job_host import Credentials, JobHost

# AWS's longest role session; a job that outlives it fails on AWS too.
SESSION_SECONDS = 43_200


def role_credentials(role_arn: str, session: str, region: str) -> Credentials:
    """The role's temporary credentials, assumed as SageMaker assumes them."""
    sts = connect_to(region_name=region).sts.request_metadata(service_principal="sagemaker")
    found = sts.assume_role(
        RoleArn=role_arn, RoleSessionName=session[:64], DurationSeconds=SESSION_SECONDS
    )
    return {
        "AWS_ACCESS_KEY_ID": found["Credentials"]["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": found["Credentials"]["SecretAccessKey"],
        "AWS_SESSION_TOKEN": found["Credentials"]["SessionToken"],
    }


class LocalStackJobHost(JobHost):
    """Jobs call LocalStack as their role (one session per role, kept for an hour)."""

    def __init__(self, endpoint: str, work_root: Path) -> None:
        super().__init__(endpoint, work_root)
        self._sessions: dict[tuple[str, str], tuple[float, Credentials]] = {}
        self._lock = threading.Lock()

    def service_events(self, account: str, region: str) -> object:
        # LocalStack's internal client: the service's own events, as SageMaker puts them.
        return connect_to(aws_access_key_id=account, region_name=region).events

    def credentials(self, account: str, role_arn: str | None) -> Credentials:
        if not role_arn:
            return super().credentials(account, role_arn)
        key = (account, role_arn)
        with self._lock:
            found = self._sessions.get(key)
            if found is None or time.monotonic() - found[0] > 3_600:
                # A role is global; STS answers in any region.
                found = (time.monotonic(), role_credentials(role_arn, "SageMaker", "us-east-1"))
                self._sessions[key] = found
        return dict(found[1])
