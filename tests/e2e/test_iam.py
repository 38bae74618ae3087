"""The local cloud checks what functions do against their roles, as AWS does.

Functions here run with roles created for the test: one that may only write logs, one
that may read one bucket, ones bounded by a permissions boundary. The app's own flows
run with the same checks in every other end-to-end and reliability test (enforcement is
on by default).
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from driftline.localcloud import ACCOUNT_ID, LocalCloud
from driftline.target import Target
from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e

CODE = """
import boto3

def read(event, context):
    s3 = boto3.client("s3")
    outcome = {}
    for bucket in event["buckets"]:
        try:
            body = s3.get_object(Bucket=bucket, Key=event["key"])["Body"].read().decode()
            outcome[bucket] = body
        except s3.exceptions.ClientError as error:
            found = error.response["Error"]
            outcome[bucket] = found["Code"] + ": " + found["Message"]
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


class Sandbox:
    """Roles, buckets and functions made for one test, removed afterwards."""

    def __init__(self, target: Target) -> None:
        self.iam, self.s3, self.functions = (
            target.client("iam"),
            target.client("s3"),
            target.client("lambda"),
        )
        self.suffix = uuid.uuid4().hex[:8]
        self.roles: list[str] = []
        self.buckets: list[str] = []
        self.created: list[str] = []
        self.policies: list[str] = []

    def bucket(self, label: str, key: str, body: str) -> str:
        name = f"driftline-iam-{label}-{self.suffix}"
        self.s3.create_bucket(Bucket=name)
        self.s3.put_object(Bucket=name, Key=key, Body=body.encode())
        self.buckets.append(name)
        return name

    def boundary(self, label: str, statements: list[dict[str, Any]]) -> str:
        """A managed policy to bound roles with; its ARN."""
        document = json.dumps({"Version": "2012-10-17", "Statement": statements})
        arn = self.iam.create_policy(
            PolicyName=f"driftline-iam-{label}-{self.suffix}", PolicyDocument=document
        )["Policy"]["Arn"]
        self.policies.append(arn)
        return str(arn)

    def role(
        self, label: str, statements: list[dict[str, Any]], boundary: str | None = None
    ) -> str:
        name = f"driftline-iam-{label}-{self.suffix}"
        bounded = {"PermissionsBoundary": boundary} if boundary else {}
        arn = self.iam.create_role(
            RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST), **bounded
        )["Role"]["Arn"]
        self.iam.put_role_policy(
            RoleName=name,
            PolicyName="only-this",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
        )
        self.roles.append(name)
        return str(arn)

    def function(self, role: str) -> str:
        name = f"driftline-iam-{uuid.uuid4().hex[:8]}"
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as folder:
            folder.writestr("app.py", CODE)
        self.functions.create_function(
            FunctionName=name,
            Runtime="python3.13",
            Handler="app.read",
            Role=role,
            Code={"ZipFile": archive.getvalue()},
            Timeout=30,
        )
        self.created.append(name)
        self.functions.get_waiter("function_active_v2").wait(FunctionName=name)
        return name

    def invoke(self, name: str, event: dict[str, Any]) -> dict[str, str]:
        response = self.functions.invoke(FunctionName=name, Payload=json.dumps(event).encode())
        payload: dict[str, str] = json.loads(response["Payload"].read())
        assert "FunctionError" not in response, payload
        return payload

    def close(self) -> None:
        for name in self.created:
            self.functions.delete_function(FunctionName=name)
        for name in self.roles:
            self.iam.delete_role_policy(RoleName=name, PolicyName="only-this")
            self.iam.delete_role(RoleName=name)
        for arn in self.policies:
            self.iam.delete_policy(PolicyArn=arn)
        for name in self.buckets:
            for item in self.s3.list_objects_v2(Bucket=name).get("Contents", []):
                self.s3.delete_object(Bucket=name, Key=item["Key"])
            self.s3.delete_bucket(Bucket=name)


@pytest.fixture
def sandbox(target: Target) -> Iterator[Sandbox]:
    made = Sandbox(target)
    try:
        yield made
    finally:
        made.close()


LOGS_ONLY = {
    "Effect": "Allow",
    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
    "Resource": "*",
}


def test_a_function_without_a_permission_gets_access_denied_and_the_log_names_it(
    sandbox: Sandbox, local_cloud: LocalCloud
) -> None:
    # Given a bucket the user wrote to, and a function whose role may only write logs
    bucket = sandbox.bucket("private", "a.txt", "secret")
    function = sandbox.function(sandbox.role("logsonly", [LOGS_ONLY]))
    # When the function reads the object
    outcome = sandbox.invoke(function, {"buckets": [bucket], "key": "a.txt"})
    # Then S3 answers with AWS's AccessDenied, naming the action and the resource
    assert outcome[bucket].startswith("AccessDenied: "), outcome
    assert f"s3:GetObject on resource: arn:aws:s3:::{bucket}/a.txt" in outcome[bucket]
    # And the local cloud's log names the role, the action and the resource
    wanted = f"is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::{bucket}/a.txt"
    wait_for(
        lambda: True if wanted in local_cloud.log_file.read_text(errors="replace") else None,
        30,
        "the denial in the local cloud's log",
    )
    # And the user's own credentials still read it
    assert sandbox.s3.get_object(Bucket=bucket, Key="a.txt")["Body"].read() == b"secret"


def test_a_role_allowed_one_bucket_reads_it_and_is_denied_the_other(sandbox: Sandbox) -> None:
    # Given two buckets, and a role that may read objects of the first only
    allowed = sandbox.bucket("allowed", "k.txt", "first")
    other = sandbox.bucket("other", "k.txt", "second")
    role = sandbox.role(
        "onebucket",
        [
            LOGS_ONLY,
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{allowed}/*"},
        ],
    )
    function = sandbox.function(role)
    # When its function reads the same key in both
    outcome = sandbox.invoke(function, {"buckets": [allowed, other], "key": "k.txt"})
    # Then the first answers and the second is denied
    assert outcome[allowed] == "first"
    assert outcome[other].startswith("AccessDenied: "), outcome


def test_an_explicit_deny_beats_the_allow(sandbox: Sandbox) -> None:
    # Given a role that may read the bucket but is denied one prefix of it
    bucket = sandbox.bucket("denied", "hidden/k.txt", "no")
    sandbox.s3.put_object(Bucket=bucket, Key="open/k.txt", Body=b"yes")
    role = sandbox.role(
        "deny",
        [
            LOGS_ONLY,
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"},
            {"Effect": "Deny", "Action": "s3:*", "Resource": f"arn:aws:s3:::{bucket}/hidden/*"},
        ],
    )
    function = sandbox.function(role)
    # When it reads both prefixes
    hidden = sandbox.invoke(function, {"buckets": [bucket], "key": "hidden/k.txt"})
    visible = sandbox.invoke(function, {"buckets": [bucket], "key": "open/k.txt"})
    # Then the denied prefix is refused and the other is read
    assert hidden[bucket].startswith("AccessDenied: ") and "explicit" in hidden[bucket]
    assert visible[bucket] == "yes"


def test_a_function_whose_boundary_lacks_an_action_its_role_allows_is_denied(
    sandbox: Sandbox, local_cloud: LocalCloud
) -> None:
    # Given a role that may read the bucket, bounded by a policy that allows logs and
    # listing buckets but not reading objects
    bucket = sandbox.bucket("bounded", "k.txt", "inside")
    boundary = sandbox.boundary(
        "nogetobject", [LOGS_ONLY, {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]
    )
    read = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
    role = sandbox.role("bounded", [LOGS_ONLY, read], boundary=boundary)
    function = sandbox.function(role)
    # When its function reads the object
    outcome = sandbox.invoke(function, {"buckets": [bucket], "key": "k.txt"})
    # Then S3 answers AWS's AccessDenied, saying that no permissions boundary allows it and
    # naming the caller as AWS does, the function's session of its role
    session = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role.rsplit('/', 1)[1]}/{function}"
    assert outcome[bucket] == (
        f"AccessDenied: User: {session} is not authorized to perform: s3:GetObject on resource: "
        f"arn:aws:s3:::{bucket}/k.txt because no permissions boundary allows it"
    )
    # And once the boundary is removed from the role, the same function reads it
    sandbox.iam.delete_role_permissions_boundary(RoleName=role.rsplit("/", 1)[1])
    assert sandbox.invoke(function, {"buckets": [bucket], "key": "k.txt"})[bucket] == "inside"


def test_an_explicit_deny_in_the_boundary_beats_both_allows(sandbox: Sandbox) -> None:
    # Given a role that may read the bucket, bounded by a policy that allows S3 but
    # denies one prefix
    bucket = sandbox.bucket("fenced", "hidden/k.txt", "no")
    sandbox.s3.put_object(Bucket=bucket, Key="open/k.txt", Body=b"yes")
    boundary = sandbox.boundary(
        "fence",
        [
            LOGS_ONLY,
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {
                "Sid": "Fence",
                "Effect": "Deny",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/hidden/*",
            },
        ],
    )
    read = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
    function = sandbox.function(sandbox.role("fenced", [LOGS_ONLY, read], boundary=boundary))
    # When it reads both prefixes
    hidden = sandbox.invoke(function, {"buckets": [bucket], "key": "hidden/k.txt"})
    visible = sandbox.invoke(function, {"buckets": [bucket], "key": "open/k.txt"})
    # Then the boundary's statement denies the first, and the other is read
    assert hidden[bucket].startswith("AccessDenied: "), hidden
    assert "statement Fence of its permissions boundary explicitly denies it" in hidden[bucket]
    assert visible[bucket] == "yes"
