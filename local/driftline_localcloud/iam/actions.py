"""What a request asks IAM for: the actions, each on its resource, with context keys.

A call is one or more checks: ``CopyObject`` needs ``s3:PutObject`` on the target and
``s3:GetObject`` on the source; a SageMaker ``Create*`` that names a role also needs
``iam:PassRole`` on it, with ``iam:PassedToService``. Action names and resource ARNs
follow AWS's Service Authorization Reference for the operations driftline and CDK's
custom resources use; any other operation is checked as ``<prefix>:<Operation>`` on
``*``, which an identity policy with ``Resource: "*"`` allows and a scoped one does not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlparse


@dataclass(frozen=True)
class Check:
    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Call:
    """One parsed request: service, operation, parameters and where it was sent."""

    service: str
    operation: str
    parameters: Mapping[str, Any]
    account: str
    region: str
    partition: str = "aws"

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return ":".join(
            [
                "arn",
                self.partition,
                service,
                self.region if region else "",
                self.account if account else "",
                resource,
            ]
        )


# The IAM prefix of services whose endpoint name differs from it.
PREFIXES = {
    "monitoring": "cloudwatch",
    "sagemaker-runtime": "sagemaker",
    "email": "ses",
    "stepfunctions": "states",
    "sqs-query": "sqs",
}
# Calls that need no permission at all.
UNCHECKED = {("sts", "GetCallerIdentity")}


def checks(call: Call) -> list[Check]:
    """Every check the call must pass; empty for calls that need no permission."""
    if (call.service, call.operation) in UNCHECKED:
        return []
    resolver = RESOLVERS.get(call.service)
    if resolver is not None:
        resolved = resolver(call)
        if resolved is not None:
            return resolved
    prefix = PREFIXES.get(call.service, call.service)
    return [Check(f"{prefix}:{call.operation}", "*")]


def _s3(call: Call) -> list[Check] | None:
    p = call.parameters
    if call.operation == "ListBuckets":  # the API's name is not the permission's
        return [Check("s3:ListAllMyBuckets", "*")]
    bucket = p.get("Bucket")
    if not bucket:
        return None
    bucket_arn = call.arn("s3", bucket, region=False, account=False)
    key = p.get("Key")
    operation = call.operation
    if operation in ("ListObjects", "ListObjectsV2", "HeadBucket"):
        return [Check("s3:ListBucket", bucket_arn, {"s3:prefix": p.get("Prefix") or ""})]
    if operation == "ListObjectVersions":
        return [Check("s3:ListBucketVersions", bucket_arn, {"s3:prefix": p.get("Prefix") or ""})]
    if operation == "DeleteObjects":
        objects = (p.get("Delete") or {}).get("Objects") or []
        return [Check("s3:DeleteObject", f"{bucket_arn}/{item['Key']}") for item in objects]
    if key is None:
        return [Check(S3_BUCKET_ACTIONS.get(operation, f"s3:{operation}"), bucket_arn)]
    object_arn = f"{bucket_arn}/{key}"
    action = S3_OBJECT_ACTIONS.get(operation, f"s3:{operation}")
    if p.get("VersionId") and action in ("s3:GetObject", "s3:DeleteObject", "s3:GetObjectTagging"):
        action = f"{action}Version"
    found = [Check(action, object_arn)]
    if operation in ("CopyObject", "UploadPartCopy"):
        source = p.get("CopySource")
        if isinstance(source, Mapping):
            source = f"{source.get('Bucket')}/{source.get('Key')}"
        source_path = unquote(str(source or "").split("?", 1)[0]).lstrip("/")
        found.append(Check("s3:GetObject", f"arn:{call.partition}:s3:::{source_path}"))
    return found


# Bucket operations whose IAM action has another name.
S3_BUCKET_ACTIONS = {
    "PutBucketNotificationConfiguration": "s3:PutBucketNotification",
    "GetBucketNotificationConfiguration": "s3:GetBucketNotification",
    "PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
    "PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
    "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "DeleteBucketLifecycle": "s3:PutLifecycleConfiguration",
    "PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
    "DeleteBucketTagging": "s3:PutBucketTagging",
    "DeleteBucketOwnershipControls": "s3:PutBucketOwnershipControls",
    "PutBucketReplication": "s3:PutReplicationConfiguration",
    "GetBucketReplication": "s3:GetReplicationConfiguration",
}
S3_OBJECT_ACTIONS = {
    "HeadObject": "s3:GetObject",
    "GetObjectAttributes": "s3:GetObject",
    "CopyObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "UploadPartCopy": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "ListParts": "s3:ListMultipartUploadParts",
}


# SQS batch calls are checked as the single call's action.
SQS_BATCHES = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}


def _sqs(call: Call) -> list[Check] | None:
    name, account = call.parameters.get("QueueName"), call.account
    if url := call.parameters.get("QueueUrl"):
        parts = urlparse(str(url)).path.strip("/").split("/")
        name = parts[-1]
        account = parts[-2] if len(parts) > 1 else call.account
    if not name:
        return None
    action = SQS_BATCHES.get(call.operation, call.operation)
    return [Check(f"sqs:{action}", f"arn:{call.partition}:sqs:{call.region}:{account}:{name}")]


def _sns(call: Call) -> list[Check] | None:
    arn = call.parameters.get("TopicArn") or call.parameters.get("TargetArn")
    return [Check(f"sns:{call.operation}", str(arn))] if arn else None


EVENT_RULE_OPERATIONS = ("PutRule", "PutTargets", "DescribeRule", "DeleteRule")


def _bus_arn(call: Call, bus: str) -> str:
    return bus if bus.startswith("arn:") else call.arn("events", f"event-bus/{bus}")


def _events(call: Call) -> list[Check] | None:
    p = call.parameters
    if call.operation == "PutEvents":
        return [
            Check("events:PutEvents", _bus_arn(call, str(entry.get("EventBusName") or "default")))
            for entry in p.get("Entries") or []
        ]
    action = f"events:{call.operation}"
    if call.operation in EVENT_RULE_OPERATIONS:
        bus = p.get("EventBusName") or "default"
        prefix = "" if bus == "default" else f"{bus}/"
        rule = p.get("Name") or p.get("Rule")
        return [Check(action, call.arn("events", f"rule/{prefix}{rule}"))]
    bus = p.get("EventBusName") or p.get("Name")
    return [Check(action, _bus_arn(call, str(bus)))] if bus else None


def _states(call: Call) -> list[Check] | None:
    p = call.parameters
    arn = p.get("executionArn") or p.get("stateMachineArn") or p.get("mapRunArn")
    return [Check(f"states:{call.operation}", str(arn))] if arn else None


def _lambda(call: Call) -> list[Check] | None:
    name = call.parameters.get("FunctionName")
    if not name:
        return None
    name = str(name)
    if not name.startswith("arn:"):
        function, _, qualifier = name.partition(":")
        name = call.arn("lambda", f"function:{function}")
        if qualifier:
            name = f"{name}:{qualifier}"
    action = {"Invoke": "InvokeFunction", "InvokeAsync": "InvokeFunction"}.get(
        call.operation, call.operation
    )
    return [Check(f"lambda:{action}", name)]


def _dynamodb(call: Call) -> list[Check] | None:
    table = call.parameters.get("TableName")
    return (
        [Check(f"dynamodb:{call.operation}", call.arn("dynamodb", f"table/{table}"))]
        if table
        else None
    )


def _kms(call: Call) -> list[Check] | None:
    key = call.parameters.get("KeyId")
    if not key:
        return None
    key = str(key)
    if not key.startswith("arn:"):
        kind = "" if key.startswith("alias/") else "key/"
        key = call.arn("kms", f"{kind}{key}")
    return [Check(f"kms:{call.operation}", key)]


SAGEMAKER_RESOURCES = {
    "TrainingJobName": "training-job",
    "TransformJobName": "transform-job",
    "ProcessingJobName": "processing-job",
    "ModelName": "model",
    "EndpointName": "endpoint",
    "EndpointConfigName": "endpoint-config",
    "ModelPackageGroupName": "model-package-group",
}
SAGEMAKER_ROLES = ("RoleArn", "ExecutionRoleArn")


def _sagemaker(call: Call) -> list[Check] | None:
    p = call.parameters
    action = f"sagemaker:{call.operation}"
    resource = p.get("ResourceArn")
    if not resource and (package := p.get("ModelPackageName") or p.get("ModelPackageArn")):
        package = str(package)
        resource = (
            package
            if package.startswith("arn:")
            else call.arn("sagemaker", f"model-package/{package.lower()}")
        )
    if not resource:
        for parameter, kind in SAGEMAKER_RESOURCES.items():
            if p.get(parameter):
                resource = call.arn("sagemaker", f"{kind}/{str(p[parameter]).lower()}")
                break
    if call.operation.startswith("List"):
        resource = "*"
    if not resource:
        return None
    found = [Check(action, str(resource))]
    for parameter in SAGEMAKER_ROLES:
        if role := p.get(parameter):
            found.append(
                Check("iam:PassRole", str(role), {"iam:PassedToService": "sagemaker.amazonaws.com"})
            )
    return found


def _logs(call: Call) -> list[Check] | None:
    group = call.parameters.get("logGroupName")
    if not group:
        return None
    resource = f"log-group:{group}"
    if stream := call.parameters.get("logStreamName"):
        resource = f"{resource}:log-stream:{stream}"
    return [Check(f"logs:{call.operation}", call.arn("logs", resource))]


def _sts(call: Call) -> list[Check] | None:
    role = call.parameters.get("RoleArn")
    return [Check(f"sts:{call.operation}", str(role))] if role else None


def _cloudwatch(call: Call) -> list[Check] | None:
    """Alarm operations on their alarms' ARNs; a listing by prefix on the prefix's (AWS
    answers with the alarms the policy allows; here a policy must cover the prefix)."""
    p, action = call.parameters, f"cloudwatch:{call.operation}"

    def alarm(name: str) -> str:
        return call.arn("cloudwatch", f"alarm:{name}")

    if call.operation == "PutMetricAlarm" and p.get("AlarmName"):
        found = [Check(action, alarm(str(p["AlarmName"])))]
        if p.get("Tags"):  # creating an alarm with tags also needs TagResource
            found.append(Check("cloudwatch:TagResource", alarm(str(p["AlarmName"]))))
        return found
    if call.operation == "DeleteAlarms":
        return [Check(action, alarm(str(name))) for name in p.get("AlarmNames") or []]
    if call.operation == "DescribeAlarms":
        if p.get("AlarmNames"):
            return [Check(action, alarm(str(name))) for name in p["AlarmNames"]]
        return [Check(action, alarm(f"{p.get('AlarmNamePrefix') or ''}*"))]
    return None


RESOLVERS: dict[str, Callable[[Call], list[Check] | None]] = {
    "s3": _s3,
    "sqs": _sqs,
    "sqs-query": _sqs,
    "sns": _sns,
    "events": _events,
    "states": _states,
    "stepfunctions": _states,
    "lambda": _lambda,
    "dynamodb": _dynamodb,
    "kms": _kms,
    "sagemaker": _sagemaker,
    "sts": _sts,
    "logs": _logs,
    # LocalStack names CloudWatch "cloudwatch"; botocore's endpoint prefix is "monitoring".
    "cloudwatch": _cloudwatch,
    "monitoring": _cloudwatch,
}
