"""CloudFormation custom resources on the local cloud behave as CloudFormation's do."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import WaiterError

from driftline.target import Target
from tests.e2e.roles import logs_of

pytestmark = pytest.mark.e2e

# A provider function in the shape CloudFormation expects: it PUTs its outcome to the
# ResponseURL and records every request it received in an audit bucket.
PROVIDER = """
import json, urllib.request, boto3

def handler(event, context):
    props = event["ResourceProperties"]
    name = props.get("Name", "")
    physical_id = "widget-" + name
    boto3.client("s3").put_object(
        Bucket=props["AuditBucket"],
        Key=event["RequestType"] + "/" + event.get("PhysicalResourceId", physical_id),
        Body=json.dumps(event).encode(),
    )
    if props.get("Silent") == "true":
        raise RuntimeError("widget service unreachable")
    failing = props.get("Fail") == "true" and event["RequestType"] != "Delete"
    body = {
        "Status": "FAILED" if failing else "SUCCESS",
        "Reason": props.get("Reason", "done"),
        "PhysicalResourceId": physical_id,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "Data": {"Greeting": "hello " + name, "Size": props.get("Size", "")},
    }
    request = urllib.request.Request(event["ResponseURL"], data=json.dumps(body).encode(),
                                     method="PUT", headers={"Content-Type": ""})
    urllib.request.urlopen(request, timeout=10).read()
"""


def provider_role(audit_bucket: str) -> dict[str, Any]:
    """The provider's own role, as a stack declares it: Lambda may assume it, and it may
    write its logs and the audit records, nothing else."""
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            },
            "Policies": [
                {
                    "PolicyName": "provider",
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": "s3:PutObject",
                                "Resource": f"arn:aws:s3:::{audit_bucket}/*",
                            },
                            logs_of("/aws/lambda/*"),
                        ],
                    },
                }
            ],
        },
    }


def template(audit_bucket: str, **widget: Any) -> str:
    return json.dumps(
        {
            "Resources": {
                "ProviderRole": provider_role(audit_bucket),
                "Provider": {
                    "Type": "AWS::Lambda::Function",
                    "Properties": {
                        "Runtime": "python3.13",
                        "Handler": "index.handler",
                        "Role": {"Fn::GetAtt": ["ProviderRole", "Arn"]},
                        "Timeout": 30,
                        "Code": {"ZipFile": PROVIDER},
                    },
                },
                "Widget": {
                    "Type": "Custom::Widget",
                    "Properties": {
                        "ServiceToken": {"Fn::GetAtt": ["Provider", "Arn"]},
                        "AuditBucket": audit_bucket,
                        **widget,
                    },
                },
            },
            "Outputs": {
                "Greeting": {"Value": {"Fn::GetAtt": ["Widget", "Greeting"]}},
                "WidgetId": {"Value": {"Ref": "Widget"}},
            },
        }
    )


class Stacks:
    def __init__(self, target: Target) -> None:
        self.cloudformation = target.client("cloudformation")
        self.s3 = target.client("s3")
        self.audit_bucket = f"driftline-test-audit-{uuid.uuid4().hex[:8]}"
        self.s3.create_bucket(Bucket=self.audit_bucket)
        self.names: list[str] = []

    def create(self, **widget: Any) -> str:
        name = f"driftline-test-cr-{uuid.uuid4().hex[:8]}"
        self.names.append(name)
        self.cloudformation.create_stack(
            StackName=name,
            TemplateBody=template(self.audit_bucket, **widget),
            Capabilities=["CAPABILITY_IAM"],  # the provider's role
        )
        return name

    def wait(self, name: str, waiter: str) -> None:
        self.cloudformation.get_waiter(waiter).wait(
            StackName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )

    def outputs(self, name: str) -> dict[str, str]:
        stack = self.cloudformation.describe_stacks(StackName=name)["Stacks"][0]
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    def failure_reasons(self, name: str) -> str:
        events = self.cloudformation.describe_stack_events(StackName=name)["StackEvents"]
        return "\n".join(e.get("ResourceStatusReason", "") for e in events)

    def audit(self) -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=self.audit_bucket).get("Contents", [])
        return sorted(o["Key"] for o in listed)

    def cleanup(self) -> None:
        # Stacks first, and to the end: their Delete requests still write to the bucket.
        for name in self.names:
            self.cloudformation.delete_stack(StackName=name)
        for name in self.names:
            self.wait(name, "stack_delete_complete")
        for key in self.audit():
            self.s3.delete_object(Bucket=self.audit_bucket, Key=key)
        self.s3.delete_bucket(Bucket=self.audit_bucket)


@pytest.fixture
def stacks(target: Target) -> Iterator[Stacks]:
    created = Stacks(target)
    try:
        yield created
    finally:
        created.cleanup()


def test_returned_data_feeds_a_stack_output(stacks: Stacks) -> None:
    # Given a custom resource whose function answers with Data
    name = stacks.create(Name="blue", Size=3)
    # When the stack deploys
    stacks.wait(name, "stack_create_complete")
    # Then Fn::GetAtt reads the Data and Ref the physical id
    assert stacks.outputs(name) == {"Greeting": "hello blue", "WidgetId": "widget-blue"}
    # And the function was sent properties as CloudFormation sends them (strings)
    (create,) = stacks.audit()
    event = json.loads(stacks.s3.get_object(Bucket=stacks.audit_bucket, Key=create)["Body"].read())
    assert event["RequestType"] == "Create"
    assert event["ResourceProperties"]["Size"] == "3"
    assert event["ResourceType"] == "Custom::Widget"


def test_update_and_delete_reach_the_function(stacks: Stacks) -> None:
    name = stacks.create(Name="blue")
    stacks.wait(name, "stack_create_complete")
    # When a property changes, the function returns a new physical id (a replacement)
    stacks.cloudformation.update_stack(
        StackName=name,
        TemplateBody=template(stacks.audit_bucket, Name="green"),
        Capabilities=["CAPABILITY_IAM"],
    )
    stacks.wait(name, "stack_update_complete")
    assert stacks.outputs(name)["WidgetId"] == "widget-green"
    # And deleting the stack deletes the resource through the function
    stacks.cloudformation.delete_stack(StackName=name)
    stacks.wait(name, "stack_delete_complete")
    assert stacks.audit() == [
        "Create/widget-blue",
        "Delete/widget-blue",
        "Delete/widget-green",
        "Update/widget-blue",
    ]


def test_failed_response_fails_the_deployment_with_its_reason(stacks: Stacks) -> None:
    # Given a custom resource whose function reports FAILED with a reason
    name = stacks.create(Name="red", Fail="true", Reason="quota of 5 widgets reached")
    # When the stack deploys / Then the deployment fails and says why
    with pytest.raises(WaiterError):
        stacks.wait(name, "stack_create_complete")
    status = stacks.cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
    assert status in ("CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED")
    assert "quota of 5 widgets reached" in stacks.failure_reasons(name)


def test_function_that_never_answers_fails_fast_with_its_error(stacks: Stacks) -> None:
    # Given a function that raises instead of answering on the ResponseURL
    name = stacks.create(Name="grey", Silent="true")
    with pytest.raises(WaiterError):
        stacks.wait(name, "stack_create_complete")
    # Then the deployment fails with the function's own error, not after a long wait
    assert "widget service unreachable" in stacks.failure_reasons(name)
