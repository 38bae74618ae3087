"""The resource a SageMaker call is authorized against, as AWS's IAM names it.

With IAM enforced, each call's action is checked on a resource ARN; a policy that
grants ``sagemaker:DescribeModelPackageGroup`` on ``model-package-group/driftline-dev-*``
must see the group's ARN, not ``*``. Names are lower-cased, as in SageMaker's ARNs.
List operations have no resource (``*``). ``CreateModelPackage`` of a versioned package
is authorized on its group: the version it will get is not known before the call.
"""

from __future__ import annotations

from typing import Any

from driftline_localcloud.sagemaker.registry import group_name
from driftline_localcloud.sagemaker.store import arn

# operation -> (resource type, request member naming it)
NAMED = {
    "CreateTrainingJob": ("training-job", "TrainingJobName"),
    "DescribeTrainingJob": ("training-job", "TrainingJobName"),
    "StopTrainingJob": ("training-job", "TrainingJobName"),
    "CreateModel": ("model", "ModelName"),
    "DescribeModel": ("model", "ModelName"),
    "DeleteModel": ("model", "ModelName"),
    "CreateTransformJob": ("transform-job", "TransformJobName"),
    "DescribeTransformJob": ("transform-job", "TransformJobName"),
    "StopTransformJob": ("transform-job", "TransformJobName"),
    "CreateProcessingJob": ("processing-job", "ProcessingJobName"),
    "DescribeProcessingJob": ("processing-job", "ProcessingJobName"),
    "StopProcessingJob": ("processing-job", "ProcessingJobName"),
    "CreateEndpointConfig": ("endpoint-config", "EndpointConfigName"),
    "DescribeEndpointConfig": ("endpoint-config", "EndpointConfigName"),
    "DeleteEndpointConfig": ("endpoint-config", "EndpointConfigName"),
    "CreateEndpoint": ("endpoint", "EndpointName"),
    "DescribeEndpoint": ("endpoint", "EndpointName"),
    "UpdateEndpoint": ("endpoint", "EndpointName"),
    "UpdateEndpointWeightsAndCapacities": ("endpoint", "EndpointName"),
    "DeleteEndpoint": ("endpoint", "EndpointName"),
    "InvokeEndpoint": ("endpoint", "EndpointName"),
    "CreateModelPackageGroup": ("model-package-group", "ModelPackageGroupName"),
    "DescribeModelPackageGroup": ("model-package-group", "ModelPackageGroupName"),
    "CreateModelPackage": ("model-package-group", "ModelPackageGroupName"),
}
# operation -> request member holding a versioned package (ARN or "<group>/<version>")
PACKAGES = {"DescribeModelPackage": "ModelPackageName", "UpdateModelPackage": "ModelPackageArn"}


def resource_arn(operation: str, request: dict[str, Any], account: str, region: str) -> str:
    if operation in NAMED:
        kind, member = NAMED[operation]
        name = str(request.get(member) or "")
        if kind == "model-package-group":
            name = group_name(name)
        return arn(account, region, kind, name) if name else "*"
    if operation in PACKAGES:
        package = str(request.get(PACKAGES[operation]) or "")
        if ":model-package/" in package:
            return package.lower()
        return arn(account, region, "model-package", package) if package else "*"
    return "*"
