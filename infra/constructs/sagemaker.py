"""SageMaker's side of the pipeline: the execution role, the framework image, the code.

Training and batch transform jobs run as one role with exactly the artifacts bucket's
prefixes it needs; they run the scikit-learn framework image, resolved per region at
synth time, and the repo's ``training/`` as the script-mode source directory.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from aws_cdk import Aws, CfnMapping, CfnRule, CfnRuleAssertion, Fn, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct
from driftline_runtime import layout, names

from infra.config import StageConfig
from infra.constructs.functions import contracts_layer
from infra.constructs.nag import PACK, acknowledge, acknowledge_inline_policy, resource_finding
from infra.constructs.training_code import DatasetTrainingCode, sourcedir_tarball
from infra.packaging import ROOT

TRAINING_CODE = ROOT / "training"
RUNTIME_LIBRARY = ROOT / "layers" / "runtime" / "python"
# What training/ imports from the runtime layer, which the framework container lacks.
BUNDLED_FROM_LAYER = ("driftline_runtime/__init__.py", "driftline_runtime/names.py")
# The SageMaker scikit-learn framework container; its scikit-learn matches the one the
# local cloud's framework environment and the unit tests use.
SKLEARN_FRAMEWORK_VERSION = "1.9-0"
# SageMaker's XGBoost framework container, for datasets whose spec trains with XGBoost
# (TrainingSpec.algorithm); it runs the same script-mode entry points.
XGBOOST_FRAMEWORK_VERSION = "3.2-0"
TRAINING_PROGRAM = "train.py"
INFERENCE_PROGRAM = "inference.py"


@cache
def sklearn_images() -> dict[str, dict[str, str]]:
    """Image URIs per region, from the SageMaker SDK (imported here: it is slow to load):
    ``uri`` the scikit-learn image, ``xgboost`` the XGBoost one, in the regions that
    publish both."""
    from sagemaker.core import image_uris  # noqa: PLC0415

    def regions_of(framework: str, version: str) -> set[str]:
        config = image_uris.config_for_framework(framework)["training"]["versions"]
        return set(config[version]["registries"])

    regions = regions_of("sklearn", SKLEARN_FRAMEWORK_VERSION) & regions_of(
        "xgboost", XGBOOST_FRAMEWORK_VERSION
    )
    return {
        region: {
            "uri": image_uris.retrieve(
                framework="sklearn",
                region=region,
                version=SKLEARN_FRAMEWORK_VERSION,
                image_scope="training",
            ),
            "xgboost": image_uris.retrieve(
                framework="xgboost",
                region=region,
                version=XGBOOST_FRAMEWORK_VERSION,
                image_scope="training",
            ),
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
    """``sourcedir.tar.gz`` of training/ (see ``sourcedir_tarball``)."""
    return sourcedir_tarball(source_files())


class SageMakerJobs(Construct):
    """The role SageMaker jobs run as, the image they run and the code they run."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        key: kms.IKey,
        artifacts: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        self.config, self.key, self.artifacts = config, key, artifacts
        self.source = s3_assets.Asset(self, "Source", path=str(source_tarball()))
        regions = sklearn_images()
        self._require_image_region(sorted(regions))
        images = CfnMapping(self, "Images", mapping=regions, lazy=True)
        self.image = images.find_in_map(Stack.of(self).region, "uri")
        # The image per training algorithm a dataset's spec may choose.
        self.images = {
            "hist_gradient_boosting": self.image,
            "xgboost": images.find_in_map(Stack.of(self).region, "xgboost"),
        }
        # Datasets that bring their own training code (TrainingSpec.source_dir).
        self.dataset_code = DatasetTrainingCode(
            self,
            "DatasetCode",
            datasets=contracts_layer(tuple(config.extra_contract_folders)).datasets,
        )
        self.role = self._role()

    def _require_image_region(self, regions: list[str]) -> None:
        """SageMaker's scikit-learn image exists in ``regions`` only: a stack for another
        region stops the synth when its region is known, and otherwise CloudFormation
        refuses it before creating anything, with a message that says why (instead of a
        failed mapping lookup)."""
        region = Stack.of(self).region
        message = (
            f"SageMaker's scikit-learn {SKLEARN_FRAMEWORK_VERSION} and XGBoost "
            f"{XGBOOST_FRAMEWORK_VERSION} images, which driftline's training and inference "
            f"run in, are not published in this region; deploy to one "
            f"of: {', '.join(regions)}"
        )
        if not Token.is_unresolved(region):
            if region not in regions:
                raise ValueError(message.replace("this region", f"region {region}"))
            return
        CfnRule(
            self,
            "ImageRegion",
            assertions=[
                CfnRuleAssertion(
                    assert_=Fn.condition_contains(regions, Aws.REGION),
                    assert_description=message,
                )
            ],
        )

    @property
    def vpc_config(self) -> dict[str, list[str]] | None:
        """The stage's VPC for jobs and models (SageMaker's VpcConfig), or None."""
        if not self.config.sagemaker_subnet_ids:
            return None
        return {
            "Subnets": list(self.config.sagemaker_subnet_ids),
            "SecurityGroupIds": list(self.config.sagemaker_security_group_ids),
        }

    @property
    def model_settings(self) -> str:
        """``driftline_runtime.steps.ModelSettings`` as JSON, for the functions that build
        CreateModel requests: the role models run as and the stage's VPC."""
        return Stack.of(self).to_json_string(
            {"role_arn": self.role.role_arn, "vpc_config": self.vpc_config}
        )

    @property
    def source_url(self) -> str:
        """The S3 URL of ``sourcedir.tar.gz`` (SAGEMAKER_SUBMIT_DIRECTORY)."""
        return self.source.s3_object_url

    def _role(self) -> iam.Role:
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="Runs driftline's training and transform jobs",
        )
        artifacts = self.artifacts
        channels = artifacts.arn_for_objects(f"{layout.TRAINING_PREFIX}/*")
        models = artifacts.arn_for_objects(f"{layout.MODELS_PREFIX}/*")
        # Batch transform: input parts and outputs of each run.
        inference = artifacts.arn_for_objects(f"{layout.INFERENCE_PREFIX}/*")
        job_logs = (
            f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:"
            f"{names.SAGEMAKER_LOGS_PREFIX}*"
        )
        # AWS publishes the framework images from a different account per region.
        images = f"arn:{Aws.PARTITION}:ecr:{Aws.REGION}:*:repository/sagemaker-scikit-learn"
        xgboost_images = f"arn:{Aws.PARTITION}:ecr:{Aws.REGION}:*:repository/sagemaker-xgboost"
        source = self.source.bucket.arn_for_objects(self.source.s3_object_key)
        for actions, resources in (
            (
                ["s3:GetObject"],
                [channels, source, *self.dataset_code.object_arns, models, inference],
            ),
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
                [self.key.key_arn],
            ),
            (["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], [job_logs]),
            (["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], [images, xgboost_images]),
            (["cloudwatch:PutMetricData", "ecr:GetAuthorizationToken"], ["*"]),
        ):
            role.add_to_policy(iam.PolicyStatement(actions=actions, resources=resources))
        if self.config.sagemaker_subnet_ids:
            grant_network_interfaces(role, self.config)
        acknowledge_inline_policy(role)
        acknowledge(
            role,
            "Training jobs read their channels and write models, transform jobs read models "
            "and inference input and write their output, under fixed prefixes of the "
            "artifacts bucket; jobs log to SageMaker's own log groups, and pull the scikit-learn "
            "and XGBoost images from the account AWS publishes them from in each region. "
            "PutMetricData and "
            "GetAuthorizationToken support no resource-level permissions.",
            *(
                resource_finding(self, arn)
                for arn in (channels, models, inference, job_logs, images, xgboost_images)
            ),
            f"{PACK}-IAM5[Resource::*]",
        )
        return role


def grant_network_interfaces(role: iam.Role, config: StageConfig) -> None:
    """What SageMaker needs to place a job's network interfaces in the stage's VPC."""
    ec2 = f"arn:{Aws.PARTITION}:ec2:{Aws.REGION}:{Aws.ACCOUNT_ID}"
    interfaces = f"{ec2}:network-interface/*"
    placement = [f"{ec2}:subnet/{s}" for s in config.sagemaker_subnet_ids] + [
        f"{ec2}:security-group/{g}" for g in config.sagemaker_security_group_ids
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
        resource_finding(role, interfaces),
    )
