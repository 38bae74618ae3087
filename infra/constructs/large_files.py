"""Files too large for the ingest function: validated by a SageMaker Processing job.

The ingest function starts the validation state machine (``state_machines/
validation.asl.json``) for a file above the stage's ``large_file_threshold_mib``, with
the whole ``CreateProcessingJob`` request built (``functions/ingest/processing.py``).
This construct owns what that needs: the job's code (``infra.validation_bundle``, one
S3 asset), the image (SageMaker's PyTorch CPU training image, which has CPython 3.13 and
boto3; resolved per region at synth time like the scikit-learn one), the role the job
runs as (the function's own data access, nothing of the pipeline's), the state machine
and its grants, and the function's settings and permission to start it.

The function refers to the state machine by the ARN its name gives, not by a token: the
state machine's definition names the function (its RecordFailure step), and tokens both
ways would be a cycle CloudFormation refuses.
"""

from __future__ import annotations

from functools import cache

from aws_cdk import Aws, CfnMapping, CfnRule, CfnRuleAssertion, Fn, Stack, Token
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct
from driftline_runtime import names
from driftline_runtime.layout import CURATED_PREFIXES

from infra.config import StageConfig
from infra.constructs.functions import PipelineFunction
from infra.constructs.nag import PACK, acknowledge, acknowledge_inline_policy, resource_finding
from infra.constructs.sagemaker import grant_network_interfaces
from infra.constructs.state_machine import PipelineStateMachine, StateMachineResources
from infra.platforms import asset_platform
from infra.validation_bundle import validation_bundle

# SageMaker's PyTorch CPU training image: CPython 3.13 (the bundle's compiled modules are
# built for it) and boto3; the job uses nothing of PyTorch.
PYTORCH_VERSION = "2.10.0"
PYTORCH_PYTHON = "py313"
IMAGE_REPOSITORY = "pytorch-training"
# Processing instances are x86_64: the bundle's wheels are built for it on AWS.
JOB_ARCHITECTURE = "x86_64"
INSTANCE_TYPE = "ml.m5.xlarge"
# A file at S3's limit (5 TiB) is not validated in this; the job is stopped and the
# file quarantined (validation_job_failed), which says so.
MAX_RUNTIME_SECONDS = 12 * 3600
JOB_LOGS = f"{names.SAGEMAKER_LOGS_PREFIX}ProcessingJobs"


@cache
def pytorch_images() -> dict[str, dict[str, str]]:
    """The image URI per region, from the SageMaker SDK (slow to import: only here)."""
    from sagemaker.core import image_uris  # noqa: PLC0415

    config = image_uris.config_for_framework("pytorch")["training"]["versions"]
    return {
        region: {
            "uri": image_uris.retrieve(
                framework="pytorch",
                region=region,
                version=PYTORCH_VERSION,
                py_version=PYTORCH_PYTHON,
                image_scope="training",
                instance_type=INSTANCE_TYPE,
            )
        }
        for region in sorted(config[PYTORCH_VERSION]["registries"])
    }


class LargeFileValidation(Construct):
    """The Processing job route of the ingest function (see the module docstring)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        resources: StateMachineResources,
        ingest: PipelineFunction,
        raw: s3.IBucket,
        curated: s3.IBucket,
        quarantine: s3.IBucket,
        lineage: dynamodb.ITable,
    ) -> None:
        super().__init__(scope, construct_id)
        config: StageConfig = resources.config
        self.config, self.key, self.bus = config, resources.key, resources.bus
        self.code = s3_assets.Asset(
            self,
            "Code",
            path=str(
                validation_bundle(
                    asset_platform(config.target, JOB_ARCHITECTURE),
                    tuple(config.extra_contract_folders),
                )
            ),
        )
        self.image = self._image()
        self.job_role = self._job_role(raw, curated, quarantine, lineage)
        self.machine = PipelineStateMachine(
            self,
            "StateMachine",
            shared=resources,
            name=names.VALIDATION_STATE_MACHINE,
            definition="validation.asl.json",
            functions={"IngestFunctionArn": ingest},
        )
        self._grant_processing_jobs()
        # Built from the name (see the module docstring).
        self.state_machine_arn = (
            f"arn:{Aws.PARTITION}:states:{Aws.REGION}:{Aws.ACCOUNT_ID}:stateMachine:"
            f"{self.machine.name}"
        )
        self._route(ingest)

    def _image(self) -> str:
        regions = pytorch_images()
        region = Stack.of(self).region
        message = (
            f"SageMaker's PyTorch {PYTORCH_VERSION} image, which validates large files, is "
            f"not published in this region; deploy to one of: {', '.join(regions)}"
        )
        if not Token.is_unresolved(region):
            if region not in regions:
                raise ValueError(message.replace("this region", f"region {region}"))
        else:
            CfnRule(
                self,
                "ImageRegion",
                assertions=[
                    CfnRuleAssertion(
                        assert_=Fn.condition_contains(sorted(regions), Aws.REGION),
                        assert_description=message,
                    )
                ],
            )
        return CfnMapping(self, "Images", mapping=regions, lazy=True).find_in_map(region, "uri")

    def _job_role(
        self,
        raw: s3.IBucket,
        curated: s3.IBucket,
        quarantine: s3.IBucket,
        lineage: dynamodb.ITable,
    ) -> iam.Role:
        """What the ingest function may do with data, and the job's code, image and logs."""
        role = iam.Role(
            self,
            "JobRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="Runs driftline's large-file validation jobs",
        )
        raw_objects = raw.arn_for_objects("*")
        curated_objects = [curated.arn_for_objects(f"{p}/*") for p in CURATED_PREFIXES]
        quarantined = quarantine.arn_for_objects("*")
        logs = f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:{JOB_LOGS}:*"
        # AWS publishes the framework images from a different account per region.
        image = f"arn:{Aws.PARTITION}:ecr:{Aws.REGION}:*:repository/{IMAGE_REPOSITORY}"
        code = self.code.bucket.arn_for_objects(self.code.s3_object_key)
        for actions, resources in (
            (["s3:GetObject", "s3:GetObjectVersion"], [raw_objects]),
            (["s3:GetObject"], [code]),
            (["s3:PutObject"], [*curated_objects, quarantined]),
            (["kms:Decrypt", "kms:GenerateDataKey"], [self.key.key_arn]),
            (["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"], [lineage.table_arn]),
            (["events:PutEvents"], [self.bus.event_bus_arn]),
            (["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], [logs]),
            (["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], [image]),
            (["cloudwatch:PutMetricData", "ecr:GetAuthorizationToken"], ["*"]),
        ):
            role.add_to_policy(iam.PolicyStatement(actions=actions, resources=resources))
        # SageMaker lists an S3Prefix input before downloading it: the code object only.
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[self.code.bucket.bucket_arn],
                conditions={"StringEquals": {"s3:prefix": self.code.s3_object_key}},
            )
        )
        if self.config.sagemaker_subnet_ids:
            grant_network_interfaces(role, self.config)
        acknowledge_inline_policy(role)
        acknowledge(
            role,
            "The job does what the ingest function does for one file: it reads whichever raw "
            "object it is given and writes under the curated bucket's fixed prefixes and "
            "anywhere in the quarantine bucket (one folder per rejected file); it logs to "
            "SageMaker's processing log group's streams and pulls the image from the account "
            "AWS publishes it from in each region. PutMetricData and GetAuthorizationToken "
            "support no resource-level permissions.",
            *(
                resource_finding(role, arn)
                for arn in (raw_objects, *curated_objects, quarantined, logs, image)
            ),
            f"{PACK}-IAM5[Resource::*]",
        )
        return role

    def _grant_processing_jobs(self) -> None:
        """The state machine creates, follows (``.sync``) and stops the stage's jobs."""
        role = self.machine.role
        region = f"{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        jobs = f"arn:{region}:processing-job/{names.job_prefix(self.config.stage)}*"
        # The managed rule through which Step Functions learns that a job finished.
        sync_rule = (
            f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:rule/"
            "StepFunctionsGetEventsForSageMakerProcessingJobsRule"
        )
        verbs = ("Create", "Describe", "Stop")
        for actions, resources in (
            ([*(f"sagemaker:{verb}ProcessingJob" for verb in verbs), "sagemaker:AddTags"], [jobs]),
            (["events:PutTargets", "events:PutRule", "events:DescribeRule"], [sync_rule]),
            # The job's volume is encrypted with the project key (VolumeKmsKeyId).
            (["kms:CreateGrant", "kms:DescribeKey"], [self.key.key_arn]),
        ):
            role.add_to_principal_policy(iam.PolicyStatement(actions=actions, resources=resources))
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.job_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        acknowledge(
            role,
            "Validation jobs are named by the object they validate, under the stage's job "
            "prefix: the grant covers that prefix only.",
            resource_finding(role, jobs),
        )

    def _route(self, ingest: PipelineFunction) -> None:
        """The function's settings for building the job's request, and starting it."""
        variables = {
            "DRIFTLINE_STAGE": self.config.stage,
            "VALIDATION_STATE_MACHINE_ARN": self.state_machine_arn,
            "PROCESSING_IMAGE_URI": self.image,
            "PROCESSING_ROLE_ARN": self.job_role.role_arn,
            "PROCESSING_INSTANCE_TYPE": INSTANCE_TYPE,
            "PROCESSING_MAX_RUNTIME_SECONDS": str(MAX_RUNTIME_SECONDS),
            "PROCESSING_CODE_BUCKET": self.code.s3_bucket_name,
            "PROCESSING_CODE_KEY": self.code.s3_object_key,
            "PROCESSING_KEY_ARN": self.key.key_arn,
            "PROCESSING_SUBNETS": ",".join(self.config.sagemaker_subnet_ids),
            "PROCESSING_SECURITY_GROUPS": ",".join(self.config.sagemaker_security_group_ids),
        }
        for name, value in variables.items():
            ingest.function.add_environment(name, value)
        ingest.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["states:StartExecution"], resources=[self.state_machine_arn]
            )
        )
