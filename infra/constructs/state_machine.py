"""The one definition of a driftline state machine: ASL file, log group, tracing and role.

Every state machine of the pipeline is built here, so each gets the same things without
repeating them: its definition is the ASL file in ``state_machines/`` (CloudFormation
fills in its ``${...}`` placeholders, the same file runs locally), it logs every event
to its own KMS-encrypted log group, it is traced with X-Ray, and it runs as its own role
that may invoke exactly its Lambda steps and put events on the project bus. A state
machine that runs SageMaker jobs adds ``sagemaker_tasks.grant_sagemaker_tasks``.

A new state machine is a construct that creates its functions, then a
``PipelineStateMachine`` with its ASL file and the placeholder of each function, and the
rules that start it (with :meth:`PipelineStateMachine.target`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from aws_cdk import Aws, CfnElement, Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct
from driftline_runtime import names

from infra.config import StageConfig
from infra.constructs.functions import PipelineFunction, log_retention
from infra.constructs.nag import (
    PACK,
    acknowledge,
    acknowledge_inline_policy,
    acknowledge_synchronous_invocation,
)
from infra.packaging import STATE_MACHINES

# How long and how often EventBridge retries starting an execution before the event
# goes to the rule target's dead-letter queue.
START_RETRIES = 8
START_MAX_AGE = Duration.hours(24)
# The placeholder every ASL file's Publish* states put their events on.
EVENT_BUS_PLACEHOLDER = "EventBusName"
# Service integration ARNs (``arn:${Partition}:states:::...``) in the partition the stack
# is deployed to, so the same files run in aws, aws-cn and aws-us-gov.
PARTITION_PLACEHOLDER = "Partition"


class StateMachineResources(Protocol):
    """What a state machine takes from its stack: the pipeline's ``SharedResources``, or
    the data stack's ``DataResources`` (the large-file validation)."""

    @property
    def config(self) -> StageConfig: ...

    @property
    def key(self) -> kms.IKey: ...

    @property
    def bus(self) -> events.IEventBus: ...


class PipelineStateMachine(Construct):
    """A state machine from ``state_machines/<definition>``, named ``<stage prefix>-<name>``.

    ``functions`` maps each ASL placeholder of a Lambda step (``PrepareFunctionArn``) to
    its function; ``substitutions`` fills the other placeholders. The event bus
    placeholder (``EventBusName``) is always filled.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        shared: StateMachineResources,
        name: str,
        definition: str,
        functions: Mapping[str, PipelineFunction],
        substitutions: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        config = shared.config
        self.name = names.state_machine_name(config.stage, name)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"{names.STATE_MACHINE_LOGS_PREFIX}{self.name}",
            retention=log_retention(config.log_retention_days),
            encryption_key=shared.key,
            removal_policy=RemovalPolicy.DESTROY,
        )
        # Only Step Functions, for a state machine of this account, may assume it.
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal(
                "states.amazonaws.com",
                conditions={
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{Aws.PARTITION}:states:{Aws.REGION}:"
                        f"{Aws.ACCOUNT_ID}:stateMachine:*"
                    },
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                },
            ),
        )
        self.state_machine = sfn.StateMachine(
            self,
            "Resource",
            state_machine_name=self.name,
            definition_body=sfn.DefinitionBody.from_file(str(STATE_MACHINES / definition)),
            definition_substitutions={
                **{placeholder: f.function.function_arn for placeholder, f in functions.items()},
                EVENT_BUS_PLACEHOLDER: shared.bus.event_bus_name,
                PARTITION_PLACEHOLDER: Aws.PARTITION,
                **(substitutions or {}),
            },
            role=self.role,
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL),
        )
        self._grant(shared, list(functions.values()))

    @property
    def arn(self) -> str:
        return self.state_machine.state_machine_arn

    @property
    def executions_arn(self) -> str:
        """The ARN prefix of this state machine's executions (``...:execution:<name>``).

        Built from the name: the state machine's ARN is a token at synth time, which no
        string replacement can turn into an execution ARN.
        """
        return f"arn:{Aws.PARTITION}:states:{Aws.REGION}:{Aws.ACCOUNT_ID}:execution:{self.name}"

    def target(
        self, dead_letter_queue: sqs.IQueue, request: Mapping[str, object] | None = None
    ) -> targets.SfnStateMachine:
        """An EventBridge rule target that starts this state machine, with ``request`` as
        its input (the whole event when None), retried and kept in ``dead_letter_queue``
        when it cannot be delivered."""
        return targets.SfnStateMachine(
            self.state_machine,
            input=events.RuleTargetInput.from_object(dict(request)) if request else None,
            dead_letter_queue=dead_letter_queue,
            retry_attempts=START_RETRIES,
            max_event_age=START_MAX_AGE,
        )

    def _grant(self, shared: StateMachineResources, steps: list[PipelineFunction]) -> None:
        stack = Stack.of(self)
        for step in steps:
            step.function.grant_invoke(self.role)
            acknowledge_synchronous_invocation(step.function, f"the {self.name} state machine")
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["events:PutEvents"], resources=[shared.bus.event_bus_arn])
        )
        # Covers the role and the role EventBridge assumes to start an execution.
        acknowledge_inline_policy(self)
        invocations = (
            f"{PACK}-IAM5[Resource::<{stack.resolve(stack.get_logical_id(resource))}.Arn>:*]"
            for step in steps
            if isinstance(resource := step.function.node.default_child, CfnElement)
        )
        acknowledge(
            self.role,
            "Lambda invocations include versions (:*). Log delivery and X-Ray support no "
            "resource-level permissions.",
            f"{PACK}-IAM5[Resource::*]",
            *invocations,
        )
