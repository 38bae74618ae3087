"""What a state machine needs to run SageMaker jobs through Step Functions' integrations.

Training and batch inference both create jobs of one kind and models, follow the jobs
with ``.sync`` (Step Functions' managed EventBridge rule for that job kind), pass the
SageMaker role, use the project key on job volumes and outputs, put events on the bus
and invoke their Lambda steps. One grant, scoped to the ``dl-`` names jobs get.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from driftline_runtime import names

from infra.constructs.nag import PACK, acknowledge, resource_finding

# job kind -> (its ARN resource type, its API's name, the .sync rule's job name)
JOB_KINDS = {
    "training": ("training-job", "TrainingJob", "TrainingJobs"),
    "transform": ("transform-job", "TransformJob", "TransformJobs"),
}


def grant_sagemaker_tasks(
    state_machine: sfn.StateMachine,
    *,
    job_kind: str,
    sagemaker_role: iam.IRole,
    key: kms.IKey,
    bus: events.IEventBus,
    functions: Sequence[lambda_.Function],
    extra: Sequence[tuple[list[str], list[str]]] = (),
    reason: str,
    extra_findings: Sequence[str] = (),
) -> None:
    role = state_machine.role
    stack = Stack.of(state_machine)
    for function in functions:
        function.grant_invoke(role)
    resource_type, api, rule_name = JOB_KINDS[job_kind]
    region = f"{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}"
    jobs = f"arn:{region}:{resource_type}/{names.JOB_PREFIX}*"
    models = f"arn:{region}:model/{names.JOB_PREFIX}*"
    sync_rule = (
        f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:rule/"
        f"StepFunctionsGetEventsForSageMaker{rule_name}Rule"
    )
    job_actions = [f"sagemaker:{verb}{api}" for verb in ("Create", "Describe", "Stop")]
    for actions, resources in (
        ([*job_actions, "sagemaker:AddTags"], [jobs]),
        (["sagemaker:CreateModel", "sagemaker:AddTags"], [models]),
        (["events:PutTargets", "events:PutRule", "events:DescribeRule"], [sync_rule]),
        (["events:PutEvents"], [bus.event_bus_arn]),
        # Jobs with VolumeKmsKeyId/KmsKeyId check the caller's access to the key.
        (["kms:CreateGrant", "kms:DescribeKey"], [key.key_arn]),
        *extra,
    ):
        role.add_to_principal_policy(iam.PolicyStatement(actions=actions, resources=resources))
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["iam:PassRole"],
            resources=[sagemaker_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        )
    )
    invocations = (
        f"{PACK}-IAM5[Resource::<{stack.resolve(stack.get_logical_id(f.node.default_child))}.Arn>:*]"  # type: ignore[arg-type]
        for f in functions
    )
    acknowledge(
        role,
        f"{reason} Lambda invocations include versions (:*). Log delivery and X-Ray "
        "support no resource-level permissions.",
        resource_finding(stack, jobs),
        resource_finding(stack, models),
        f"{PACK}-IAM5[Resource::*]",
        *extra_findings,
        *invocations,
    )
