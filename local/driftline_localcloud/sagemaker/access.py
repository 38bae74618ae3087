"""What a job's process and its transfers act as: the job role's credentials.

SageMaker hands a job's containers temporary credentials of its execution role; the
local cloud does the same, and uses them for the job's own downloads and uploads, so
the local cloud's IAM checks see the role's permissions as AWS's would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from localstack import config
from localstack.aws.connect import connect_to

Credentials = dict[str, str]


def s3_client(account: str, region: str, credentials: Credentials | None = None) -> Any:
    """S3 as the job's role sees it (``credentials``), or as the account's root."""
    if credentials is None:
        return connect_to(aws_access_key_id=account, region_name=region).s3
    return connect_to(
        aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=credentials["AWS_SESSION_TOKEN"],
        region_name=region,
    ).s3


def role_credentials(role_arn: str | None, session: str, region: str) -> Credentials | None:
    """The job role's temporary credentials, as SageMaker hands them to its containers.

    The job's own downloads and uploads and its process use them, so the local cloud's
    IAM checks see the role's permissions, as AWS does.
    """
    if not role_arn:
        return None
    sts = connect_to(region_name=region).sts.request_metadata(service_principal="sagemaker")
    found = sts.assume_role(RoleArn=role_arn, RoleSessionName=session[:64], DurationSeconds=43200)
    return {
        "AWS_ACCESS_KEY_ID": found["Credentials"]["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": found["Credentials"]["SecretAccessKey"],
        "AWS_SESSION_TOKEN": found["Credentials"]["SessionToken"],
    }


def base_environment(
    python: Path, account: str, region: str, credentials: Credentials | None = None
) -> dict[str, str]:
    """What every job's process sees besides its own variables: no host secrets."""
    port = config.GATEWAY_LISTEN[0].port
    return {
        "PATH": f"{python.parent}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": str(Path(config.dirs.tmp, "driftline-sagemaker")),
        "PYTHONUNBUFFERED": "TRUE",  # as SageMaker's framework images set it
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        **(credentials or {"AWS_ACCESS_KEY_ID": account, "AWS_SECRET_ACCESS_KEY": "test"}),
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
    }
