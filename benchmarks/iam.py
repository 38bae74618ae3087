"""IAM enforcement on the local cloud, checked with functions of known permissions.

Two throwaway functions run as roles created here, and each reports what the local
cloud let it do:

- a function whose role allows only CloudWatch Logs lists the S3 buckets (AWS: denied);
- a function whose role may read objects of one bucket reads an object there (AWS:
  allowed) and one in another bucket (AWS: denied): a resource-level check;
- a state machine whose role allows only CloudWatch Logs invokes a function, lists the
  S3 buckets through an AWS SDK integration and creates a SageMaker model through the
  optimized integration (AWS: all three denied, each a caught task error).

    python -m benchmarks.iam          # against the running local cloud

Prints each outcome (the README's base comparison records them). A local cloud that
does not enforce IAM shows "allowed" where AWS denies.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from typing import Any

from driftline.actions import wait_until
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


def trust(service: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": f"{service}.amazonaws.com"},
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
        self.sfn = target.client("stepfunctions")
        self.machines: list[str] = []
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

    def role(self, purpose: str, statements: list[dict[str, Any]], service: str = "lambda") -> str:
        name = f"driftline-bench-iam-{purpose}-{self.salt}"
        role = self.iam.create_role(
            RoleName=name, AssumeRolePolicyDocument=json.dumps(trust(service))
        )
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

    def tasks(self, role_arn: str, function: str) -> dict[str, str]:
        """Runs TASKS as ``role_arn``; each task's outcome: allowed, denied or its error."""
        machine = self.sfn.create_state_machine(
            name=f"driftline-bench-iam-{self.salt}",
            definition=json.dumps(tasks_definition(function, role_arn)),
            roleArn=role_arn,
        )["stateMachineArn"]
        self.machines.append(machine)
        execution = self.sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]

        def ended() -> dict[str, Any] | None:
            described = self.sfn.describe_execution(executionArn=execution)
            return None if described["status"] == "RUNNING" else described

        described = wait_until(ended, 120, "the IAM check's state machine execution")
        if described["status"] != "SUCCEEDED":
            raise RuntimeError(f"the IAM check's execution ended {described['status']}")
        output: dict[str, Any] = json.loads(described["output"])
        return {name: task_outcome(output.get(name)) for name in TASKS}

    def remove(self) -> None:
        for arn in self.machines:
            self.sfn.delete_state_machine(stateMachineArn=arn)
        for name in self.names:
            self.functions.delete_function(FunctionName=name)
        for name in self.roles:
            self.iam.delete_role_policy(RoleName=name, PolicyName="only-this")
            self.iam.delete_role(RoleName=name)
        for name in self.buckets:
            self.s3.delete_object(Bucket=name, Key="k")
            self.s3.delete_bucket(Bucket=name)


# Task name -> resource: calls a state machine's role is checked for on AWS.
TASKS = {
    "invoke": "arn:aws:states:::lambda:invoke",
    "list_buckets": "arn:aws:states:::aws-sdk:s3:listBuckets",
    "create_model": "arn:aws:states:::sagemaker:createModel",
}


def tasks_definition(function: str, role_arn: str) -> dict[str, Any]:
    """Each task in turn, its error caught into the state under its own name."""
    names = list(TASKS)
    parameters = {
        "invoke": {"FunctionName": function, "Payload": {}},
        "list_buckets": {},
        "create_model": {
            "ModelName": f"driftline-bench-iam-{uuid.uuid4().hex[:8]}",
            "ExecutionRoleArn": role_arn,
            "PrimaryContainer": {
                "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/"
                "sagemaker-scikit-learn:1.9-0-cpu-py3",
                "ModelDataUrl": "s3://driftline-bench-iam-none/model.tar.gz",
            },
        },
    }
    following = [*names[1:], "Done"]
    states: dict[str, Any] = {
        name: {
            "Type": "Task",
            "Resource": TASKS[name],
            "Parameters": parameters[name],
            "ResultSelector": {"ok": True},
            "ResultPath": f"$.{name}",
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": f"$.{name}", "Next": then}],
            "Next": then,
        }
        for name, then in zip(names, following, strict=True)
    }
    states["Done"] = {"Type": "Succeed"}
    return {"StartAt": names[0], "States": states}


def task_outcome(result: Any) -> str:
    if not isinstance(result, dict):
        return "not run"
    if result.get("ok"):
        return "allowed"
    text = f"{result.get('Error', '')} {result.get('Cause', '')}"
    if "AccessDenied" in text or "not authorized" in text:
        return "denied"
    return f"error: {text.strip()[:80]}"


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
        machine = scratch.tasks(scratch.role("machine", [LOGS], "states"), logs_only)
    finally:
        scratch.remove()
    return {
        "logs-only function lists buckets (AWS: denied)": without_s3["list_buckets"],
        "one-bucket reader, its bucket (AWS: allowed)": one_bucket["read_allowed"],
        "one-bucket reader, another bucket (AWS: denied)": one_bucket["read_other"],
        "logs-only state machine invokes a function (AWS: denied)": machine["invoke"],
        "logs-only state machine lists buckets, SDK task (AWS: denied)": machine["list_buckets"],
        "logs-only state machine creates a SageMaker model (AWS: denied)": machine["create_model"],
    }


def main() -> None:
    cloud = LocalCloud()
    if not cloud.is_running():
        raise SystemExit("Start the local cloud first (driftline local up --no-deploy).")
    print(
        f"IAM on the {cloud.base.title} base "
        f"(enforcement {'on' if cloud.enforces_iam else 'off'}), "
        f"account {ACCOUNT_ID}"
    )
    for check, outcome in measure(Target("local")).items():
        print(f"  {check:<52} {outcome}")


if __name__ == "__main__":
    main()
