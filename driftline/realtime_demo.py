"""The demo's real-time stages: the endpoint serving the approved model, a blue/green
canary to a new model, and a faulty model rolled back by its alarm.

A new model here is the champion's container under a new model name, announced as the
training state machine announces an approval (``ModelRegistered``, status Approved): the
deployment rule and state machine then run exactly as for a trained model. The faulty
one is made to fail every request by the local cloud's fault injection, so the canary's
errors trip the endpoint's server-error alarm and SageMaker's guardrail rolls it back.
The e2e test of real-time scoring drives the same helpers.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from driftline_runtime import names
from driftline_runtime.events import (
    EndpointDeployed,
    EndpointDeploymentFailed,
    EndpointRolledBack,
    ModelRegistered,
)
from driftline_runtime.steps.deployment import DeploymentState
from pydantic import ValidationError

from driftline.actions import CommandError, EventRecorder, wait_until
from driftline.faults import armed_faults
from driftline.localcloud import LocalCloud
from driftline.progress import StageProgress
from driftline.target import Target

DATASET = "transactions"
VERDICTS = tuple(
    event.detail_type()
    for event in (EndpointDeployed, EndpointRolledBack, EndpointDeploymentFailed)
)


def copy_model(target: Target, model_name: str, label: str) -> str:
    """The same container under a new name: a new model to deploy."""
    sagemaker = target.client("sagemaker")
    model = sagemaker.describe_model(ModelName=model_name)
    name = names.sagemaker_name(target.stage, DATASET, f"{label}-{uuid.uuid4().hex[:6]}")
    sagemaker.create_model(
        ModelName=name,
        ExecutionRoleArn=model["ExecutionRoleArn"],
        PrimaryContainer=model["PrimaryContainer"],
    )
    return name


def announce_approval(target: Target, package_arn: str, model_name: str) -> None:
    """What the training state machine puts when a model is approved."""
    bus = target.outputs(names.DATA_STACK)[names.EVENT_BUS_OUTPUT]
    detail = {
        "dataset": DATASET,
        "version": "demo",
        "model_package_arn": package_arn,
        "status": "Approved",
        "reason": "a new model for the real-time demo",
        "metrics": {},
        "training_job": model_name,
        "execution": "demo",
        "model_arn": model_name,
    }
    answer = target.client("events").put_events(
        Entries=[
            {
                "EventBusName": bus,
                "Source": names.TRAINING_SOURCE,
                "DetailType": ModelRegistered.detail_type(),
                "Detail": json.dumps(detail),
            }
        ]
    )
    if answer["FailedEntryCount"]:
        raise CommandError(f"the approval of {model_name} was not accepted: {answer['Entries']}")


def config_models(target: Target, config_name: str) -> set[str]:
    try:
        config = target.client("sagemaker").describe_endpoint_config(EndpointConfigName=config_name)
    except ClientError:
        return set()
    return {variant["ModelName"] for variant in config["ProductionVariants"]}


def verdict(target: Target, recorder: EventRecorder, model_name: str) -> dict[str, Any] | None:
    """The deployment's event for the endpoint config that carries ``model_name``, if it
    has arrived (a failed deployment's too)."""
    for event in recorder.poll():
        if event["detail-type"] == EndpointDeploymentFailed.detail_type():
            return event
        if event["detail-type"] in VERDICTS and model_name in config_models(
            target, event["detail"].get("endpoint_config", "")
        ):
            return event
    return None


def served_models(target: Target) -> tuple[dict[str, Any], set[str]] | None:
    """The endpoint and the models its config serves, once it is in service."""
    endpoint = names.endpoint_name(target.stage, DATASET)
    try:
        described: dict[str, Any] = target.client("sagemaker").describe_endpoint(
            EndpointName=endpoint
        )
    except ClientError:
        return None
    if described["EndpointStatus"] == "Failed":
        raise CommandError(f"endpoint {endpoint} failed: {described.get('FailureReason')}")
    if described["EndpointStatus"] != "InService":
        return None
    return described, config_models(target, described["EndpointConfigName"])


def serving(target: Target, model_name: str, timeout: float = 300) -> dict[str, Any]:
    """The endpoint, once it is in service with ``model_name``."""

    def probe() -> dict[str, Any] | None:
        found = served_models(target)
        return found[0] if found is not None and model_name in found[1] else None

    endpoint = names.endpoint_name(target.stage, DATASET)
    return wait_until(probe, timeout, f"endpoint {endpoint} serving {model_name}", 1.0)


def serving_newest(target: Target, model: dict[str, Any], timeout: float = 600) -> dict[str, Any]:
    """The newest approved model, once the endpoint serves it: ``model``, or one approved
    after it whose deployment replaced it meanwhile (the next batch's labels feed back a
    training version, and its retraining may be approved too)."""

    def probe() -> dict[str, Any] | None:
        latest = newest_approved(target) or model
        newest = latest if int(latest["version"]) > int(model["version"]) else model
        found = served_models(target)
        return newest if found is not None and newest["training_job"] in found[1] else None

    endpoint = names.endpoint_name(target.stage, DATASET)
    return wait_until(
        probe, timeout, f"endpoint {endpoint} serving v{model['version']} or a newer model", 1.0
    )


def invoke_while(
    target: Target, body: bytes, until: Any, timeout: float, what: str
) -> tuple[Any, Counter[str]]:
    """Requests one after another until ``until()`` returns something; the outcomes."""
    runtime = target.client("sagemaker-runtime")
    endpoint = names.endpoint_name(target.stage, DATASET)
    outcomes: Counter[str] = Counter()

    def probe() -> Any:
        try:
            runtime.invoke_endpoint(EndpointName=endpoint, Body=body, ContentType="text/csv")
            outcomes["ok"] += 1
        except ClientError as error:
            outcomes[error.response["Error"]["Code"]] += 1
        return until()

    return wait_until(probe, timeout, what, 0.05), outcomes


# -- the demo's stages -------------------------------------------------------------------
def newest_approved(target: Target) -> dict[str, Any] | None:
    """The newest approved model of the demo's dataset (other datasets' groups share the
    prefix and have versions of their own)."""
    from driftline import status as status_of

    prefix = target.outputs(names.PIPELINE_STACK)[names.MODEL_PACKAGE_GROUP_PREFIX_OUTPUT]
    approved = [
        m
        for m in status_of.models(target, prefix)
        if m["approval"] == "Approved" and m["group"] == f"{prefix}-{DATASET}"
    ]
    return max(approved, key=lambda m: int(m["version"])) if approved else None


def newest_package(target: Target, fallback: dict[str, Any]) -> str:
    """The package ARN a model copy is announced as: the newest approved one (the plan
    skips a gate's approval older than the model the endpoint serves, and a retraining
    may have approved one since ``fallback`` was chosen)."""
    return str((newest_approved(target) or fallback)["arn"])


def deployment_of(target: Target, model_name: str) -> dict[str, Any] | None:
    """The finished deployment execution of ``model_name`` (the approval's), if any: the
    model named by its input (ModelRegistered's) or by its plan (the registry's approval
    event's), leaving out a registry event's skip of a package ModelRegistered deploys."""
    from driftline import endpoints
    from driftline import status as status_of

    arn = target.outputs(names.PIPELINE_STACK)[names.DEPLOYMENT_STATE_MACHINE_OUTPUT]
    for execution in status_of.executions(target, arn, "deployment", described=True):
        if execution["status"] == "RUNNING":
            continue
        try:
            state = DeploymentState.model_validate(
                execution.get("output") or execution.get("input") or {}
            )
        except ValidationError:
            continue
        if state.deployed_model == model_name and not state.duplicate:
            return {**execution, "outcome": endpoints.deployment_outcome(execution)}
    return None


def rollout(target: Target, progress: StageProgress, champion: dict[str, Any], rows: Path) -> None:
    """The next approved model goes out behind a canary; a faulty one is rolled back.

    The next model is the newest approved one when it is newer than the model served
    first (the learning loop's v2 on a fresh local cloud): its approval started its
    deployment, so this stage watches that canary to its end. On a kept local cloud
    whose newest model was not approved this run, it is a copy of the served model
    announced as approved.
    """
    bus = target.outputs(names.DATA_STACK)[names.EVENT_BUS_OUTPUT]
    recorder = EventRecorder(target, bus, [names.DEPLOYMENT_SOURCE])
    body = b"".join(rows.read_bytes().splitlines(keepends=True)[:4])
    try:
        with progress.stage("Canary to the next model") as stage:
            newest = newest_approved(target)
            if newest is not None and int(newest["version"]) > int(champion["version"]):
                while True:
                    model = str(newest["training_job"])
                    done = wait_until(
                        partial(deployment_of, target, model),
                        600,
                        f"the deployment of {model}",
                        1.0,
                    )
                    latest = newest_approved(target) or newest
                    if done["outcome"] == "deployed" or latest["version"] == newest["version"]:
                        break
                    # A newer approval's update superseded this canary (a drift-triggered
                    # and a quality-triggered retraining may both be approved): the
                    # endpoint follows the newest model, so watch that one's canary.
                    newest = latest
                if done["outcome"] != "deployed":
                    raise CommandError(f"v{newest['version']}'s canary ended {done['outcome']}")
                deployed = newest
                newest = serving_newest(target, deployed)
                later = "" if newest is deployed else f" (v{newest['version']}, approved later)"
                stage.outcome(
                    f"v{deployed['version']} EndpointDeployed after its canary; "
                    f"dl-{target.stage}-{DATASET}-live serves v{newest['version']}{later}"
                )
            else:
                new = copy_model(target, champion["training_job"], "next")
                announce_approval(target, newest_package(target, champion), new)
                event, outcomes = invoke_while(
                    target, body, lambda: verdict(target, recorder, new), 300, "the canary"
                )
                if event["detail-type"] != EndpointDeployed.detail_type():
                    raise CommandError(f"the canary ended {event['detail-type']}")
                stage.outcome(
                    f"EndpointDeployed after a canary; {outcomes['ok']} requests answered"
                )
            served = newest if newest is not None else champion
        with progress.stage("Roll back a faulty model") as stage:
            faulty = copy_model(target, served["training_job"], "faulty")
            fault = {"kind": "endpoint", "action": "error", "match": faulty, "count": 10**6}
            with armed_faults(LocalCloud(), fault):
                announce_approval(target, newest_package(target, served), faulty)
                event, outcomes = invoke_while(
                    target,
                    body,
                    lambda: verdict(target, recorder, faulty),
                    300,
                    "the faulty model's rollback",
                )
            if event["detail-type"] != EndpointRolledBack.detail_type():
                raise CommandError(f"the faulty model ended {event['detail-type']}")
            stage.outcome(
                f"EndpointRolledBack: {outcomes['ModelError']} canary requests failed, "
                f"{outcomes['ok']} answered by v{served['version']}"
            )
    finally:
        recorder.close()
