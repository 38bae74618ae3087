"""The model lifecycle: validated data becomes registered models, predictions and drift.

DatasetValidated(kind=training) --rule--> TrainingStateMachine (state_machines/training.asl.json):
prepare channels -> SageMaker training (.sync) -> evaluate vs champion -> register -> event
DatasetValidated(kind=inference) --rule--> batch inference, drift monitor, retraining
(``infra.constructs.batch_inference``).
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from functools import cache
from pathlib import Path

from aws_cdk import Aws, CfnMapping, CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct
from driftline_runtime import layout, names
from driftline_runtime.events import DatasetValidated

from infra.config import StageConfig
from infra.constructs.batch_inference import BatchInference
from infra.constructs.buckets import AccessLogsBucket, DataBucket
from infra.constructs.functions import PipelineFunction, log_retention
from infra.constructs.nag import (
    PACK,
    acknowledge,
    acknowledge_inline_policy,
    acknowledge_synchronous_invocation,
    resource_finding,
)
from infra.constructs.queues import failure_queue
from infra.constructs.sagemaker_tasks import grant_sagemaker_tasks
from infra.packaging import CACHE, ROOT, STATE_MACHINES
from infra.stacks.data_stack import DataStack
from training.metrics import METRIC_DEFINITIONS

TRAINING_CODE = ROOT / "training"
RUNTIME_LIBRARY = ROOT / "layers" / "runtime" / "python"
# What training/ imports from the runtime layer, which the framework container lacks.
BUNDLED_FROM_LAYER = ("driftline_runtime/__init__.py", "driftline_runtime/names.py")
# The SageMaker scikit-learn framework container; its scikit-learn matches the one the
# local cloud's framework environment and the unit tests use.
SKLEARN_FRAMEWORK_VERSION = "1.9-0"
TRAINING_PROGRAM = "train.py"
INFERENCE_PROGRAM = "inference.py"


@cache
def sklearn_images() -> dict[str, dict[str, str]]:
    """Image URI per region, from the SageMaker SDK (imported here: it is slow to load)."""
    from sagemaker.core import image_uris  # noqa: PLC0415

    config = image_uris.config_for_framework("sklearn")["training"]["versions"]
    regions = config[SKLEARN_FRAMEWORK_VERSION]["registries"]
    return {
        region: {
            "uri": image_uris.retrieve(
                framework="sklearn",
                region=region,
                version=SKLEARN_FRAMEWORK_VERSION,
                image_scope="training",
            )
        }
        for region in sorted(regions)
    }


def source_files() -> dict[str, Path]:
    """What the SageMaker source directory holds: archive name -> file.

    Every module of training/ at its relative path, and the runtime layer's names module
    as ``driftline_runtime/names.py``, so training imports it as everything else does.
    """
    files = {
        path.relative_to(TRAINING_CODE).as_posix(): path
        for path in sorted(TRAINING_CODE.rglob("*.py"))
        if "__pycache__" not in path.parts
    }
    files.update({name: RUNTIME_LIBRARY / name for name in BUNDLED_FROM_LAYER})
    return dict(sorted(files.items()))


def source_tarball() -> Path:
    """``sourcedir.tar.gz`` of training/, byte-stable so its asset hash only moves with code."""
    files = source_files()
    digest = hashlib.sha256(
        b"".join(name.encode() + b"\0" + path.read_bytes() for name, path in files.items())
    ).hexdigest()[:16]
    target = CACHE.parent / "training" / f"sourcedir-{digest}.tar.gz"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as archive:
        for name, path in files.items():
            info = tarfile.TarInfo(name)
            info.size = path.stat().st_size
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(path.read_bytes()))
    target.write_bytes(buffer.getvalue())
    return target


class PipelineStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        data: DataStack,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.config = config
        self.data = data
        # Its own access-log target: CDK can only add the log-delivery policy's source
        # conditions for a target bucket in the same stack.
        access_logs = AccessLogsBucket(self, "AccessLogs", config=config).bucket
        self.artifacts_bucket = DataBucket(
            self,
            "Artifacts",
            config=config,
            key=data.key,
            access_logs=access_logs,
            retention_days=None,
        ).bucket
        self.source = s3_assets.Asset(self, "TrainingSource", path=str(source_tarball()))
        images = CfnMapping(self, "SklearnImages", mapping=sklearn_images(), lazy=True)
        self.image = images.find_in_map(self.region, "uri")
        self.sagemaker_role = self._sagemaker_role()
        self.group_prefix = config.prefix
        self.functions = self._functions()
        self.state_machine = self._state_machine()
        self.queues: dict[str, sqs.IQueue] = {"undelivered_training_starts": self._trigger()}
        self.inference = BatchInference(
            self,
            "BatchInference",
            config=config,
            data=data,
            artifacts=self.artifacts_bucket,
            access_logs=access_logs,
            sagemaker_role=self.sagemaker_role,
            training=self.state_machine,
            group_prefix=self.group_prefix,
        )
        # What the monitoring stack alarms on: every state machine, every function and
        # every queue where failed work waits. Add new ones to these dicts.
        self.functions = {**self.functions, **self.inference.functions}
        self.queues.update(self.inference.queues)
        self.state_machines: dict[str, sfn.StateMachine] = {
            "training": self.state_machine,
            "batch_inference": self.inference.state_machine,
        }
        CfnOutput(
            self, names.TRAINING_STATE_MACHINE_OUTPUT, value=self.state_machine.state_machine_arn
        )
        CfnOutput(
            self,
            names.BATCH_INFERENCE_STATE_MACHINE_OUTPUT,
            value=self.inference.state_machine.state_machine_arn,
        )
        CfnOutput(self, names.ARTIFACTS_BUCKET_OUTPUT, value=self.artifacts_bucket.bucket_name)
        CfnOutput(
            self,
            names.PREDICTIONS_BUCKET_OUTPUT,
            value=self.inference.predictions_bucket.bucket_name,
        )
        CfnOutput(self, names.COOLDOWN_TABLE_OUTPUT, value=self.inference.cooldown_table.table_name)
        CfnOutput(self, names.MODEL_PACKAGE_GROUP_PREFIX_OUTPUT, value=self.group_prefix)

    # -- SageMaker's side ------------------------------------------------------------
    def _sagemaker_role(self) -> iam.Role:
        role = iam.Role(
            self,
            "SageMakerRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="Runs driftline's training and transform jobs",
        )
        artifacts = self.artifacts_bucket
        channels = artifacts.arn_for_objects(f"{layout.TRAINING_PREFIX}/*")
        models = artifacts.arn_for_objects(f"{layout.MODELS_PREFIX}/*")
        # Batch transform: input parts and outputs of each run.
        inference = artifacts.arn_for_objects(f"{layout.INFERENCE_PREFIX}/*")
        job_logs = (
            f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:/aws/sagemaker/*"
        )
        # AWS publishes the framework images from a different account per region.
        images = f"arn:{Aws.PARTITION}:ecr:{Aws.REGION}:*:repository/sagemaker-scikit-learn"
        source = self.source.bucket.arn_for_objects(self.source.s3_object_key)
        for actions, resources in (
            (["s3:GetObject"], [channels, source, models, inference]),
            (["s3:PutObject"], [models, inference]),
            (["s3:ListBucket"], [artifacts.bucket_arn]),
            (
                [
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:GenerateDataKey",
                    "kms:CreateGrant",
                    "kms:DescribeKey",
                ],
                [self.data.key.key_arn],
            ),
            (["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], [job_logs]),
            (["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], [images]),
            (["cloudwatch:PutMetricData", "ecr:GetAuthorizationToken"], ["*"]),
        ):
            role.add_to_policy(iam.PolicyStatement(actions=actions, resources=resources))
        if self.config.sagemaker_subnet_ids:
            self._grant_network_interfaces(role)
        acknowledge_inline_policy(role)
        acknowledge(
            role,
            "Training jobs read their channels and write models, transform jobs read models "
            "and inference input and write their output, under fixed prefixes of the "
            "artifacts bucket; jobs log to SageMaker's own log groups, and pull the scikit-learn "
            "image from the account AWS publishes it from in each region. PutMetricData and "
            "GetAuthorizationToken support no resource-level permissions.",
            *(
                resource_finding(self, arn)
                for arn in (channels, models, inference, job_logs, images)
            ),
            f"{PACK}-IAM5[Resource::*]",
        )
        return role

    def _grant_network_interfaces(self, role: iam.Role) -> None:
        """What SageMaker needs to place a job's network interfaces in the stage's VPC."""
        ec2 = f"arn:{Aws.PARTITION}:ec2:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        interfaces = f"{ec2}:network-interface/*"
        placement = [f"{ec2}:subnet/{s}" for s in self.config.sagemaker_subnet_ids] + [
            f"{ec2}:security-group/{g}" for g in self.config.sagemaker_security_group_ids
        ]
        for actions, resources in (
            (["ec2:CreateNetworkInterface"], [interfaces, *placement]),
            (
                [
                    "ec2:CreateNetworkInterfacePermission",
                    "ec2:DeleteNetworkInterface",
                    "ec2:DeleteNetworkInterfacePermission",
                ],
                [interfaces],
            ),
            # EC2's Describe* actions support no resource-level permissions.
            (
                [
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeVpcs",
                    "ec2:DescribeDhcpOptions",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeSecurityGroups",
                ],
                ["*"],
            ),
        ):
            role.add_to_policy(iam.PolicyStatement(actions=actions, resources=resources))
        acknowledge(
            role,
            "SageMaker creates one network interface per job instance with a name it chooses; "
            "creation is limited to the configured subnets and security groups.",
            resource_finding(self, interfaces),
        )

    # -- functions -------------------------------------------------------------------
    def _functions(self) -> dict[str, PipelineFunction]:
        config, data = self.config, self.data
        training_job = self.to_json_string(
            {
                "role_arn": self.sagemaker_role.role_arn,
                "image": self.image,
                "instance_type": config.training_instance_type,
                "max_runtime_seconds": config.training_max_runtime_seconds,
                "volume_kms_key": data.key.key_arn,
                "source_dir": self.source.s3_object_url,
                "program": TRAINING_PROGRAM,
                "hyperparameters": {"max_iter": "200", "learning_rate": "0.1"},
                "metric_definitions": METRIC_DEFINITIONS,
                "vpc_config": {
                    "Subnets": list(config.sagemaker_subnet_ids),
                    "SecurityGroupIds": list(config.sagemaker_security_group_ids),
                }
                if config.sagemaker_subnet_ids
                else None,
            }
        )
        policy = json.dumps(
            {
                "primary_metric": names.PRIMARY_METRIC,
                "minimum": config.approval_minimum,
                "min_improvement": config.approval_min_improvement,
                "when_not_better": config.approval_when_not_better,
            }
        )
        common = {"config": config, "layers": data.layers, "key": data.key}
        functions = {
            "prepare": PipelineFunction(
                self,
                "PrepareTraining",
                source="prepare_training",
                description="Splits a validated dataset version into training channels",
                memory_size=1769,
                timeout=Duration.minutes(5),
                environment={
                    "CURATED_BUCKET": data.curated_bucket.bucket_name,
                    "ARTIFACTS_BUCKET": self.artifacts_bucket.bucket_name,
                    "TRAINING_JOB": training_job,
                },
                **common,  # type: ignore[arg-type]
            ),
            "evaluate": PipelineFunction(
                self,
                "EvaluateModel",
                source="evaluate_model",
                description="Compares a trained model with its dataset's champion",
                environment={
                    "MODEL_PACKAGE_GROUP_PREFIX": self.group_prefix,
                    "APPROVAL_POLICY": policy,
                },
                **common,  # type: ignore[arg-type]
            ),
            "register": PipelineFunction(
                self,
                "RegisterModel",
                source="register_model",
                description="Registers a trained model in its dataset's model package group",
                environment={
                    "INFERENCE_PROGRAM": INFERENCE_PROGRAM,
                    "SOURCE_DIR": self.source.s3_object_url,
                },
                **common,  # type: ignore[arg-type]
            ),
        }
        self._grant_functions(functions)
        for function in functions.values():
            acknowledge_synchronous_invocation(function.function, "the training state machine")
        return functions

    def _grant_functions(self, functions: dict[str, PipelineFunction]) -> None:
        data = self.data
        prepare = functions["prepare"].role
        prepare.add_managed_policy(data.curated_reader)
        writes = [self.artifacts_bucket.arn_for_objects(f"{layout.TRAINING_PREFIX}/*")]
        for actions, resources in (
            (["s3:PutObject"], writes),
            (["kms:GenerateDataKey"], [data.key.key_arn]),
        ):
            prepare.add_to_principal_policy(
                iam.PolicyStatement(actions=actions, resources=resources)
            )
        registry = f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        groups = f"{registry}:model-package-group/{self.group_prefix}-*"
        packages = f"{registry}:model-package/{self.group_prefix}-*/*"
        for name, actions in (
            (
                "evaluate",
                [
                    "sagemaker:DescribeModelPackageGroup",
                    "sagemaker:CreateModelPackageGroup",
                    "sagemaker:DescribeModelPackage",
                ],
            ),
            ("register", ["sagemaker:CreateModelPackage"]),
        ):
            functions[name].role.add_to_principal_policy(
                iam.PolicyStatement(actions=actions, resources=[groups, packages])
            )
        # SageMaker's List* actions take no resource: Resource "*" is the only form.
        functions["evaluate"].role.add_to_principal_policy(
            iam.PolicyStatement(actions=["sagemaker:ListModelPackages"], resources=["*"])
        )
        acknowledge(
            functions["evaluate"].role,
            "sagemaker:ListModelPackages supports no resource-level permissions; the function "
            "lists only its dataset's group.",
            f"{PACK}-IAM5[Resource::*]",
        )
        register = functions["register"].role
        models = self.artifacts_bucket.arn_for_objects(f"{layout.MODELS_PREFIX}/*")
        for actions, resources in (
            (["s3:GetObject", "s3:PutObject"], [models]),
            (["kms:Decrypt", "kms:GenerateDataKey"], [data.key.key_arn]),
        ):
            register.add_to_principal_policy(
                iam.PolicyStatement(actions=actions, resources=resources)
            )
        acknowledge(
            register,
            "Copies each trained model's baseline.json out of its model.tar.gz to the model's "
            "folder, under the artifacts bucket's models/ prefix only.",
            resource_finding(self, models),
        )
        acknowledge(
            prepare,
            "Writes the channels of whichever version it is asked to train on, under the "
            "artifacts bucket's training/ prefix only.",
            *(resource_finding(self, arn) for arn in writes),
        )
        for name in ("evaluate", "register"):
            acknowledge(
                functions[name].role,
                "Model package groups and packages are created per dataset at run time; the "
                "grant is limited to this stage's name prefix.",
                resource_finding(self, groups),
                resource_finding(self, packages),
            )

    # -- the state machine -------------------------------------------------------------
    def _state_machine(self) -> sfn.StateMachine:
        log_group = logs.LogGroup(
            self,
            "TrainingLogs",
            log_group_name=names.STATE_MACHINE_LOGS_PREFIX
            + names.state_machine_name(self.config.stage, names.TRAINING_STATE_MACHINE),
            retention=log_retention(self.config.log_retention_days),
            encryption_key=self.data.key,
            removal_policy=RemovalPolicy.DESTROY,
        )
        state_machine = sfn.StateMachine(
            self,
            "TrainingStateMachine",
            state_machine_name=names.state_machine_name(
                self.config.stage, names.TRAINING_STATE_MACHINE
            ),
            definition_body=sfn.DefinitionBody.from_file(str(STATE_MACHINES / "training.asl.json")),
            definition_substitutions={
                "PrepareFunctionArn": self.functions["prepare"].function.function_arn,
                "EvaluateFunctionArn": self.functions["evaluate"].function.function_arn,
                "RegisterFunctionArn": self.functions["register"].function.function_arn,
                "SageMakerRoleArn": self.sagemaker_role.role_arn,
                "EventBusName": self.data.bus.event_bus_name,
                "InferenceProgram": INFERENCE_PROGRAM,
                "SourceDir": self.source.s3_object_url,
            },
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL),
        )
        self._grant_state_machine(state_machine)
        # Covers the state machine's role and the role EventBridge assumes to start it.
        acknowledge_inline_policy(state_machine)
        return state_machine

    def _grant_state_machine(self, state_machine: sfn.StateMachine) -> None:
        grant_sagemaker_tasks(
            state_machine,
            job_kind="training",
            sagemaker_role=self.sagemaker_role,
            key=self.data.key,
            bus=self.data.bus,
            functions=[f.function for f in self.functions.values()],
            reason="Training jobs and models are named per run (dl-<dataset>-<version>-<time>); "
            "the grant is limited to that prefix.",
        )

    def _trigger(self) -> sqs.Queue:
        rule = events.Rule(
            self,
            "TrainOnValidatedData",
            event_bus=self.data.bus,
            description="A validated training dataset version starts the training state machine",
            event_pattern=events.EventPattern(
                source=[DatasetValidated.SOURCE],
                detail_type=[DatasetValidated.detail_type()],
                detail={"kind": ["training"]},
            ),
        )
        # Starts EventBridge could not deliver after its retries are kept, not dropped.
        undelivered = failure_queue(
            self,
            "UndeliveredTrainingStarts",
            key=self.data.key,
            holds="training starts the rule could not deliver (its target's dead-letter queue)",
        )
        rule.add_target(
            targets.SfnStateMachine(
                self.state_machine,
                dead_letter_queue=undelivered,
                retry_attempts=8,
                max_event_age=Duration.hours(24),
            )
        )
        return undelivered
