"""IAM enforcement on the local cloud, checked with functions of known permissions.

Two throwaway functions run as roles created here, and each reports what the local
cloud let it do:

- a function whose role allows only CloudWatch Logs lists the S3 buckets (AWS: denied);
- a function whose role may read objects of one bucket reads an object there (AWS:
  allowed) and one in another bucket (AWS: denied): a resource-level check.

    python -m benchmarks.iam          # against the running local cloud

Prints each outcome; the base comparison (``benchmarks.bases``) records them. A base
that does not enforce IAM shows "allowed" where AWS denies.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from typing import Any

from driftline.localcloud import ACCOUNT_ID, LocalCloud
from driftline.target import Target

CODE = """
import boto3

def handler(event, context):
    s3 = boto3.client("s3")
    outcome = {}
    for name, call in (
        ("list_buckets", lambda: s3.list_buckets()),
        ("read_allowed", lambda: s3.get_object(Bucket=event["allowed"], Key="k")["Body"].read()),
        ("read_other", lambda: s3.get_object(Bucket=event["other"], Key="k")["Body"].read()),
    ):
        try:
            call()
            outcome[name] = "allowed"
        except Exception as error:
            code = getattr(error, "response", {}).get("Error", {}).get("Code", type(error).__name__)
            outcome[name] = "denied" if "AccessDenied" in code else code
    return outcome
"""
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
LOGS = {"Effect": "Allow", "Action": "logs:*", "Resource": "*"}


def _zip(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", text)
    return buffer.getvalue()


class Scratch:
    """Roles, buckets and functions made for the checks, and removed after them."""

    def __init__(self, target: Target) -> None:
        self.iam, self.s3 = target.client("iam"), target.client("s3")
        self.functions = target.client("lambda")
        self.salt = uuid.uuid4().hex[:8]
        self.roles: list[str] = []
        self.buckets: list[str] = []
        self.names: list[str] = []

    def bucket(self, purpose: str) -> str:
        name = f"driftline-bench-iam-{purpose}-{self.salt}"
        self.s3.create_bucket(Bucket=name)
        self.s3.put_object(Bucket=name, Key="k", Body=b"x")
        self.buckets.append(name)
        return name

    def role(self, purpose: str, statements: list[dict[str, Any]]) -> str:
        name = f"driftline-bench-iam-{purpose}-{self.salt}"
        role = self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
        self.iam.put_role_policy(
            RoleName=name,
            PolicyName="only-this",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
        )
        self.roles.append(name)
        return str(role["Role"]["Arn"])

    def function(self, purpose: str, role_arn: str) -> str:
        name = f"driftline-bench-iam-{purpose}-{self.salt}"
        self.functions.create_function(
            FunctionName=name,
            Runtime="python3.13",
            Handler="index.handler",
            Role=role_arn,
            Code={"ZipFile": _zip(CODE)},
            Timeout=30,
        )
        self.functions.get_waiter("function_active_v2").wait(FunctionName=name)
        self.names.append(name)
        return name

    def invoke(self, name: str, event: dict[str, str]) -> dict[str, str]:
        response = self.functions.invoke(FunctionName=name, Payload=json.dumps(event).encode())
        result: dict[str, str] = json.loads(response["Payload"].read())
        if "FunctionError" in response:
            raise RuntimeError(f"{name} failed: {result}")
        return result

    def remove(self) -> None:
        for name in self.names:
            self.functions.delete_function(FunctionName=name)
        for name in self.roles:
            self.iam.delete_role_policy(RoleName=name, PolicyName="only-this")
            self.iam.delete_role(RoleName=name)
        for name in self.buckets:
            self.s3.delete_object(Bucket=name, Key="k")
            self.s3.delete_bucket(Bucket=name)


def measure(target: Target) -> dict[str, str]:
    """What a logs-only function and a one-bucket reader were allowed to do."""
    scratch = Scratch(target)
    try:
        allowed, other = scratch.bucket("allowed"), scratch.bucket("other")
        event = {"allowed": allowed, "other": other}
        logs_only = scratch.function("logs", scratch.role("logs", [LOGS]))
        reader = scratch.function(
            "reader",
            scratch.role(
                "reader",
                [
                    LOGS,
                    {
                        "Effect": "Allow",
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{allowed}/*",
                    },
                ],
            ),
        )
        without_s3 = scratch.invoke(logs_only, event)
        one_bucket = scratch.invoke(reader, event)
    finally:
        scratch.remove()
    return {
        "logs-only function lists buckets (AWS: denied)": without_s3["list_buckets"],
        "one-bucket reader, its bucket (AWS: allowed)": one_bucket["read_allowed"],
        "one-bucket reader, another bucket (AWS: denied)": one_bucket["read_other"],
    }


def main() -> None:
    cloud = LocalCloud()
    if not cloud.is_running():
        raise SystemExit("Start the local cloud first (driftline local up --no-deploy).")
    print(
        f"IAM on the {cloud.base.title} base (enforcement {'on' if cloud.iam else 'off'}), "
        f"account {ACCOUNT_ID}"
    )
    for check, outcome in measure(Target("local")).items():
        print(f"  {check:<52} {outcome}")


if __name__ == "__main__":
    main()
