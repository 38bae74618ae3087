"""SageMaker's job log groups with the stage's retention and the project key.

SageMaker names these groups itself and shares them across the account, so the stack
configures them through a custom resource (``functions/sagemaker_logs``) that creates or
adopts each one and never deletes it. A stage that shares its account with other
SageMaker work whose readers lack the project key sets ``manage_sagemaker_log_groups``
to false and keeps AWS's defaults.
"""

from __future__ import annotations

from aws_cdk import Aws, CustomResource, Duration
from aws_cdk import aws_iam as iam
from constructs import Construct
from driftline_runtime import names

from infra.constructs.functions import PipelineFunction
from infra.constructs.nag import (
    acknowledge,
    acknowledge_synchronous_invocation,
    resource_finding,
)
from infra.constructs.shared import SharedResources

# The groups SageMaker writes the pipeline's jobs to (endpoints get one per endpoint).
JOB_LOG_GROUPS = tuple(
    f"{names.SAGEMAKER_LOGS_PREFIX}{kind}"
    for kind in ("TrainingJobs", "TransformJobs", "ProcessingJobs")
)


class SageMakerLogGroups(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, shared: SharedResources) -> None:
        super().__init__(scope, construct_id)
        config = shared.config
        self.function: PipelineFunction = shared.function(
            self,
            "Configure",
            source="sagemaker_logs",
            description="Gives SageMaker's job log groups the stage's retention and key",
            environment={},
            timeout=Duration.minutes(1),
        )
        acknowledge_synchronous_invocation(self.function.function, "CloudFormation")
        groups = [
            f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:{name}"
            for name in JOB_LOG_GROUPS
        ]
        self.function.role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "logs:CreateLogGroup",
                    "logs:PutRetentionPolicy",
                    "logs:AssociateKmsKey",
                ],
                resources=[*groups, *(f"{group}:*" for group in groups)],
            )
        )
        acknowledge(
            self.function.role,
            "Configures exactly SageMaker's three job log groups; IAM names a log group's "
            "ARN with or without the ':*' of its streams, so both forms are listed.",
            *(resource_finding(self, f"{group}:*") for group in groups),
        )
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=self.function.function.function_arn,
            resource_type="Custom::SageMakerLogGroups",
            properties={
                "LogGroups": list(JOB_LOG_GROUPS),
                "RetentionDays": str(config.log_retention_days),
                "KmsKeyArn": shared.key.key_arn,
            },
        )
