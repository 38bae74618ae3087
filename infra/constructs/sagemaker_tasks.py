"""What a state machine needs to run SageMaker jobs through Step Functions' integrations.

Training and batch inference both create jobs of one kind and models, follow the jobs
with ``.sync`` (Step Functions' managed EventBridge rule for that job kind), pass the
SageMaker role and use the project key on job volumes and outputs. One grant, scoped to
the ``dl-`` names jobs get; the state machine's own grants (its Lambda steps, the bus,
logs and tracing) are ``infra.constructs.state_machine``'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from aws_cdk import Aws, Stack
from aws_cdk import aws_iam as iam
from driftline_runtime import names

from infra.constructs.nag import acknowledge, resource_finding
from infra.constructs.shared import SharedResources
from infra.constructs.state_machine import PipelineStateMachine

JobKind = Literal["training", "transform"]
# job kind -> (its ARN resource type, its API's name, the .sync rule's job name)
JOB_KINDS: dict[JobKind, tuple[str, str, str]] = {
    "training": ("training-job", "TrainingJob", "TrainingJobs"),
    "transform": ("transform-job", "TransformJob", "TransformJobs"),
}


def grant_sagemaker_tasks(
    machine: PipelineStateMachine,
    *,
    shared: SharedResources,
    job_kind: JobKind,
    extra: Sequence[tuple[list[str], list[str]]] = (),
    reason: str,
    extra_findings: Sequence[str] = (),
) -> None:
    role = machine.role
    stack = Stack.of(machine)
    resource_type, api, rule_name = JOB_KINDS[job_kind]
    region = f"{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}"
    prefix = names.job_prefix(shared.config.stage)
    jobs = f"arn:{region}:{resource_type}/{prefix}*"
    models = f"arn:{region}:model/{prefix}*"
    sync_rule = (
        f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:rule/"
        f"StepFunctionsGetEventsForSageMaker{rule_name}Rule"
    )
    job_actions = [f"sagemaker:{verb}{api}" for verb in ("Create", "Describe", "Stop")]
    for actions, resources in (
        ([*job_actions, "sagemaker:AddTags"], [jobs]),
        (["sagemaker:CreateModel", "sagemaker:AddTags"], [models]),
        (["events:PutTargets", "events:PutRule", "events:DescribeRule"], [sync_rule]),
        # Jobs with VolumeKmsKeyId/KmsKeyId check the caller's access to the key.
        (["kms:CreateGrant", "kms:DescribeKey"], [shared.key.key_arn]),
        *extra,
    ):
        role.add_to_principal_policy(iam.PolicyStatement(actions=actions, resources=resources))
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["iam:PassRole"],
            resources=[shared.sagemaker.role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        )
    )
    acknowledge(
        role,
        reason,
        resource_finding(stack, jobs),
        resource_finding(stack, models),
        *extra_findings,
    )
