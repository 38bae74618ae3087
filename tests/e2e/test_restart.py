"""A local cloud of its own, stopped and started again: what it kept, and that it works.

The session's local cloud keeps running; this one has its own folder, port and kept
state, so the restart disturbs nothing else. It is filled with one of each kind of
resource the app relies on (a versioned bucket's objects, a role and a Python function,
a state machine and an execution, a parameter, a table's item, a queue's message, a
rule on a bus of its own, a model package group and an approved package), stopped as
`driftline local down` stops it, and started as `up` starts it. Then everything is
there and still works: the function answers, IAM still denies its role what its policy
does not allow, and the state machine runs again. ``tests/reliability/test_restart.py``
restarts the session's local cloud with the whole app deployed.
"""

from __future__ import annotations

import io
import json
import socket
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from driftline.localcloud import REGION, LocalCloud
from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e

ACCOUNT = "000000000000"
HANDLER = """
import boto3

def handler(event, context):
    try:
        boto3.client("s3").list_buckets()
        listed = "allowed"
    except Exception as error:
        listed = type(error).__name__ + ": " + str(error)
    return {"echo": event.get("say"), "list_buckets": listed}
"""
LOGS_ONLY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}],
}
PASS_MACHINE = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def own_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    """A second local cloud, installed in a folder of its own, IAM enforced, state kept."""
    folder = tmp_path_factory.mktemp("restart")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DRIFTLINE_LOCAL_STATE_DIR", str(folder / "kept"))
        env.setenv("DRIFTLINE_LOCAL_PERSISTENCE", "1")
        cloud = LocalCloud(
            port=free_port(), state=folder / "localcloud", iam=True, persistence=True
        )
        cloud.install()
        cloud.start()
        try:
            yield cloud
        finally:
            cloud.stop()


def client(cloud: LocalCloud, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=cloud.endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
    )


def function_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", HANDLER)
    return buffer.getvalue()


def fill(cloud: LocalCloud) -> dict[str, Any]:
    """One of each kind of resource; returns what the checks after the restart need."""
    s3 = client(cloud, "s3")
    s3.create_bucket(Bucket="kept")
    s3.put_bucket_versioning(Bucket="kept", VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket="kept", Key="data/a.csv", Body=b"id\n1\n")["VersionId"]
    s3.put_object(Bucket="kept", Key="data/a.csv", Body=b"id\n1\n2\n")

    iam = client(cloud, "iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(RoleName="kept-role", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(
        RoleName="kept-role", PolicyName="logs", PolicyDocument=json.dumps(LOGS_ONLY)
    )
    role_arn = role["Role"]["Arn"]
    lambda_ = client(cloud, "lambda")
    lambda_.create_function(
        FunctionName="kept-function",
        Runtime="python3.13",
        Role=role_arn,
        Handler="app.handler",
        Code={"ZipFile": function_zip()},
        Timeout=30,
    )
    wait_for(
        lambda: (
            lambda_.get_function(FunctionName="kept-function")["Configuration"]["State"] == "Active"
            or None
        ),
        60,
        "kept-function Active",
    )

    states = client(cloud, "stepfunctions")
    machine = states.create_state_machine(
        name="kept-machine", definition=json.dumps(PASS_MACHINE), roleArn=role_arn
    )["stateMachineArn"]
    execution = states.start_execution(stateMachineArn=machine, input='{"n": 1}')["executionArn"]
    wait_for(
        lambda: states.describe_execution(executionArn=execution)["status"] == "SUCCEEDED" or None,
        60,
        "the first execution succeeded",
    )

    client(cloud, "ssm").put_parameter(Name="/kept/threshold", Value="0.2", Type="String")
    dynamodb = client(cloud, "dynamodb")
    dynamodb.create_table(
        TableName="kept-table",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.put_item(TableName="kept-table", Item={"pk": {"S": "v1"}, "rows": {"N": "2"}})
    sqs = client(cloud, "sqs")
    queue = sqs.create_queue(QueueName="kept-queue")["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody="kept message")
    events = client(cloud, "events")
    events.create_event_bus(Name="kept-bus")
    events.put_rule(
        Name="kept-rule", EventBusName="kept-bus", EventPattern=json.dumps({"source": ["kept"]})
    )

    sagemaker = client(cloud, "sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName="kept-models")
    package = sagemaker.create_model_package(
        ModelPackageGroupName="kept-models",
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [{"Image": "sklearn:1.4", "ModelDataUrl": "s3://kept/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    return {"first_version": first, "machine": machine, "queue": queue, "package": package}


def test_a_restart_keeps_every_kind_of_resource_and_they_still_work(
    own_cloud: LocalCloud,
) -> None:
    # Given a local cloud holding one of each kind of resource
    made = fill(own_cloud)

    # When it is stopped and started again, as `local down` and `local up` do
    assert own_cloud.stop()
    assert own_cloud.start()

    # Then the objects are there, both versions of the versioned one
    s3 = client(own_cloud, "s3")
    assert s3.get_object(Bucket="kept", Key="data/a.csv")["Body"].read() == b"id\n1\n2\n"
    old = s3.get_object(Bucket="kept", Key="data/a.csv", VersionId=made["first_version"])
    assert old["Body"].read() == b"id\n1\n"
    # And the parameter, the table's item, the queue's message and the rule
    assert (
        client(own_cloud, "ssm").get_parameter(Name="/kept/threshold")["Parameter"]["Value"]
        == "0.2"
    )
    item = client(own_cloud, "dynamodb").get_item(TableName="kept-table", Key={"pk": {"S": "v1"}})[
        "Item"
    ]
    assert item["rows"] == {"N": "2"}
    sqs = client(own_cloud, "sqs")
    messages = sqs.receive_message(QueueUrl=made["queue"], WaitTimeSeconds=1)["Messages"]
    assert [m["Body"] for m in messages] == ["kept message"]
    rules = client(own_cloud, "events").list_rules(EventBusName="kept-bus")["Rules"]
    assert [r["Name"] for r in rules] == ["kept-rule"]
    # And the registry: the group and its approved package
    sagemaker = client(own_cloud, "sagemaker")
    package = sagemaker.describe_model_package(ModelPackageName=made["package"])
    assert package["ModelApprovalStatus"] == "Approved"

    # And the function runs, with IAM still enforced on its role (logs only)
    answer = client(own_cloud, "lambda").invoke(
        FunctionName="kept-function", Payload=json.dumps({"say": "after"})
    )
    assert "FunctionError" not in answer, answer["Payload"].read()
    result = json.loads(answer["Payload"].read())
    assert result["echo"] == "after"
    assert result["list_buckets"].startswith("AccessDenied: "), result
    assert "s3:ListAllMyBuckets" in result["list_buckets"], result

    # And the state machine keeps its first execution and runs a second one
    states = client(own_cloud, "stepfunctions")
    kept = states.list_executions(stateMachineArn=made["machine"])["executions"]
    assert [e["status"] for e in kept] == ["SUCCEEDED"]
    second = states.start_execution(stateMachineArn=made["machine"], input="{}")["executionArn"]
    wait_for(
        lambda: states.describe_execution(executionArn=second)["status"] == "SUCCEEDED" or None,
        60,
        "the execution after the restart succeeded",
    )


def test_a_start_without_persistence_starts_empty_and_leaves_the_kept_state(
    own_cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the local cloud with a bucket in its kept state
    client(own_cloud, "s3").create_bucket(Bucket="kept-twice")
    own_cloud.stop()
    kept = Path(own_cloud.environment()["STATE_DIR"])
    # When it is started with persistence turned off
    monkeypatch.setenv("DRIFTLINE_LOCAL_PERSISTENCE", "0")
    empty = LocalCloud(port=own_cloud.port, state=own_cloud.state, iam=True)
    empty.start()
    try:
        # Then it holds nothing
        buckets = client(empty, "s3").list_buckets()["Buckets"]
        assert buckets == []
        with pytest.raises(ClientError, match="ParameterNotFound"):
            client(empty, "ssm").get_parameter(Name="/kept/threshold")
    finally:
        empty.stop()
    # And the kept state is still there for the next start that keeps it
    monkeypatch.setenv("DRIFTLINE_LOCAL_PERSISTENCE", "1")
    assert kept.is_dir() and any(kept.iterdir())
    own_cloud.start()
    names = {b["Name"] for b in client(own_cloud, "s3").list_buckets()["Buckets"]}
    assert {"kept", "kept-twice"} <= names
