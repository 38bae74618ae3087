"""Training: a validated training dataset version becomes a registered model.

DatasetValidated(kind=training) --rule--> the training state machine
(state_machines/training.asl.json): prepare channels -> SageMaker training (.sync) ->
evaluate against the champion -> register by policy -> ModelRegistered/ModelRejected
(TrainingFailed from any step).
"""

from __future__ import annotations

import json

from aws_cdk import Aws, Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from driftline_runtime import layout, names
from driftline_runtime.events import DatasetValidated

from infra.constructs.functions import PipelineFunction
from infra.constructs.nag import PACK, acknowledge, resource_finding
from infra.constructs.queues import failure_queue
from infra.constructs.sagemaker import INFERENCE_PROGRAM, TRAINING_PROGRAM
from infra.constructs.sagemaker_tasks import grant_sagemaker_tasks
from infra.constructs.shared import SharedResources
from infra.constructs.state_machine import PipelineStateMachine

# What every training job of a stage gets beyond the stage config.
HYPERPARAMETERS = {"max_iter": "200", "learning_rate": "0.1"}


class TrainingPipeline(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, shared: SharedResources) -> None:
        super().__init__(scope, construct_id)
        self.shared = shared
        self.functions = self._functions()
        self.state_machine = PipelineStateMachine(
            self,
            "StateMachine",
            shared=shared,
            name=names.TRAINING_STATE_MACHINE,
            definition="training.asl.json",
            functions={
                "PrepareFunctionArn": self.functions["prepare"],
                "EvaluateFunctionArn": self.functions["evaluate"],
                "RegisterFunctionArn": self.functions["register"],
            },
        )
        grant_sagemaker_tasks(
            self.state_machine,
            shared=shared,
            job_kind="training",
            reason="Training jobs and models are named per run "
            "(dl-<stage>-<dataset>-<version>-<time>); the grant is limited to that prefix.",
        )
        self.queues: dict[str, sqs.IQueue] = {"undelivered_training_starts": self._trigger()}

    # -- functions -------------------------------------------------------------------
    def _functions(self) -> dict[str, PipelineFunction]:
        shared = self.shared
        config, sagemaker = shared.config, shared.sagemaker
        training_job = Stack.of(self).to_json_string(
            {
                "role_arn": sagemaker.role.role_arn,
                "image": sagemaker.image,
                "images": sagemaker.images,
                "instance_type": config.training_instance_type,
                "max_runtime_seconds": config.training_max_runtime_seconds,
                "volume_kms_key": shared.key.key_arn,
                "source_dir": sagemaker.source_url,
                "program": TRAINING_PROGRAM,
                # Datasets with their own training code: its sourcedir.tar.gz and script.
                "dataset_code": sagemaker.dataset_code.settings,
                "hyperparameters": HYPERPARAMETERS,
                "vpc_config": sagemaker.vpc_config,
            }
        )
        # The primary metric, its direction and the minimum are each dataset's (its spec).
        policy = json.dumps(
            {
                "min_improvement": config.approval_min_improvement,
                "when_not_better": config.approval_when_not_better,
            }
        )
        functions = {
            "prepare": shared.function(
                self,
                "PrepareTraining",
                source="prepare_training",
                description="Splits a window of validated training versions into channels",
                memory_size=1769,
                timeout=Duration.minutes(5),
                environment={
                    "CURATED_BUCKET": shared.buckets.curated.bucket_name,
                    "ARTIFACTS_BUCKET": shared.buckets.artifacts.bucket_name,
                    "TRAINING_JOB": training_job,
                    "MODEL_PACKAGE_GROUP_PREFIX": shared.model_group_prefix,
                },
            ),
            "evaluate": shared.function(
                self,
                "EvaluateModel",
                source="evaluate_model",
                description="Compares a trained model with its dataset's champion",
                environment={
                    "MODEL_PACKAGE_GROUP_PREFIX": shared.model_group_prefix,
                    "APPROVAL_POLICY": policy,
                },
            ),
            "register": shared.function(
                self,
                "RegisterModel",
                source="register_model",
                description="Registers a trained model in its dataset's model package group",
                environment={
                    "INFERENCE_PROGRAM": INFERENCE_PROGRAM,
                    "MODEL": sagemaker.model_settings,
                },
            ),
        }
        self._grant_functions(functions)
        return functions

    def _grant_functions(self, functions: dict[str, PipelineFunction]) -> None:
        shared = self.shared
        artifacts, key = shared.buckets.artifacts, shared.key
        prepare = functions["prepare"].role
        prepare.add_managed_policy(shared.curated_reader)
        writes = [artifacts.arn_for_objects(f"{layout.TRAINING_PREFIX}/*")]
        for actions, resources in (
            # Reads back the champion's run manifest (its training window).
            (["s3:PutObject", "s3:GetObject"], writes),
            (["kms:GenerateDataKey", "kms:Decrypt"], [key.key_arn]),
        ):
            prepare.add_to_principal_policy(
                iam.PolicyStatement(actions=actions, resources=resources)
            )
        registry = f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        groups = f"{registry}:model-package-group/{shared.model_group_prefix}-*"
        packages = f"{registry}:model-package/{shared.model_group_prefix}-*/*"
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
            # The champion whose model the job scores on the challenger's holdout.
            ("prepare", ["sagemaker:DescribeModelPackage"]),
        ):
            functions[name].role.add_to_principal_policy(
                iam.PolicyStatement(actions=actions, resources=[groups, packages])
            )
        # SageMaker's List* actions take no resource: Resource "*" is the only form.
        for name in ("evaluate", "prepare"):
            functions[name].role.add_to_principal_policy(
                iam.PolicyStatement(actions=["sagemaker:ListModelPackages"], resources=["*"])
            )
            acknowledge(
                functions[name].role,
                "sagemaker:ListModelPackages supports no resource-level permissions; the "
                "function lists only its dataset's group.",
                f"{PACK}-IAM5[Resource::*]",
            )
        register = functions["register"].role
        models = artifacts.arn_for_objects(f"{layout.MODELS_PREFIX}/*")
        for actions, resources in (
            (["s3:GetObject", "s3:PutObject"], [models]),
            (["kms:Decrypt", "kms:GenerateDataKey"], [key.key_arn]),
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
            "Writes the channels and manifest of whichever window it is asked to train on, "
            "and reads the champion's run manifest, under the artifacts bucket's training/ "
            "prefix only.",
            *(resource_finding(self, arn) for arn in writes),
        )
        for name in ("evaluate", "register", "prepare"):
            acknowledge(
                functions[name].role,
                "Model package groups and packages are created per dataset at run time; the "
                "grant is limited to this stage's name prefix.",
                resource_finding(self, groups),
                resource_finding(self, packages),
            )

    # -- the trigger -------------------------------------------------------------------
    def _trigger(self) -> sqs.Queue:
        rule = events.Rule(
            self,
            "TrainOnValidatedData",
            event_bus=self.shared.bus,
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
            key=self.shared.key,
            holds="training starts the rule could not deliver (its target's dead-letter queue)",
        )
        rule.add_target(self.state_machine.target(undelivered))
        return undelivered
