"""The model registry: SageMaker model package groups, one per dataset.

Each package carries its metrics and its lineage (dataset, dataset version, training
job, state-machine execution) as customer metadata, so the registry alone answers
"which data made this model, and how good was it".
"""

from __future__ import annotations

from typing import Any

from driftline_runtime.approval import ApprovalStatus, Champion
from driftline_runtime.names import METRIC_METADATA_PREFIX


class NoApprovedModel(LookupError):
    """A dataset's group has no approved model package to score with."""


class MissingChampionMetric(ValueError):
    pass


class ModelRegistry:
    def __init__(self, sagemaker: Any) -> None:
        self._sagemaker = sagemaker

    def ensure_group(self, group: str, description: str) -> None:
        try:
            self._sagemaker.describe_model_package_group(ModelPackageGroupName=group)
        except self._sagemaker.exceptions.ClientError as error:
            # SageMaker answers a missing group with a ValidationException.
            if error.response["Error"]["Code"] != "ValidationException":
                raise
            try:
                self._sagemaker.create_model_package_group(
                    ModelPackageGroupName=group, ModelPackageGroupDescription=description
                )
            except self._sagemaker.exceptions.ClientError:
                # Another execution may have created it in between; if so, all is well.
                self._sagemaker.describe_model_package_group(ModelPackageGroupName=group)

    def newest_approved_arn(self, group: str) -> str | None:
        """The ARN of the newest approved package of ``group``; None if none (or no group)."""
        return self._newest_approved(group)

    def _newest_approved(self, group: str) -> str | None:
        """The ARN of the newest approved package of ``group``; None if none (or no group)."""
        try:
            summaries = self._sagemaker.list_model_packages(
                ModelPackageGroupName=group,
                ModelApprovalStatus="Approved",
                SortBy="CreationTime",
                SortOrder="Descending",
                MaxResults=1,
            )["ModelPackageSummaryList"]
        except self._sagemaker.exceptions.ClientError as error:
            if error.response["Error"]["Code"] != "ValidationException":
                raise
            return None  # the group does not exist: nothing was ever trained
        return str(summaries[0]["ModelPackageArn"]) if summaries else None

    def champion(self, group: str, metric: str) -> Champion | None:
        """The newest approved package of the group, with its value of ``metric``."""
        arn = self._newest_approved(group)
        if arn is None:
            return None
        described = self._sagemaker.describe_model_package(ModelPackageName=arn)
        value = described.get("CustomerMetadataProperties", {}).get(
            f"{METRIC_METADATA_PREFIX}{metric}"
        )
        if value is None:
            # Treating it as "no champion" would let any challenger replace it.
            raise MissingChampionMetric(
                f"The approved champion {arn} has no {metric!r} to compare with; approve or "
                "reject challengers by hand until it is re-registered with that metric"
            )
        return Champion(model_package_arn=arn, metric=float(value))

    def newest_approved_package(self, group: str) -> dict[str, Any] | None:
        """The newest approved package of ``group``, described; None if none (or no group)."""
        arn = self._newest_approved(group)
        if arn is None:
            return None
        described: dict[str, Any] = self._sagemaker.describe_model_package(ModelPackageName=arn)
        described.pop("ResponseMetadata", None)
        return described

    def latest_approved(self, group: str) -> dict[str, Any]:
        """The newest approved package of ``group``, described; NoApprovedModel if none."""
        arn = self._newest_approved(group)
        if arn is None:
            raise NoApprovedModel(
                f"No approved model in model package group {group!r}: train one (drop a "
                "training file) or approve a registered package before scoring"
            )
        described: dict[str, Any] = self._sagemaker.describe_model_package(ModelPackageName=arn)
        described.pop("ResponseMetadata", None)
        return described

    def register(
        self,
        *,
        group: str,
        status: ApprovalStatus,
        description: str,
        image: str,
        model_data_url: str,
        environment: dict[str, str],
        metrics: dict[str, float],
        lineage: dict[str, str],
    ) -> dict[str, Any]:
        metadata = {f"{METRIC_METADATA_PREFIX}{k}": f"{v:.6g}" for k, v in metrics.items()}
        metadata.update({k: v for k, v in lineage.items() if v})
        response = self._sagemaker.create_model_package(
            ModelPackageGroupName=group,
            ModelPackageDescription=description[:1000],
            ModelApprovalStatus=status,
            InferenceSpecification={
                "Containers": [
                    {"Image": image, "ModelDataUrl": model_data_url, "Environment": environment}
                ],
                "SupportedContentTypes": ["text/csv", "application/json"],
                "SupportedResponseMIMETypes": ["text/csv", "application/json"],
                "SupportedTransformInstanceTypes": ["ml.m5.large"],
            },
            CustomerMetadataProperties=metadata,
        )
        return dict(response)

    def packages(self, group: str) -> list[dict[str, Any]]:
        summaries: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"ModelPackageGroupName": group, "MaxResults": 100}
        while True:
            page = self._sagemaker.list_model_packages(**kwargs)
            summaries += page["ModelPackageSummaryList"]
            if not page.get("NextToken"):
                return summaries
            kwargs["NextToken"] = page["NextToken"]
