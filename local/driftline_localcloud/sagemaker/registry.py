"""The model registry: model package groups and their versioned model packages.

Versions count 1, 2, 3... per group, and a package's ARN is
``arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>``. Listing
follows SageMaker: a group's packages when ModelPackageGroupName is given, otherwise
only unversioned packages unless ModelPackageType asks for versioned ones (the local
cloud creates versioned packages only, in a group, which is what a registry is for).
Creating a package and changing its approval status put SageMaker's state change event
on the default bus (``registry_events``), after the store's lock is released.
"""

from __future__ import annotations

from typing import Any

from driftline_localcloud.sagemaker import registry_events
from driftline_localcloud.sagemaker.shapes import (
    Handler,
    check_name,
    describe,
    echo,
    page,
    sort_and_filter,
    summary,
)
from driftline_localcloud.sagemaker.store import (
    Description,
    RegionStore,
    Stores,
    arn,
    now,
    validation,
)

APPROVAL_STATUSES = ("Approved", "Rejected", "PendingManualApproval")
GROUP_SUMMARY = (
    "ModelPackageGroupName", "ModelPackageGroupArn", "ModelPackageGroupDescription",
    "CreationTime", "ModelPackageGroupStatus",
)  # fmt: skip
PACKAGE_SUMMARY = (
    "ModelPackageName", "ModelPackageGroupName", "ModelPackageVersion", "ModelPackageArn",
    "ModelPackageDescription", "CreationTime", "ModelPackageStatus", "ModelApprovalStatus",
)  # fmt: skip


def group_name(value: Any) -> str:
    """A group given by name or by ARN."""
    text = str(value or "")
    return text.rsplit("model-package-group/", 1)[-1] if ":model-package-group/" in text else text


def check_approval(value: Any) -> None:
    if value is not None and value not in APPROVAL_STATUSES:
        raise validation(
            f"1 validation error detected: Value {value!r} at 'modelApprovalStatus' failed to "
            f"satisfy constraint: Member must satisfy enum value set: {list(APPROVAL_STATUSES)}"
        )


class ModelRegistry:
    def __init__(self, stores: Stores, events: registry_events.EventsClient) -> None:
        self.stores = stores
        self.events = events

    def dispatch_table(self) -> dict[str, Handler]:
        return {
            "CreateModelPackageGroup": self.create_model_package_group,
            "DescribeModelPackageGroup": self.describe_model_package_group,
            "ListModelPackageGroups": self.list_model_package_groups,
            "CreateModelPackage": self.create_model_package,
            "DescribeModelPackage": self.describe_model_package,
            "ListModelPackages": self.list_model_packages,
            "UpdateModelPackage": self.update_model_package,
        }

    def _region(self, context: Any) -> RegionStore:
        return self.stores.region(context.account_id, context.region)

    # -- groups ------------------------------------------------------------------------
    def create_model_package_group(self, context: Any, request: dict[str, Any]) -> dict[str, Any]:
        name = check_name(request.get("ModelPackageGroupName"), "modelPackageGroupName")
        group_arn = arn(context.account_id, context.region, "model-package-group", name)
        store = self._region(context)
        with self.stores.lock:
            if name.lower() in store.package_groups:
                raise validation(f"Model Package Group already exists: {group_arn}")
            store.package_groups[name.lower()] = {
                **echo(request, "DescribeModelPackageGroup"),
                "ModelPackageGroupArn": group_arn,
                "CreationTime": now(),
                "CreatedBy": {},
                "ModelPackageGroupStatus": "Completed",
            }
        return {"ModelPackageGroupArn": group_arn}

    def _group(self, context: Any, value: Any) -> Description:
        name = group_name(value)
        group = self._region(context).package_groups.get(name.lower())
        if group is None:
            group_arn = arn(context.account_id, context.region, "model-package-group", name)
            raise validation(f"ModelPackageGroup {group_arn} does not exist.")
        return group

    def describe_model_package_group(self, context: Any, request: dict[str, Any]) -> dict[str, Any]:
        group = self.stores.snapshot(self._group(context, request["ModelPackageGroupName"]))
        return describe(group, "DescribeModelPackageGroup")

    def list_model_package_groups(self, context: Any, request: dict[str, Any]) -> dict[str, Any]:
        with self.stores.lock:
            groups = sort_and_filter(
                self._region(context).package_groups.values(), request, "ModelPackageGroupName"
            )
            items, token = page([summary(g, GROUP_SUMMARY) for g in groups], request)
        return {"ModelPackageGroupSummaryList": items, **({"NextToken": token} if token else {})}

    # -- packages ----------------------------------------------------------------------
    def create_model_package(self, context: Any, request: dict[str, Any]) -> dict[str, Any]:
        if not request.get("ModelPackageGroupName"):
            raise validation(
                "ModelPackageGroupName is required: the local cloud keeps versioned model "
                "packages (in a model package group) only."
            )
        check_approval(request.get("ModelApprovalStatus"))
        with self.stores.lock:
            group = self._group(context, request["ModelPackageGroupName"])
            name = group["ModelPackageGroupName"]
            versions = self._region(context).packages[name.lower()]
            version = len(versions) + 1
            package_arn = arn(context.account_id, context.region, "model-package", name)
            package_arn = f"{package_arn}/{version}"
            moment = now()
            versions.append(
                {
                    **echo(request, "DescribeModelPackage"),
                    "ModelPackageName": name,
                    "ModelPackageGroupName": name,
                    "ModelPackageVersion": version,
                    "ModelPackageArn": package_arn,
                    "CreationTime": moment,
                    "LastModifiedTime": moment,
                    "ModelPackageStatus": "Completed",
                    "ModelPackageStatusDetails": {"ValidationStatuses": []},
                    "CertifyForMarketplace": bool(request.get("CertifyForMarketplace", False)),
                    "ModelApprovalStatus": request.get("ModelApprovalStatus")
                    or "PendingManualApproval",
                    "CreatedBy": {},
                }
            )
            created = self.stores.snapshot(versions[-1])
        self._announce(context, created)
        return {"ModelPackageArn": package_arn}

    def _package(self, context: Any, value: Any) -> Description:
        """A versioned package by ARN (``.../model-package/<group>/<version>``) or
        ``<group>/<version>``."""
        text = str(value or "").rsplit(":model-package/", 1)[-1]
        group, _, version = text.rpartition("/")
        versions = self._region(context).packages.get(group.lower(), [])
        if not version.isdigit() or not 1 <= int(version) <= len(versions):
            raise validation(f"ModelPackage {value} does not exist.")
        return versions[int(version) - 1]

    def describe_model_package(self, context: Any, request: dict[str, Any]) -> dict[str, Any]:
        package = self.stores.snapshot(self._package(context, request["ModelPackageName"]))
        return describe(package, "DescribeModelPackage")

    def list_model_packages(self, context: Any, request: dict[str, Any]) -> dict[str, Any]:
        check_approval(request.get("ModelApprovalStatus"))
        with self.stores.lock:
            store = self._region(context)
            if request.get("ModelPackageGroupName"):
                group = self._group(context, request["ModelPackageGroupName"])
                candidates = list(store.packages[group["ModelPackageGroupName"].lower()])
            elif request.get("ModelPackageType") in ("Versioned", "Both"):
                candidates = [p for versions in store.packages.values() for p in versions]
            else:
                candidates = []  # SageMaker's default lists unversioned packages only
            approval = request.get("ModelApprovalStatus")
            chosen = [p for p in candidates if approval in (None, p["ModelApprovalStatus"])]
            packages = sort_and_filter(chosen, request, "ModelPackageName")
            items, token = page([summary(p, PACKAGE_SUMMARY) for p in packages], request)
        return {"ModelPackageSummaryList": items, **({"NextToken": token} if token else {})}

    def update_model_package(self, context: Any, request: dict[str, Any]) -> dict[str, Any]:
        check_approval(request.get("ModelApprovalStatus"))
        with self.stores.lock:
            package = self._package(context, request["ModelPackageArn"])
            before = package["ModelApprovalStatus"]
            metadata = dict(package.get("CustomerMetadataProperties") or {})
            metadata.update(request.get("CustomerMetadataProperties") or {})
            for key in request.get("CustomerMetadataPropertiesToRemove") or []:
                metadata.pop(key, None)
            changes: dict[str, Any] = {
                key: request[key]
                for key in ("ModelApprovalStatus", "ApprovalDescription")
                if request.get(key) is not None
            }
            if metadata or "CustomerMetadataProperties" in package:
                changes["CustomerMetadataProperties"] = metadata
            self.stores.update(package, **changes, LastModifiedBy={})
            updated = self.stores.snapshot(package)
        if updated["ModelApprovalStatus"] != before:
            self._announce(context, updated)
        return {"ModelPackageArn": updated["ModelPackageArn"]}

    def _announce(self, context: Any, package: Description) -> None:
        """SageMaker's state change event, as DescribeModelPackage describes the package."""
        description = describe(package, "DescribeModelPackage")
        registry_events.announce(description, context.account_id, context.region, self.events)
