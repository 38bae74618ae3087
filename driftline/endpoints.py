"""Real-time endpoints as the CLI sees them: their status, and rows scored on them.

``endpoints`` is the ``endpoints`` part of ``driftline status --json`` (and the table of
``driftline endpoints``): per endpoint the model version each variant serves and how its
last deployment ended, read from the deployment state machine's executions. ``score``
sends rows as a user drops them for batch scoring (CSV with a header, or JSON Lines) to
a dataset's endpoint, in requests below SageMaker's 6 MB, and returns one prediction
per row keyed by the id column.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError
from driftline_runtime import names
from driftline_runtime.steps.deployment import DeploymentState
from pydantic import ValidationError

from driftline.errors import DriftlineError, PreconditionFailed
from driftline.target import Target

CSV = "text/csv"
JSON = "application/json"
JSON_LINES = "application/jsonlines"
# Requests stay below InvokeEndpoint's 6 MB, with room for a header line.
MAX_REQUEST_BYTES = 5 * 1024 * 1024


# -- status ----------------------------------------------------------------------------
def deployment_outcome(execution: dict[str, Any]) -> str:
    """How a deployment ended: deployed, rolled_back, failed, skipped or in_progress."""
    if execution["status"] == "RUNNING":
        return "in_progress"
    if execution["status"] != "SUCCEEDED":
        return "failed"
    state = DeploymentState.model_validate(execution.get("output") or {})
    plan = state.plan.result if state.plan else None
    if plan is None or plan.action == "skip" or plan.endpoint_config is None:
        return "skipped"
    endpoint = state.endpoint
    deployed = endpoint is not None and (
        endpoint.EndpointConfigName == plan.endpoint_config.EndpointConfigName
    )
    return "deployed" if deployed else "rolled_back"


def endpoints(
    target: Target, deployments: list[dict[str, Any]], models: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """``status --json``'s ``endpoints``: every endpoint a deployment was planned for."""
    sagemaker = target.client("sagemaker")
    versions = {m["training_job"]: m["version"] for m in models if m.get("training_job")}
    last: dict[str, dict[str, Any]] = {}  # dataset -> its newest deployment that did something
    for execution in deployments:  # oldest first
        try:
            # A finished execution's output holds its plan: the dataset an execution the
            # registry's approval event started leaves to it.
            state = DeploymentState.model_validate(
                execution.get("output") or execution.get("input") or {}
            )
        except ValidationError:
            continue
        if state.deployed_dataset and deployment_outcome(execution) != "skipped":
            last[state.deployed_dataset] = execution
    found = []
    for dataset, execution in sorted(last.items()):
        name = names.endpoint_name(target.stage, dataset)
        try:
            described = sagemaker.describe_endpoint(EndpointName=name)
            config = sagemaker.describe_endpoint_config(
                EndpointConfigName=described["EndpointConfigName"]
            )
        except ClientError:
            continue  # deleted, or its config is: nothing serves
        weights = {
            v["VariantName"]: v.get("CurrentWeight") for v in described["ProductionVariants"]
        }
        variants = [
            {
                "name": variant["VariantName"],
                "model_version": versions.get(variant["ModelName"]),
                "weight": weights.get(variant["VariantName"]),
            }
            for variant in config["ProductionVariants"]
        ]
        found.append(
            {
                "name": name,
                "dataset": dataset,
                "model_version": variants[0]["model_version"] if len(variants) == 1 else None,
                "status": described["EndpointStatus"],
                "variants": variants,
                "last_deployment": {
                    "outcome": deployment_outcome(execution),
                    "time": execution["stopped"] or execution["started"],
                    "reason": described.get("FailureReason"),
                },
            }
        )
    return found


# -- scoring ---------------------------------------------------------------------------
def endpoint_for(target: Target, dataset: str) -> str:
    """The endpoint that scores ``dataset``: its own, or its model dataset's."""
    from driftline_contracts import contract

    spec = contract(dataset)
    if spec is None:
        raise PreconditionFailed(f"{dataset!r} is not a declared dataset", "", code="undeclared")
    training = spec.model_dataset or spec.name
    trained = contract(training)
    if trained is None or trained.realtime is None:
        raise PreconditionFailed(
            f"{training} declares no realtime settings, so no endpoint serves its models",
            "Add `realtime=RealtimeSettings()` to its DatasetSpec and approve a model.",
            code="no_realtime",
        )
    return names.endpoint_name(target.stage, training)


def content_type_of(body: bytes, file_name: str) -> str:
    lower = file_name.lower()
    if lower.endswith((".jsonl", ".ndjson")):
        return JSON_LINES
    if lower.endswith(".json"):
        return JSON
    if lower.endswith(".csv"):
        return CSV
    start = body.lstrip()[:1]
    return JSON_LINES if start == b"{" else JSON if start == b"[" else CSV


def requests(body: bytes, content_type: str) -> Iterator[bytes]:
    """The body in requests of whole rows below MAX_REQUEST_BYTES (CSV: each with the
    header line); a JSON document goes whole."""
    if content_type == JSON or len(body) <= MAX_REQUEST_BYTES:
        yield body
        return
    lines = body.splitlines(keepends=True)
    header = lines.pop(0) if content_type == CSV and lines else b""
    chunk, size = [header], len(header)
    for line in lines:
        if size + len(line) > MAX_REQUEST_BYTES and len(chunk) > 1:
            yield b"".join(chunk)
            chunk, size = [header], len(header)
        chunk.append(line)
        size += len(line)
    if len(chunk) > 1:
        yield b"".join(chunk)


@dataclass
class Scored:
    endpoint: str
    id_column: str = ""
    predictions: list[dict[str, Any]] = field(default_factory=list)
    variants: Counter[str] = field(default_factory=Counter)

    def as_csv(self) -> str:
        """The id column, then the model's prediction columns (binary: ``probability``;
        multiclass: ``prediction`` and ``probability:<class>`` each; regression:
        ``prediction``), in the order the model answers them."""
        sink = io.StringIO()
        writer = csv.writer(sink, lineterminator="\n")
        columns = list(self.predictions[0]) if self.predictions else [self.id_column]
        writer.writerow(columns)
        for prediction in self.predictions:
            writer.writerow(["" if prediction[c] is None else prediction[c] for c in columns])
        return sink.getvalue()


def score(target: Target, dataset: str, body: bytes, file_name: str) -> Scored:
    """Every row of ``body`` scored on ``dataset``'s endpoint."""
    endpoint = endpoint_for(target, dataset)
    if not body.strip():
        raise DriftlineError(f"{file_name} holds no rows to score")
    runtime = target.client("sagemaker-runtime")
    content_type = content_type_of(body, file_name)
    if content_type == CSV and b"\n" not in body.strip():
        raise DriftlineError(f"{file_name} holds no rows to score, only a header line")
    scored = Scored(endpoint)
    for request in requests(body, content_type):
        try:
            answer = runtime.invoke_endpoint(
                EndpointName=endpoint, Body=request, ContentType=content_type, Accept=JSON
            )
        except ClientError as error:
            raise invocation_error(error, endpoint, dataset) from None
        document = json.loads(answer["Body"].read())
        predictions = document["predictions"]
        if predictions:
            scored.id_column = next(iter(predictions[0]))
        scored.predictions += predictions
        scored.variants[answer["InvokedProductionVariant"]] += len(predictions)
    return scored


def invocation_error(error: ClientError, endpoint: str, dataset: str) -> DriftlineError:
    response: dict[str, Any] = dict(error.response)
    code = response.get("Error", {}).get("Code")
    message = response.get("Error", {}).get("Message", str(error))
    if code == "ValidationError" and "not found" in message:
        return PreconditionFailed(
            f"No endpoint {endpoint} serves {dataset} yet",
            "It is created when a model of the dataset is approved: drop a training file "
            "or run `driftline train`.",
            code="no_endpoint",
        )
    if code == "ModelError":
        return DriftlineError(
            f"The endpoint refused the rows ({response.get('OriginalStatusCode')}): "
            f"{response.get('OriginalMessage', message)}"
        )
    return DriftlineError(f"InvokeEndpoint on {endpoint} failed ({code}): {message}")
