"""A deployment's model-quality guard judges only the model it rolls out.

The join-labels function records ModelQualityDegraded per measured model as well as per
dataset; an update of an endpoint whose models labels measure plans an alarm of its own
on the deployed model's series, names it among the rollback alarms, and the deployment
state machine makes it before UpdateEndpoint and deletes it after the verdict (walked
with ``tests/unit/asl.py``); the local cloud checks those calls against the alarm ARNs.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from driftline_runtime import names
from driftline_runtime.contracts import RealtimeSettings
from driftline_runtime.observability import observability
from driftline_runtime.quality import ModelQuality
from driftline_runtime.steps.deployment import (
    Alarm,
    AutoRollbackConfig,
    DeleteAlarmsRequest,
    DeploymentPlan,
    DeploymentRequest,
    PutMetricAlarmRequest,
)

from tests.unit.asl import Trace, Walker
from tests.unit.test_deployment import (
    EXECUTION,
    PACKAGE,
    REQUEST,
    endpoint,
    planned,
    planner,
    planning,  # noqa: F401 (the fixture)
)
from tests.unit.test_step_contracts import check_events, definition, lambda_answer

PREFIX = names.quality_alarm_prefix("dev", "transactions")
GUARDED = RealtimeSettings()


# -- what join_labels records --------------------------------------------------------------
def emf_records(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith('{"_aws"')]


def test_a_measurement_records_degraded_per_dataset_and_per_measured_model(
    load_logic: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    module = load_logic("join_labels", "labelling")
    logic = module.LabelJoining(
        module.Settings(
            curated_bucket="c", predictions_bucket="p", raw_bucket="r", event_bus_name="b"
        ),
        module.Services(
            s3=None, sagemaker=None, events=None, obs=observability(names.MODEL_QUALITY_SERVICE)
        ),
    )
    # Given labels that measured version 2 of the transactions group degraded on scoring
    quality = ModelQuality(
        dataset="scoring",
        version="b7",
        run="r1",
        model_group="driftline-dev-transactions",
        model_version="2",
        model_package_arn=PACKAGE.replace("/3", "/2"),
        labelled_rows=400,
        metrics={"auc": 0.55},
        primary_metric="auc",
        reference_metric=0.86,
        max_drop=0.05,
        min_labelled_rows=100,
        degraded=True,
        calibration=[],
        time="2026-11-30T06:00:00+00:00",
    )
    capsys.readouterr()
    # When it is recorded
    logic.record(quality)
    records = emf_records(capsys.readouterr().out)

    # Then ModelQualityDegraded is 1 in the dataset's series (the monitoring stack's alarm)
    def dimensions(record: dict[str, Any]) -> set[str]:
        return set(record["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0])

    by_dataset, by_model = records
    assert dimensions(by_dataset) == {"service", names.STAGE_DIMENSION, names.DATASET_DIMENSION}
    assert by_dataset[names.DATASET_DIMENSION] == "scoring"
    assert by_dataset[names.MODEL_QUALITY_DEGRADED_METRIC] == [1.0]
    # And in the measured model's series, whatever dataset it scored, which a
    # deployment's guard watches
    assert dimensions(by_model) == {
        "service",
        names.STAGE_DIMENSION,
        names.MODEL_GROUP_DIMENSION,
        names.MODEL_VERSION_DIMENSION,
    }
    assert by_model["service"] == names.MODEL_QUALITY_SERVICE
    assert by_model[names.MODEL_GROUP_DIMENSION] == "driftline-dev-transactions"
    assert by_model[names.MODEL_VERSION_DIMENSION] == "2"
    assert by_model[names.MODEL_QUALITY_DEGRADED_METRIC] == [1.0]
    metrics = by_model["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    assert [m["Name"] for m in metrics] == [names.MODEL_QUALITY_DEGRADED_METRIC]


# -- the plan ------------------------------------------------------------------------------
def test_an_update_of_a_measured_endpoint_is_guarded_by_its_own_models_quality(
    planning: Any,  # noqa: F811
) -> None:
    # Given an endpoint in service whose models labels measure, and an alarm an earlier
    # deployment left behind
    left = f"{PREFIX}v1-0badc0de"
    plan = planner(
        planning,
        GUARDED,
        "InService",
        alarms=(left, "driftline-dev-transactions-endpoint-server-errors"),
        quality_alarms="transactions",
        quality_alarm_period_seconds=60,
    ).plan(REQUEST)
    # When version 3 is planned, then its deployment makes an alarm on version 3's
    # measured quality alone
    alarm = plan.quality_alarm
    assert alarm is not None and plan.action == "update"
    assert alarm.AlarmName.startswith(f"{PREFIX}v3-")
    assert (alarm.Namespace, alarm.MetricName) == (
        names.METRICS_NAMESPACE,
        names.MODEL_QUALITY_DEGRADED_METRIC,
    )
    assert {d.Name: d.Value for d in alarm.Dimensions} == {
        names.STAGE_DIMENSION: "dev",
        "service": names.MODEL_QUALITY_SERVICE,
        names.MODEL_GROUP_DIMENSION: "driftline-dev-transactions",
        names.MODEL_VERSION_DIMENSION: "3",
    }
    assert (alarm.Statistic, alarm.Period, alarm.Threshold) == ("Maximum", 60, 0)
    assert alarm.TreatMissingData == "notBreaching"
    assert {t.Key: t.Value for t in alarm.Tags} == {"project": "driftline", "stage": "dev"}
    # And that alarm rolls the canary back, beside the errors and latency alarms
    assert plan.deployment_config is not None
    rollback = [a.AlarmName for a in plan.deployment_config.AutoRollbackConfiguration.Alarms]
    assert rollback == [
        *(names.endpoint_alarm_name("dev", "transactions", a) for a in names.ENDPOINT_ALARMS),
        alarm.AlarmName,
    ]
    # And after the verdict it goes with the one left behind; after a failure, alone
    assert plan.retire_on_verdict == DeleteAlarmsRequest(AlarmNames=[alarm.AlarmName, left])
    assert plan.retire_on_failure == DeleteAlarmsRequest(AlarmNames=[alarm.AlarmName])


def test_one_deployment_names_one_alarm_and_another_deployment_another(
    planning: Any,  # noqa: F811
) -> None:
    guarded = planner(planning, GUARDED, "InService", quality_alarms="transactions")
    # Given the same deployment planned twice (a retried step) and a second deployment
    first, again = guarded.plan(REQUEST), guarded.plan(REQUEST)
    other = guarded.plan(REQUEST.model_copy(update={"execution": f"{EXECUTION}-2"}))
    assert first.quality_alarm is not None and other.quality_alarm is not None
    # Then the retry asks for the same alarm, and the other deployment for its own
    assert first.quality_alarm == again.quality_alarm
    assert first.quality_alarm.AlarmName != other.quality_alarm.AlarmName
    # And the alarm is named like the deployment's endpoint config
    assert first.endpoint_config is not None
    digest = first.endpoint_config.EndpointConfigName.rsplit("-", 1)[-1]
    assert first.quality_alarm.AlarmName == f"{PREFIX}v3-{digest}"


@pytest.mark.parametrize(
    ("status", "measured"),
    [(None, "transactions"), ("InService", ""), ("InService", "tickets")],
    ids=["a-new-endpoint", "no-labels", "another-datasets-labels"],
)
def test_no_guard_where_nothing_rolls_back_or_no_labels_measure_the_models(
    planning: Any,  # noqa: F811
    status: str | None,
    measured: str,
) -> None:
    # Given a new endpoint (no canary), or an endpoint whose models no labels measure
    plan = planner(planning, GUARDED, status, quality_alarms=measured).plan(REQUEST)
    # Then no quality alarm is made, named or retired
    assert plan.quality_alarm is None
    assert plan.retire_on_verdict is None and plan.retire_on_failure is None
    assert plan.deployment_config is not None
    assert len(plan.deployment_config.AutoRollbackConfiguration.Alarms) == len(
        names.ENDPOINT_ALARMS
    )


# -- the state machine ---------------------------------------------------------------------
def guarded_plan() -> DeploymentPlan:
    plan = planned("update")
    alarm = f"{PREFIX}v3-abcd1234"
    config = plan.deployment_config
    assert config is not None
    rollback = AutoRollbackConfig(
        Alarms=[*config.AutoRollbackConfiguration.Alarms, Alarm(AlarmName=alarm)]
    )
    return plan.model_copy(
        update={
            "quality_alarm": PutMetricAlarmRequest(
                AlarmName=alarm,
                AlarmDescription="v3's quality",
                Namespace=names.METRICS_NAMESPACE,
                MetricName=names.MODEL_QUALITY_DEGRADED_METRIC,
                Dimensions=[{"Name": names.MODEL_VERSION_DIMENSION, "Value": "3"}],
                Statistic="Maximum",
                Period=60,
                EvaluationPeriods=1,
                Threshold=0,
                ComparisonOperator="GreaterThanThreshold",
                TreatMissingData="notBreaching",
                Tags=[{"Key": "project", "Value": "driftline"}],
            ),
            "deployment_config": config.model_copy(update={"AutoRollbackConfiguration": rollback}),
            "retire_on_verdict": DeleteAlarmsRequest(AlarmNames=[alarm, f"{PREFIX}v1-0"]),
            "retire_on_failure": DeleteAlarmsRequest(AlarmNames=[alarm]),
        }
    )


def walk_guarded(
    verdicts: list[dict[str, Any]], failing: frozenset[str] = frozenset()
) -> tuple[Trace, list[tuple[str, Any]]]:
    """A guarded update whose DescribeEndpoint answers ``verdicts``; the calls it made."""
    answers, calls = iter(verdicts), []
    plan = guarded_plan()

    def respond(name: str, state: dict[str, Any], given: Any) -> Any:
        resource = state["Resource"].rsplit(":::", 1)[-1]
        calls.append((resource, given))
        if resource == "lambda:invoke":
            assert DeploymentRequest.model_validate(given["Payload"]) == REQUEST
            return lambda_answer(plan)
        if resource == "aws-sdk:cloudwatch:putMetricAlarm":
            assert PutMetricAlarmRequest.model_validate(given) == plan.quality_alarm
            return {}
        if resource == "aws-sdk:cloudwatch:deleteAlarms":
            DeleteAlarmsRequest.model_validate(given)
            return {}
        if resource == "sagemaker:createEndpointConfig":
            return {"EndpointConfigArn": "arn"}
        if resource == "aws-sdk:sagemaker:describeEndpoint":
            return next(answers)
        return {"EndpointArn": "arn"} if resource.startswith("sagemaker:") else {}

    started = REQUEST.model_dump(exclude={"execution"})
    context = {"Execution": {"Id": EXECUTION, "Input": started}}
    trace = Walker(respond, failing).run(definition("deployment.asl.json"), started, context)
    return trace, calls


def made(calls: list[tuple[str, Any]]) -> list[str]:
    return [resource for resource, _ in calls if "cloudwatch" in resource or "Endpoint" in resource]


@pytest.mark.parametrize(
    ("verdict", "announced"),
    [
        (endpoint("InService"), "EndpointDeployed"),
        (
            endpoint("InService", "dl-dev-transactions-v2-0", FailureReason="a"),
            "EndpointRolledBack",
        ),
    ],
    ids=["deployed", "rolled-back"],
)
def test_the_guard_is_made_before_the_update_and_retired_after_the_verdict(
    verdict: dict[str, Any], announced: str
) -> None:
    # Given a guarded update, when SageMaker settles either way
    trace, calls = walk_guarded([endpoint("Updating"), verdict])
    # Then the alarm was made before UpdateEndpoint named it, and deleted after the
    # verdict was announced, with what earlier deployments left behind
    assert not trace.failed and check_events(trace) == [announced]
    assert made(calls) == [
        "sagemaker:createEndpointConfig",
        "aws-sdk:cloudwatch:putMetricAlarm",
        "sagemaker:updateEndpoint",
        "aws-sdk:sagemaker:describeEndpoint",
        "aws-sdk:sagemaker:describeEndpoint",
        "aws-sdk:cloudwatch:deleteAlarms",
    ]
    (update,) = [given for resource, given in calls if resource == "sagemaker:updateEndpoint"]
    rollback = [
        a["AlarmName"] for a in update["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
    ]
    assert f"{PREFIX}v3-abcd1234" in rollback
    assert trace.inputs["RetireQualityAlarms"] == {
        "AlarmNames": [f"{PREFIX}v3-abcd1234", f"{PREFIX}v1-0"]
    }
    assert trace.states.index("RetireQualityAlarms") > trace.states.index(f"Publish{announced}")


@pytest.mark.parametrize("failing", ["UpdateEndpoint", "DescribeEndpoint"])
def test_a_failed_deployment_deletes_its_own_alarm_only(failing: str) -> None:
    trace, _ = walk_guarded([endpoint("Updating")], frozenset({failing}))
    assert trace.failed and check_events(trace) == ["EndpointDeploymentFailed"]
    assert trace.inputs["WithdrawQualityAlarm"] == {"AlarmNames": [f"{PREFIX}v3-abcd1234"]}
    assert "RetireQualityAlarms" not in trace.states


def test_no_update_goes_out_without_its_guard() -> None:
    trace, calls = walk_guarded([], frozenset({"PutQualityAlarm"}))
    assert trace.failed and check_events(trace) == ["EndpointDeploymentFailed"]
    assert "sagemaker:updateEndpoint" not in made(calls)


def test_an_alarm_that_cannot_be_deleted_does_not_undo_the_verdict() -> None:
    trace, _ = walk_guarded([endpoint("InService")], frozenset({"RetireQualityAlarms"}))
    assert not trace.failed and check_events(trace) == ["EndpointDeployed"]
    assert trace.output["retire_error"]["Error"] == "States.TaskFailed"


def test_an_unguarded_deployment_touches_no_alarm() -> None:
    started = REQUEST.model_dump(exclude={"execution"})
    context = {"Execution": {"Id": EXECUTION, "Input": started}}
    resources: list[str] = []

    def respond(name: str, state: dict[str, Any], given: Any) -> Any:
        resources.append(state["Resource"])
        if name == "Plan":
            return lambda_answer(planned("update"))
        if name == "DescribeEndpoint":
            return endpoint("InService")
        return {"EndpointConfigArn": "arn"}

    trace = Walker(respond).run(definition("deployment.asl.json"), started, context)
    assert not trace.failed
    assert not [r for r in resources if "cloudwatch" in r]
