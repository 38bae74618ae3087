"""A canary's model-quality rollback judges only the model being deployed, on the local
cloud.

Labels that measured the model the endpoint serves degraded (the learning loop's v1,
whose retraining made the model now rolled out) must not roll back its successor's
canary; labels that measured the model being rolled out degraded must. The
measurements are put as the join-labels function records them (the labels e2e test
checks that it does, in both series), so the test needs no batch to score and label.
The models are throwaway registry versions of the champion's container, rejected
again at the end, so the versions whose quality is put here are never deployed by
another test within the alarms' look-back.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from driftline_runtime import names

from driftline.realtime_demo import announce_approval, copy_model, deployment_of
from driftline.target import Target
from tests.e2e.conftest import EventRecorder, wait_for
from tests.e2e.test_realtime import (
    DATASET,
    champion,  # noqa: F401 (the fixture)
    config_models,
    deployments,  # noqa: F401 (the fixture)
    no_deployment_running,
    package_like,
    rollback_alarms_quiet,
    serving,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def versions(target: Target, champion: dict[str, Any]) -> Iterator[Any]:  # noqa: F811
    """Makes registry versions of the champion's container, approved by the gate; each
    is rejected again at the end (batch scoring takes the newest approved package)."""
    made: list[str] = []

    def version(label: str) -> tuple[str, str, str]:
        model = copy_model(target, champion["model_name"], label)
        arn = package_like(target, champion, model, "Approved", "approved by the gate")
        made.append(arn)
        return model, arn, arn.rsplit("/", 1)[-1]

    try:
        yield version
    finally:
        sagemaker = target.client("sagemaker")
        for arn in made:
            sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected")


def measured_degraded(target: Target, package_arn: str) -> None:
    """What the join-labels function records when labels measure ``package_arn``'s model
    degraded on a batch of scoring: 1 in the dataset's series and in the model's."""
    group, version = package_arn.rsplit("/", 2)[-2:]
    common = [
        {"Name": "service", "Value": names.MODEL_QUALITY_SERVICE},
        {"Name": names.STAGE_DIMENSION, "Value": target.stage},
    ]
    target.client("cloudwatch").put_metric_data(
        Namespace=names.METRICS_NAMESPACE,
        MetricData=[
            {
                "MetricName": names.MODEL_QUALITY_DEGRADED_METRIC,
                "Dimensions": [*common, *series],
                "Value": 1.0,
                "Unit": "Count",
            }
            for series in (
                [{"Name": names.DATASET_DIMENSION, "Value": "scoring"}],
                [
                    {"Name": names.MODEL_GROUP_DIMENSION, "Value": group},
                    {"Name": names.MODEL_VERSION_DIMENSION, "Value": version},
                ],
            )
        ],
    )


def deploy(
    target: Target, recording: EventRecorder, model: str, arn: str, timeout: float = 240
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Announces ``model``'s approval as the training state machine does; its verdict
    event and its finished execution."""
    sagemaker = target.client("sagemaker")
    announce_approval(target, arn, model)
    event = recording.wait_until(
        lambda e: (
            e["detail-type"] in ("EndpointDeployed", "EndpointRolledBack")
            and model in config_models(sagemaker, e)
            or (
                e["detail-type"] == "EndpointDeploymentFailed"
                and e["detail"]["model_package_arn"] == arn
            )
        ),
        timeout,
        f"the verdict on {model}",
    )
    execution = wait_for(lambda: deployment_of(target, model), 60, f"{model}'s execution", 1.0)
    return event, execution


def quality_alarms(target: Target) -> list[str]:
    prefix = names.quality_alarm_prefix(target.stage, DATASET)
    found = target.client("cloudwatch").describe_alarms(AlarmNamePrefix=prefix)
    return [alarm["AlarmName"] for alarm in found["MetricAlarms"]]


def test_a_canary_is_rolled_back_by_its_own_models_measured_quality_only(
    target: Target,
    deployed: dict[str, str],
    deployments: EventRecorder,  # noqa: F811
    champion: dict[str, Any],  # noqa: F811
    versions: Any,
) -> None:
    endpoint = names.endpoint_name(target.stage, DATASET)
    sagemaker = target.client("sagemaker")
    # Given the endpoint in service, no deployment in flight and no rollback alarm tripped
    serving(target, champion, deployments)
    wait_for(lambda: no_deployment_running(target), 300, "running deployments to end", 1.0)
    wait_for(lambda: rollback_alarms_quiet(target), 300, "the rollback alarms to clear", 1.0)
    # And the endpoint serving a model version of its own (the "old" model)
    old, old_arn, old_version = versions("old")
    event, _ = deploy(target, deployments, old, old_arn)
    assert event["detail-type"] == "EndpointDeployed", event["detail"]

    # When labels measure the old model degraded, and the next version is approved
    measured_degraded(target, old_arn)
    new, new_arn, new_version = versions("new")
    event, execution = deploy(target, deployments, new, new_arn)

    # Then its canary was guarded by an alarm on its own measured quality, and it went out
    assert event["detail-type"] == "EndpointDeployed", event["detail"]
    plan = execution["output"]["plan"]["result"]
    alarm = plan["quality_alarm"]["AlarmName"]
    assert alarm.startswith(names.quality_alarm_prefix(target.stage, DATASET) + f"v{new_version}-")
    assert (
        {d["Name"]: d["Value"] for d in plan["quality_alarm"]["Dimensions"]}[
            names.MODEL_VERSION_DIMENSION
        ]
        == new_version
        != old_version
    )
    rollback = plan["deployment_config"]["AutoRollbackConfiguration"]["Alarms"]
    assert alarm in [a["AlarmName"] for a in rollback]
    assert (
        sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
        == (event["detail"]["endpoint_config"])
    )
    # And the alarm is gone once the verdict is in
    assert alarm not in quality_alarms(target)
    assert "retire_error" not in execution["output"]

    # When labels measure a version degraded before its approval reaches the endpoint
    bad, bad_arn, bad_version = versions("measured")
    measured_degraded(target, bad_arn)
    event, execution = deploy(target, deployments, bad, bad_arn)

    # Then its own quality alarm rolls its canary back, the endpoint serves the new model
    # again, and that deployment's alarm is gone too
    assert event["detail-type"] == "EndpointRolledBack", event["detail"]
    alarm = execution["output"]["plan"]["result"]["quality_alarm"]["AlarmName"]
    assert f"v{bad_version}-" in alarm and alarm in event["detail"]["reason"]
    served = sagemaker.describe_endpoint(EndpointName=endpoint)
    assert served["EndpointStatus"] == "InService"
    assert new in config_models(
        sagemaker, {"detail": {"endpoint_config": served["EndpointConfigName"]}}
    )
    assert alarm not in quality_alarms(target)
