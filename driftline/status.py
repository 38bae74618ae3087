"""What the pipeline holds and did: the facts behind ``driftline status``.

The JSON shape is a stable interface (see ARCHITECTURE): keys are only ever added.
Executions are read through the state machines' step models
(``driftline_runtime.steps``): their input as the request they were started with, their
output as the state data each step left.
"""

from __future__ import annotations

import json
import shlex
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from driftline_runtime import layout, names
from driftline_runtime.cooldown import SUPPRESSED_PREFIX
from driftline_runtime.lineage import LineageStore
from driftline_runtime.objects import read_object
from driftline_runtime.reasons import texts
from driftline_runtime.registry import ModelRegistry
from driftline_runtime.steps.batch_inference import (
    BatchInferenceState,
    DriftReportDocument,
    InferenceRequest,
)
from driftline_runtime.steps.training import TrainingRequest, TrainingState
from pydantic import BaseModel, ValidationError

from driftline.endpoints import endpoints
from driftline.evaluations import evaluation, training_versions
from driftline.lineage_chains import lineage_chains
from driftline.quality_status import model_quality
from driftline.target import Target
from driftline.waiting_status import waiting_retrainings

STATE_MACHINES = {
    "training": names.TRAINING_STATE_MACHINE_OUTPUT,
    "batch_inference": names.BATCH_INFERENCE_STATE_MACHINE_OUTPUT,
    "deployment": names.DEPLOYMENT_STATE_MACHINE_OUTPUT,
}
FAILED_EXECUTION = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})


def executions(
    target: Target, state_machine_arn: str, label: str, *, described: bool = False
) -> list[dict[str, Any]]:
    """A state machine's executions, oldest first; ``described`` adds input and output."""
    client = target.client("stepfunctions")
    found: list[dict[str, Any]] = []
    for page in client.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn):
        for e in page["executions"]:
            execution: dict[str, Any] = {
                "state_machine": label,
                "name": e["name"],
                "arn": e["executionArn"],
                "status": e["status"],
                "started": e["startDate"].isoformat(),
                "stopped": e["stopDate"].isoformat() if e.get("stopDate") else None,
            }
            if described:
                details = client.describe_execution(executionArn=e["executionArn"])
                execution["input"] = json.loads(details.get("input") or "{}")
                execution["output"] = json.loads(details.get("output") or "null")
                execution["error"] = details.get("error")
                execution["cause"] = details.get("cause")
            found.append(execution)
    return sorted(found, key=lambda e: e["started"])


def _state[S: BaseModel](model: type[S], execution: dict[str, Any]) -> S:
    """The state data a finished execution left (empty while it runs or once it failed)."""
    try:
        return model.model_validate(execution["output"] or {})
    except ValidationError as error:
        raise ValueError(
            f"execution {execution['arn']} left state data that does not match "
            f"{model.__name__}: {error}"
        ) from error


def _inference_request(execution: dict[str, Any]) -> InferenceRequest | None:
    """What an execution was started with; None for an input that is no request (such an
    execution fails at its first step and is listed with its status and error only)."""
    try:
        return InferenceRequest.from_execution_input(execution["input"])
    except ValidationError:
        return None


def _training_request(execution: dict[str, Any]) -> TrainingRequest | None:
    try:
        return TrainingRequest.from_execution_input(execution["input"])
    except ValidationError:
        return None


def inference_runs(described: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Batch inference executions as runs: what was scored, with which model, and the drift."""
    runs = []
    for execution in described:
        state = _state(BatchInferenceState, execution)
        resolved = state.resolved.result if state.resolved else None
        predictions = state.predictions.result if state.predictions else None
        drift = state.drift.result if state.drift else None
        request = _inference_request(execution)
        runs.append(
            {
                "dataset": resolved.dataset if resolved else request and request.dataset,
                "version": resolved.version if resolved else request and request.version,
                "status": execution["status"],
                "execution": execution["name"],
                "model_package_arn": resolved.model_package_arn if resolved else None,
                "rows": predictions.rows if predictions else None,
                "parts": resolved.parts if resolved else None,
                "transform_jobs": predictions.transform_jobs if predictions else [],
                "predictions_uri": predictions.predictions_uri if predictions else None,
                "drifted": drift.drifted if drift else None,
                # drifted | no_drift | insufficient_rows (then no verdict: rows < min_rows)
                "drift_outcome": drift.outcome if drift else None,
                "drift_min_rows": drift.min_rows if drift else None,
                "drifted_features": drift.drifted_features if drift else [],
                "drift_report_uri": drift.report_uri if drift else None,
                "started": execution["started"],
                "stopped": execution["stopped"],
                "error": execution["error"],
                "cause": execution["cause"],
            }
        )
    return runs


def retrainings(described: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Training executions that drift started (their request carries the drift)."""
    found = []
    for execution in described:
        request = _training_request(execution)
        if request is None or request.retraining is None:
            continue
        trigger = request.retraining
        state = _state(TrainingState, execution)
        found.append(
            {
                "dataset": request.dataset,
                "version": request.version,
                "trigger_dataset": trigger.dataset,
                "trigger_version": trigger.version,
                "trigger_report_uri": trigger.report_uri,
                "execution": execution["name"],
                "status": execution["status"],
                "outcome": state.evaluation.result.status if state.evaluation else None,
                "trigger": trigger.trigger,
                "training_versions": state.prepared.result.training_versions
                if state.prepared
                else [],
                "started": execution["started"],
                "stopped": execution["stopped"],
            }
        )
    return found


def training_runs(described: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every training execution: its dataset, version, window and outcome."""
    runs = []
    for execution in described:
        request = _training_request(execution)
        if request is None:
            continue
        state = _state(TrainingState, execution)
        runs.append(
            {
                "dataset": request.dataset,
                "version": request.version,
                "execution": execution["name"],
                "outcome": state.evaluation.result.status if state.evaluation else None,
                "training_versions": state.prepared.result.training_versions
                if state.prepared
                else [],
                "started": execution["started"],
                "stopped": execution["stopped"],
            }
        )
    return runs


def suppressed_retrainings(target: Target, table_name: str) -> list[dict[str, Any]]:
    """Every drift trigger the cooldown held back, oldest first."""
    table = target.resource("dynamodb").Table(table_name)
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = table.scan(**kwargs)
        items += [i for i in page["Items"] if str(i["sk"]).startswith(SUPPRESSED_PREFIX)]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    found = [
        {
            "dataset": item["dataset"],
            "time": str(item["sk"]).removeprefix(SUPPRESSED_PREFIX).split("#", 1)[0],
            "trigger_dataset": item["trigger"].get("dataset"),
            "trigger_version": item["trigger"].get("version"),
            "until": item["until"],
            "sequence": int(item.get("sequence", 0)),
        }
        for item in items
    ]
    return sorted(found, key=lambda s: s["time"])


def drift_reports(target: Target, bucket: str) -> list[DriftReportDocument]:
    """Every drift report the monitor wrote, oldest first."""
    s3 = target.client("s3")
    documents = []
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=f"{layout.DRIFT_PREFIX}/"
    ):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            documents.append(DriftReportDocument.model_validate_json(body))
    return sorted(documents, key=lambda d: d.time)


def drift_events(reports: list[DriftReportDocument]) -> list[dict[str, Any]]:
    """The reports that raised DriftDetected: above a threshold."""
    return [
        {
            "dataset": d.dataset,
            "version": d.version,
            "time": d.time.isoformat(),
            "features": d.scores,
            "drifted_features": d.report.drifted_features,
            "model_package_arn": d.model_package_arn,
            "report_uri": d.report_uri,
        }
        for d in reports
        if d.report.drifted
    ]


def model_features(target: Target, metadata: dict[str, str]) -> list[str] | None:
    """The model's input columns in order, from its training baseline (None: none recorded
    or it cannot be read)."""
    uri = metadata.get(names.BASELINE_METADATA_KEY)
    if not uri:
        return None
    try:
        baseline = json.loads(read_object(target.client("s3"), uri))
    except (ClientError, ValueError):
        return None
    columns = baseline.get("feature_columns") if isinstance(baseline, dict) else None
    return [str(column) for column in columns] if isinstance(columns, list) else None


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
                        k.removeprefix(names.METRIC_METADATA_PREFIX): float(v)
                        for k, v in metadata.items()
                        if k.startswith(names.METRIC_METADATA_PREFIX)
                    },
                    # None for a package registered before these were recorded.
                    "problem": metadata.get(names.PROBLEM_METADATA_KEY),
                    "primary_metric": metadata.get(names.PRIMARY_METRIC_METADATA_KEY),
                    "features": model_features(target, metadata),
                    "dataset": metadata.get("dataset"),
                    "dataset_version": metadata.get("dataset_version"),
                    "training_job": metadata.get("training_job"),
                    "training_versions": training_versions(
                        metadata, lambda uri: read_object(target.client("s3"), uri)
                    ),
                    "evaluation": evaluation(metadata),
                    "reason": described.get("ModelPackageDescription"),
                    "arn": summary["ModelPackageArn"],
                }
            )
    return found


def datasets(target: Target) -> list[dict[str, Any]]:
    table_name = target.outputs(names.DATA_STACK)[names.LINEAGE_TABLE_OUTPUT]
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
            # The reasons' text form (as before), then the reasons themselves.
            "reasons": texts(r.reasons),
            "rejection_reasons": [reason.model_dump(mode="json") for reason in r.reasons],
            "created_at": r.created_at.isoformat(),
        }
        for r in LineageStore(table).dataset_versions()
    ]


def collect(target: Target, *, with_reports: bool = False) -> dict[str, Any]:
    """The ``status --json`` document; ``with_reports`` keeps the whole drift reports
    under ``_drift_reports`` (for ``driftline report``)."""
    pipeline = target.outputs(names.PIPELINE_STACK)
    described = {
        label: executions(target, pipeline[output], label, described=True)
        for label, output in STATE_MACHINES.items()
    }
    reports = drift_reports(target, pipeline[names.PREDICTIONS_BUCKET_OUTPUT])
    facts = {
        "datasets": datasets(target),
        "executions": sorted(
            (
                {k: v for k, v in e.items() if k not in ("input", "output", "cause")}
                for runs in described.values()
                for e in runs
            ),
            key=lambda e: e["started"],
        ),
        "models": (
            found_models := models(target, pipeline[names.MODEL_PACKAGE_GROUP_PREFIX_OUTPUT])
        ),
        "inference_runs": inference_runs(described["batch_inference"]),
        "drift_events": drift_events(reports),
        "model_quality": model_quality(target, pipeline[names.PREDICTIONS_BUCKET_OUTPUT]),
        "retrainings": retrainings(described["training"])
        + waiting_retrainings(
            target, pipeline[names.COOLDOWN_TABLE_OUTPUT], training_runs(described["training"])
        ),
        "suppressed_retrainings": suppressed_retrainings(
            target, pipeline[names.COOLDOWN_TABLE_OUTPUT]
        ),
    }
    facts["endpoints"] = endpoints(target, described["deployment"], found_models)
    facts["failures"] = failures(target, facts)
    if with_reports:
        facts["_drift_reports"] = [report.model_dump(mode="json") for report in reports]
    return facts


def logs_command(target: Target, name: str) -> str:
    """The ``driftline logs`` command that shows the log lines of ``name`` on ``target``."""
    options = "" if target.name == "local" else f" --target {target.name}"
    options += "" if target.stage == "dev" else f" --stage {target.stage}"
    return f"driftline{options} logs {shlex.quote(name)}"


def failures(target: Target, facts: dict[str, Any]) -> list[dict[str, Any]]:
    """What went wrong, each with the command whose log lines explain it: rejected files
    (the ingest function's lines about the object) and failed executions."""
    found = [
        {
            "kind": "dataset_version",
            "name": f"{d['dataset']} {d['version']}",
            "status": d["state"],
            "reason": "; ".join(d["reasons"]),
            "time": d["created_at"],
            "logs_command": logs_command(target, d["source_key"]),
        }
        for d in facts["datasets"]
        if d["state"] == "rejected"
    ]
    found += [
        {
            "kind": "execution",
            "name": e["name"],
            "status": e["status"],
            "reason": e.get("error"),
            "time": e["stopped"] or e["started"],
            "logs_command": logs_command(target, e["name"]),
        }
        for e in facts["executions"]
        if e["status"] in FAILED_EXECUTION
    ]
    return sorted(found, key=lambda f: str(f["time"]))


def report_document(target: Target, described_target: str) -> dict[str, Any]:
    """What ``driftline report`` renders (``driftline.report.ReportData``, as JSON data)."""
    facts = collect(target, with_reports=True)
    reports = facts.pop("_drift_reports")
    return {
        "generated_at": datetime.now(UTC).isoformat(),
        "target": described_target,
        "status": facts,
        "drift_reports": reports,
        "lineage": lineage_chains(facts),
    }
