"""What the pipeline holds and did: the facts behind ``driftline status``.

The JSON shape is a stable interface (see ARCHITECTURE): keys are only ever added.
"""

from __future__ import annotations

from typing import Any

from driftline_runtime.lineage import LineageStore
from driftline_runtime.registry import METRIC_PREFIX, ModelRegistry

from driftline.target import Target


def executions(target: Target, state_machine_arn: str, label: str) -> list[dict[str, Any]]:
    client = target.client("stepfunctions")
    found: list[dict[str, Any]] = []
    for page in client.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn):
        for e in page["executions"]:
            found.append(
                {
                    "state_machine": label,
                    "name": e["name"],
                    "status": e["status"],
                    "started": e["startDate"].isoformat(),
                    "stopped": e["stopDate"].isoformat() if e.get("stopDate") else None,
                }
            )
    return sorted(found, key=lambda e: e["started"])


def models(target: Target, group_prefix: str) -> list[dict[str, Any]]:
    sagemaker = target.client("sagemaker")
    registry = ModelRegistry(sagemaker)
    groups = [
        group
        for page in sagemaker.get_paginator("list_model_package_groups").paginate(
            NameContains=group_prefix
        )
        for group in page["ModelPackageGroupSummaryList"]
        # NameContains would also match another stage whose name starts the same way.
        if group["ModelPackageGroupName"].startswith(f"{group_prefix}-")
    ]
    found: list[dict[str, Any]] = []
    for group in groups:
        for summary in registry.packages(group["ModelPackageGroupName"]):
            described = sagemaker.describe_model_package(
                ModelPackageName=summary["ModelPackageArn"]
            )
            metadata = described.get("CustomerMetadataProperties", {})
            found.append(
                {
                    "group": group["ModelPackageGroupName"],
                    "version": described.get("ModelPackageVersion"),
                    "approval": described.get("ModelApprovalStatus"),
                    "metrics": {
                        k.removeprefix(METRIC_PREFIX): float(v)
                        for k, v in metadata.items()
                        if k.startswith(METRIC_PREFIX)
                    },
                    "dataset": metadata.get("dataset"),
                    "dataset_version": metadata.get("dataset_version"),
                    "training_job": metadata.get("training_job"),
                    "reason": described.get("ModelPackageDescription"),
                    "arn": summary["ModelPackageArn"],
                }
            )
    return found


def datasets(target: Target) -> list[dict[str, Any]]:
    table_name = target.outputs("data")["LineageTableName"]
    table = target.resource("dynamodb").Table(table_name)
    return [
        {
            "dataset": r.dataset,
            "kind": r.kind,
            "version": r.version,
            "state": r.state,
            "rows": r.valid_rows if r.state == "validated" else r.rows,
            "source_key": r.source_key,
            "report_key": r.report_key,
            "reasons": r.reasons,
            "created_at": r.created_at.isoformat(),
        }
        for r in LineageStore(table).dataset_versions()
    ]


def collect(target: Target) -> dict[str, Any]:
    pipeline = target.outputs("pipeline")
    return {
        "datasets": datasets(target),
        "executions": executions(target, pipeline["TrainingStateMachineArn"], "training"),
        "models": models(target, pipeline["ModelPackageGroupPrefix"]),
        "drift_events": [],
    }
