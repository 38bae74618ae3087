"""The one definition of a driftline Lambda function, and the layers they share.

Every function gets the same runtime, architecture, layers, tracing and Powertools
settings, its own role (no managed policies: it may write its own log group and
nothing else until a grant adds more), and its own KMS-encrypted log group.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Size
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct
from driftline_runtime import names

from infra.config import StageConfig
from infra.constructs.nag import (
    HIPAA,
    PACK,
    acknowledge,
    acknowledge_inline_policy,
    wildcard_resource,
)
from infra.contracts_layer import ContractsLayer, build_layer
from infra.packaging import ROOT, build_dependency_layer, compiled_copy
from infra.platforms import asset_platform

FUNCTIONS = ROOT / "functions"
LAYERS = ROOT / "layers"
# Pinned, not "latest": the dependency layer's wheels are built for CPython 3.13 and
# the local cloud runs functions with Python 3.13.
RUNTIME = lambda_.Runtime.PYTHON_3_13
DEFAULT_TIMEOUT = Duration.seconds(30)
ARCHITECTURES = {"x86_64": lambda_.Architecture.X86_64, "arm64": lambda_.Architecture.ARM_64}
LOG_RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
}


def log_retention(days: int) -> logs.RetentionDays:
    if days not in LOG_RETENTION:
        raise ValueError(f"log_retention_days must be one of {sorted(LOG_RETENTION)}, got {days}")
    return LOG_RETENTION[days]


@cache
def contracts_layer(extra_folders: tuple[str, ...]) -> ContractsLayer:
    """Checked once per synth, however many stacks build the layer."""
    return build_layer(extra_folders)


class SharedLayers(Construct):
    """The third-party dependency layer, the runtime library and the dataset contracts.

    The contracts layer is built from modules that were all imported and checked
    (``infra.contracts_layer``): a broken one stops the synth here, on every stage.

    Every stack with functions builds its own layer versions from the same assets
    (uploaded once): a layer version shared across stacks would be an export, which
    CloudFormation refuses to change while another stack imports it, so a changed
    contract could never reach the pipeline's functions.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig) -> None:
        super().__init__(scope, construct_id)
        architecture = ARCHITECTURES[config.lambda_architecture]
        dependencies = build_dependency_layer(
            LAYERS / "dependencies" / "requirements.txt",
            asset_platform(config.target, config.lambda_architecture),
        )

        def layer(name: str, folder: Path, description: str) -> lambda_.LayerVersion:
            # Folders built with their bytecode (infra.packaging): shipped whole.
            return lambda_.LayerVersion(
                self,
                name,
                code=lambda_.Code.from_asset(str(folder)),
                compatible_runtimes=[RUNTIME],
                compatible_architectures=[architecture],
                description=description,
            )

        self.dependencies = layer(
            "Dependencies", dependencies, "Third-party packages: Powertools, pydantic, pyarrow"
        )
        self.runtime = layer(
            "Runtime", compiled_copy(LAYERS / "runtime", "runtime"), "driftline runtime library"
        )
        contracts = contracts_layer(tuple(config.extra_contract_folders))
        # Each declared dataset described (name, kind, module, columns, rules, settings).
        self.datasets = contracts.datasets
        self.contracts = layer(
            "Contracts",
            compiled_copy(contracts.path, "contracts"),
            "driftline dataset declarations and their contracts",
        )

    @property
    def all(self) -> list[lambda_.ILayerVersion]:
        return [self.dependencies, self.runtime, self.contracts]


class PipelineFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        source: str,
        description: str,
        layers: SharedLayers,
        key: kms.IKey,
        environment: dict[str, str] | None = None,
        timeout: Duration | None = None,
        memory_size: int = 512,
        ephemeral_storage_mib: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        code_path = FUNCTIONS / source
        if not (code_path / "handler.py").is_file():
            raise ValueError(f"functions/{source}/handler.py does not exist")
        function_name = names.function_name(config.stage, source)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"{names.FUNCTION_LOGS_PREFIX}{function_name}",
            retention=log_retention(config.log_retention_days),
            encryption_key=key,
            removal_policy=RemovalPolicy.DESTROY
            if config.destroy_on_removal
            else RemovalPolicy.RETAIN,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Runs the {function_name} function",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[f"{self.log_group.log_group_arn}:*"],
            )
        )
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=function_name,
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURES[config.lambda_architecture],
            handler="handler.handler",
            code=lambda_.Code.from_asset(str(compiled_copy(code_path, f"function-{source}"))),
            layers=layers.all,
            role=self.role,
            log_group=self.log_group,
            timeout=timeout or DEFAULT_TIMEOUT,
            memory_size=memory_size,
            ephemeral_storage_size=Size.mebibytes(ephemeral_storage_mib)
            if ephemeral_storage_mib
            else None,
            reserved_concurrent_executions=config.lambda_reserved_concurrency,
            tracing=lambda_.Tracing.ACTIVE,
            environment={
                "POWERTOOLS_SERVICE_NAME": source,
                "POWERTOOLS_METRICS_NAMESPACE": names.METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": "INFO",
                "DRIFTLINE_STAGE": config.stage,
                **(environment or {}),
            },
        )
        acknowledge(
            self.role,
            "Log streams are created per execution environment, so the function may write "
            "any stream of its own log group, and no other group.",
            wildcard_resource(self.log_group.node.default_child, ":*"),  # type: ignore[arg-type]
        )
        acknowledge(
            self.role,
            "Active tracing: X-Ray's PutTraceSegments and PutTelemetryRecords support no "
            "resource-level permissions (AWS requires Resource '*').",
            f"{PACK}-IAM5[Resource::*]",
        )
        acknowledge_inline_policy(self.role)
        acknowledge(
            self.function,
            "Outside a VPC on purpose: the function reaches only AWS APIs (S3, DynamoDB, "
            "EventBridge, SageMaker), over TLS and authorised by its own role; a VPC would "
            "add NAT or an interface endpoint per service and protect no traffic that "
            "leaves AWS's network.",
            f"{HIPAA}-LambdaInsideVPC",
        )
        if config.lambda_reserved_concurrency is None:
            acknowledge(
                self.function,
                f"The {config.stage} stage reserves no concurrency (stage setting "
                "lambda_reserved_concurrency): a new account's quota of 10 leaves none to "
                "reserve, and reserving would fail the deployment there.",
                f"{HIPAA}-LambdaConcurrency",
            )
        acknowledge(
            self.function,
            "Pinned to python3.13 on purpose: the dependency layer's wheels are built for "
            "CPython 3.13 and the local cloud runs functions with Python 3.13.",
            f"{PACK}-L1",
        )
