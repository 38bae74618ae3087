"""Real-time deployment: the plan a model's approval turns into, and the deployment state
machine's contract with its steps and events (walked with ``tests/unit/asl.py``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from driftline_runtime import names
from driftline_runtime.contracts import DatasetSpec, RealtimeSettings
from driftline_runtime.steps.deployment import (
    CreateEndpointConfigRequest,
    DeploymentConfig,
    DeploymentPlan,
    DeploymentRequest,
    DeploymentState,
    EndpointState,
)
from pydantic import BaseModel, ValidationError

from tests.unit.asl import TaskFailure, Trace, Walker
from tests.unit.test_step_contracts import check_events, definition, lambda_answer

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
PACKAGE = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package/driftline-dev-transactions/3"
EXECUTION = f"arn:aws:states:us-east-1:{ACCOUNT}:execution:driftline-dev-deployment:run-1"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k"
REQUEST = DeploymentRequest(
    dataset="transactions",
    model_package_arn=PACKAGE,
    model_name="dl-dev-transactions-a3f2d893-20261101100000",
    execution=EXECUTION,
)
# What the rule on SageMaker's Model Package State Change starts: the package only.
FROM_REGISTRY = DeploymentRequest(
    dataset="", model_package_arn=PACKAGE, model_name="", execution=EXECUTION, trigger="registry"
)
BOTH_TRIGGERS = pytest.mark.parametrize(
    "request_", [REQUEST, FROM_REGISTRY], ids=["registered", "registry"]
)


@pytest.fixture(scope="module")
def planning() -> Iterator[Any]:
    """The plan function's logic module, imported as Lambda imports it."""
    sys.path.insert(0, str(ROOT / "functions" / "plan_deployment"))
    try:
        import planning

        yield planning
    finally:
        sys.path.remove(str(ROOT / "functions" / "plan_deployment"))
        sys.modules.pop("planning", None)
        sys.modules.pop("quality_guard", None)


class Features(BaseModel):
    transaction_id: str
    amount: float
    is_fraud: bool


def spec(realtime: RealtimeSettings | None) -> DatasetSpec:
    return DatasetSpec(
        name="transactions",
        kind="training",
        contract=Features,
        contract_version="1.0.0",
        id_column="transaction_id",
        target="is_fraud",
        realtime=realtime,
    )


def planner(
    planning: Any,
    realtime: RealtimeSettings | None,
    status: str | None,
    packages: dict[str, dict[str, Any]] | None = None,
    models: frozenset[str] = frozenset({"dl-dev-transactions-a3f2d893-20261101100000"}),
    serving: str = "dl-dev-transactions-v2-abcd1234",
    alarms: tuple[str, ...] = (),
    **extra: Any,
) -> Any:
    settings = planning.Settings(
        stage="dev",
        capture_bucket="predictions",
        key_arn=KEY,
        poll_seconds=5,
        model_package_group_prefix="driftline-dev",
        **extra,
    )
    services = planning.Services(
        contract=lambda dataset: spec(realtime) if dataset == "transactions" else None,
        endpoint=lambda name: (
            None if status is None else {"EndpointStatus": status, "EndpointConfigName": serving}
        ),
        model_package=(packages or {}).__getitem__,
        model_exists=models.__contains__,
        alarm_names=lambda prefix: sorted(a for a in alarms if a.startswith(prefix)),
    )
    return planning.DeploymentPlanner(settings, services)


def test_a_dataset_without_realtime_settings_is_skipped(planning: Any) -> None:
    # Given a dataset that does not opt in
    # When its approved model is planned
    plan = planner(planning, None, None).plan(REQUEST)
    # Then nothing is deployed, and the plan says why
    assert plan.action == "skip"
    assert "declares no realtime settings" in plan.reason
    assert plan.endpoint_config is None


def test_the_first_model_creates_the_endpoint_with_capture_under_the_key(planning: Any) -> None:
    # Given a dataset that opts in and no endpoint yet
    settings = RealtimeSettings(instance_count=2, capture_percent=30)
    # When its approved model is planned
    plan = planner(planning, settings, None).plan(REQUEST)
    # Then the endpoint is created from a config of one variant for the model, sized by
    # the settings, its volumes and captured traffic encrypted with the project key
    assert plan.action == "create"
    assert plan.endpoint_name == names.endpoint_name("dev", "transactions")
    assert plan.model_version == "3"
    config = plan.endpoint_config
    assert config is not None
    (variant,) = config.ProductionVariants
    assert variant.VariantName == names.ENDPOINT_VARIANT
    assert variant.ModelName == REQUEST.model_name
    assert (variant.InstanceType, variant.InitialInstanceCount) == ("ml.m5.large", 2)
    assert config.KmsKeyId == KEY
    capture = config.DataCaptureConfig
    assert capture is not None and capture.KmsKeyId == KEY
    assert capture.InitialSamplingPercentage == 30
    assert capture.DestinationS3Uri == "s3://predictions/capture/transactions"
    assert {option.CaptureMode for option in capture.CaptureOptions} == {"Input", "Output"}
    assert config.EndpointConfigName.startswith("dl-dev-transactions-v3-")
    assert len(config.EndpointConfigName) <= names.SAGEMAKER_NAME_LIMIT


def test_a_later_model_updates_blue_green_with_a_canary_guarded_by_the_alarms(
    planning: Any,
) -> None:
    # Given an endpoint in service and canary settings
    settings = RealtimeSettings(
        canary_percent=20, canary_wait_seconds=300, termination_wait_seconds=120
    )
    # When the next approved model is planned
    plan = planner(planning, settings, "InService").plan(REQUEST)
    # Then it is a blue/green update: 20% for five minutes, then all of it, rolled back
    # by either of the endpoint's alarms
    assert plan.action == "update"
    deployment = plan.deployment_config
    assert deployment is not None
    policy = deployment.BlueGreenUpdatePolicy
    routing = policy.TrafficRoutingConfiguration
    assert routing.Type == "CANARY" and routing.WaitIntervalInSeconds == 300
    assert routing.CanarySize is not None
    assert (routing.CanarySize.Type, routing.CanarySize.Value) == ("CAPACITY_PERCENT", 20)
    assert policy.TerminationWaitInSeconds == 120
    assert policy.MaximumExecutionTimeoutInSeconds >= 300 + 120
    alarms = [alarm.AlarmName for alarm in deployment.AutoRollbackConfiguration.Alarms]
    assert alarms == [
        names.endpoint_alarm_name("dev", "transactions", alarm) for alarm in names.ENDPOINT_ALARMS
    ]


def test_a_serverless_stage_shifts_all_at_once_and_captures_nothing(planning: Any) -> None:
    # Given a stage that serves real-time models serverless
    settings = RealtimeSettings(serverless_memory_mb=4096, serverless_max_concurrency=8)
    # When a model is planned
    plan = planner(planning, settings, "InService", serverless=True).plan(REQUEST)
    # Then the variant is serverless, traffic shifts at once, and nothing is captured
    assert plan.endpoint_config is not None and plan.deployment_config is not None
    (variant,) = plan.endpoint_config.ProductionVariants
    assert variant.ServerlessConfig is not None
    assert (variant.ServerlessConfig.MemorySizeInMB, variant.InstanceType) == (4096, None)
    assert plan.endpoint_config.DataCaptureConfig is None
    assert plan.endpoint_config.KmsKeyId is None
    routing = plan.deployment_config.BlueGreenUpdatePolicy.TrafficRoutingConfiguration
    assert routing.Type == "ALL_AT_ONCE"


@pytest.mark.parametrize("status", ["Creating", "Updating", "RollingBack"])
def test_an_endpoint_that_is_deploying_makes_the_plan_wait(planning: Any, status: str) -> None:
    with pytest.raises(planning.EndpointBusy, match=status):
        planner(planning, RealtimeSettings(), status).plan(REQUEST)


def test_a_model_the_gate_approved_after_a_newer_one_was_deployed_is_skipped(
    planning: Any,
) -> None:
    # Given an endpoint that came to serve model version 4, approved, while version 3's
    # deployment waited for it (two approvals close together)
    settings = RealtimeSettings()
    newer = "dl-dev-transactions-v4-0123abcd"
    v4 = PACKAGE.replace("/3", "/4")
    packages = {v4: {"ModelApprovalStatus": "Approved"}}
    # When version 3, which the gate approved, is planned
    plan = planner(planning, settings, "InService", packages, serving=newer).plan(REQUEST)
    # Then it is skipped, saying which version stays
    assert plan.action == "skip" and plan.endpoint_config is None
    assert "already serves model version 4, approved and newer than 3" in plan.reason
    # And it is deployed when version 4 was withdrawn since (rejected in the registry)
    withdrawn = {v4: {"ModelApprovalStatus": "Rejected"}}
    plan = planner(planning, settings, "InService", withdrawn, serving=newer).plan(REQUEST)
    assert plan.action == "update"
    # And an endpoint serving an older version, the same one or a config made by hand is
    # updated
    for config in ("dl-dev-transactions-v2-0123abcd", "dl-dev-transactions-v3-0123abcd", "x"):
        assert planner(planning, settings, "InService", serving=config).plan(REQUEST).action == (
            "update"
        )


def test_a_package_a_person_approved_is_deployed_over_a_newer_one(planning: Any) -> None:
    # Given an endpoint serving version 4 and version 3 approved by hand in the registry
    arn = REQUEST.model_package_arn
    package = {
        "ModelPackageGroupName": "driftline-dev-transactions",
        "ModelApprovalStatus": "Approved",
        "CustomerMetadataProperties": {names.TRAINING_JOB_METADATA_KEY: REQUEST.model_name},
    }
    by_hand = REQUEST.model_copy(update={"trigger": "registry", "dataset": "", "model_name": ""})
    plan = planner(
        planning,
        RealtimeSettings(),
        "InService",
        packages={arn: package},
        serving="dl-dev-transactions-v4-0123abcd",
    ).plan(by_hand)
    # Then going back is the person's decision: the endpoint is updated to version 3
    assert plan.action == "update" and plan.model_version == "3"


def test_a_failed_endpoint_is_refused_with_the_fix(planning: Any) -> None:
    with pytest.raises(planning.EndpointNotDeployable, match="delete-endpoint"):
        planner(planning, RealtimeSettings(), "Failed").plan(REQUEST)


def test_realtime_settings_are_for_training_datasets_and_bounded() -> None:
    with pytest.raises(ValidationError, match="realtime is for training datasets only"):
        DatasetSpec(
            name="scoring",
            kind="inference",
            contract=Features,
            contract_version="1.0.0",
            id_column="transaction_id",
            model_dataset="transactions",
            realtime=RealtimeSettings(),
        )
    with pytest.raises(ValidationError):
        RealtimeSettings(canary_percent=60)  # SageMaker's canary is at most half


# -- the state machine's contract -------------------------------------------------------
def planned(action: str) -> DeploymentPlan:
    return DeploymentPlan(
        action=action,
        reason="why",
        dataset="transactions",
        model_package_arn=PACKAGE,
        model_version="3",
        model_name=REQUEST.model_name,
        endpoint_name="dl-dev-transactions-live",
        endpoint_config=None
        if action == "skip"
        else CreateEndpointConfigRequest.model_validate(
            {
                "EndpointConfigName": "dl-dev-transactions-v3-abcd1234",
                "ProductionVariants": [
                    {
                        "VariantName": names.ENDPOINT_VARIANT,
                        "ModelName": REQUEST.model_name,
                        "InstanceType": "ml.m5.large",
                        "InitialInstanceCount": 1,
                    }
                ],
                "Tags": [{"Key": "project", "Value": "driftline"}],
            }
        ),
        deployment_config=None
        if action == "skip"
        else DeploymentConfig.model_validate(
            {
                "BlueGreenUpdatePolicy": {
                    "TrafficRoutingConfiguration": {
                        "Type": "CANARY",
                        "WaitIntervalInSeconds": 30,
                        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 20},
                    },
                    "TerminationWaitInSeconds": 10,
                    "MaximumExecutionTimeoutInSeconds": 1840,
                },
                "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "a"}]},
            }
        ),
        poll_seconds=5,
    )


def walk(
    action: str,
    verdicts: list[dict[str, Any]],
    failing: frozenset[str] = frozenset(),
    request: DeploymentRequest = REQUEST,
    refusals: tuple[str, ...] = (),
) -> Trace:
    """A deployment, started with ``request``, whose DescribeEndpoint answers
    ``verdicts`` in turn, and whose first CreateEndpoint/UpdateEndpoint calls SageMaker
    refuses with ``refusals`` (their causes) in turn."""
    answers = iter(verdicts)
    refused = iter(refusals)

    def respond(name: str, state: dict[str, Any], given: Any) -> Any:
        resource = state["Resource"]
        if resource == "arn:aws:states:::lambda:invoke":
            assert DeploymentRequest.model_validate(given["Payload"]) == request
            return lambda_answer(planned(action))
        if resource == "arn:aws:states:::sagemaker:createEndpointConfig":
            CreateEndpointConfigRequest.model_validate(given)
            name = given["EndpointConfigName"]
            return {"EndpointConfigArn": f"arn:aws:sagemaker:::endpoint-config/{name}"}
        if resource in (
            "arn:aws:states:::sagemaker:createEndpoint",
            "arn:aws:states:::sagemaker:updateEndpoint",
        ):
            if resource.endswith("createEndpoint"):
                assert set(given) == {"EndpointName", "EndpointConfigName", "Tags"}
            else:
                DeploymentConfig.model_validate(given["DeploymentConfig"])
            cause = next(refused, None)
            if cause is not None:
                raise TaskFailure("SageMaker.AmazonSageMakerException", cause)
            return {"EndpointArn": "arn"}
        if resource == "arn:aws:states:::aws-sdk:sagemaker:describeEndpoint":
            answer = next(answers)
            EndpointState.model_validate(answer)
            return answer
        assert resource == "arn:aws:states:::events:putEvents", resource
        return {"Entries": [{"EventId": "e"}], "FailedEntryCount": 0}

    started = request.model_dump(exclude={"execution"})
    context = {"Execution": {"Id": EXECUTION, "Input": started}}
    return Walker(respond, failing).run(definition("deployment.asl.json"), started, context)


def endpoint(
    status: str, config: str = "dl-dev-transactions-v3-abcd1234", **extra: Any
) -> dict[str, Any]:
    return {
        "EndpointName": "dl-dev-transactions-live",
        "EndpointConfigName": config,
        "EndpointStatus": status,
        **extra,
    }


@BOTH_TRIGGERS
@pytest.mark.parametrize("action", ["create", "update"])
def test_a_deployment_waits_for_sagemaker_and_announces_the_new_model(
    action: str, request_: DeploymentRequest
) -> None:
    # Given SageMaker that is busy twice, then serves the new config
    verdicts = [endpoint("Creating"), endpoint("Updating"), endpoint("InService")]
    # When the deployment runs, started by either rule
    trace = walk(action, verdicts, request=request_)
    # Then it created or updated the endpoint, looked three times, and announced it with
    # the plan's dataset and model version
    assert not trace.failed
    assert ("CreateEndpoint" if action == "create" else "UpdateEndpoint") in trace.states
    assert trace.states.count("DescribeEndpoint") == 3
    assert check_events(trace) == ["EndpointDeployed"]
    ((_, entry),) = trace.events
    assert (entry["Detail"]["dataset"], entry["Detail"]["model_version"]) == ("transactions", "3")
    # And what the execution leaves reads as the plan's dataset and model, whichever
    # rule started it (driftline status reads it)
    state = DeploymentState.model_validate(trace.output)
    assert (state.deployed_dataset, state.deployed_model) == ("transactions", REQUEST.model_name)


def test_a_rollback_is_announced_with_sagemaker_s_reason() -> None:
    # Given SageMaker that rolls back and serves the old config again
    verdicts = [
        endpoint("RollingBack"),
        endpoint("InService", "dl-dev-transactions-v2-0000", FailureReason="alarm a tripped"),
    ]
    # When the deployment runs
    trace = walk("update", verdicts)
    # Then EndpointRolledBack carries the reason, and the execution succeeds: the guardrail
    # did its work
    assert not trace.failed
    assert check_events(trace) == ["EndpointRolledBack"]
    ((_, entry),) = trace.events
    assert entry["Detail"]["reason"] == "alarm a tripped"


def test_a_rollback_without_a_reason_still_says_what_happened() -> None:
    trace = walk("update", [endpoint("InService", "dl-dev-transactions-v2-0000")])
    ((_, entry),) = trace.events
    assert entry["DetailType"] == "EndpointRolledBack"
    assert "rolled the deployment back" in entry["Detail"]["reason"]


def test_a_failed_endpoint_fails_the_deployment() -> None:
    trace = walk("create", [endpoint("Failed", FailureReason="the model did not load")])
    assert trace.failed
    assert check_events(trace) == ["EndpointDeploymentFailed"]
    ((_, entry),) = trace.events
    assert "the model did not load" in json.loads(entry["Detail"]["cause"])["FailureReason"]


@BOTH_TRIGGERS
def test_a_skipped_dataset_touches_no_endpoint(request_: DeploymentRequest) -> None:
    trace = walk("skip", [], request=request_)
    assert not trace.failed and not trace.events
    assert "CreateEndpointConfig" not in trace.states


@pytest.mark.parametrize(
    "failing", ["Plan", "CreateEndpointConfig", "UpdateEndpoint", "DescribeEndpoint"]
)
@BOTH_TRIGGERS
def test_a_failed_step_is_announced_as_deployment_failed(
    failing: str, request_: DeploymentRequest
) -> None:
    trace = walk("update", [endpoint("InService")], frozenset({failing}), request_)
    assert trace.failed
    assert check_events(trace) == ["EndpointDeploymentFailed"]


IN_PROGRESS = (
    'Cannot update in-progress endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/'
    'dl-dev-transactions-live". (Service: AmazonSageMaker; Status Code: 400; Error Code: '
    "ValidationException; Request ID: r; Proxy: null)"
)
EXISTS = 'Cannot create already existing endpoint "arn:aws:sagemaker:::endpoint/x". (Service: ...)'


@pytest.mark.parametrize(("action", "cause"), [("update", IN_PROGRESS), ("create", EXISTS)])
def test_a_deployment_another_one_overtook_plans_again_and_deploys(action: str, cause: str) -> None:
    # Given SageMaker that refuses the call once because another deployment got to the
    # endpoint between Plan and the call
    # When the deployment runs
    trace = walk(action, [endpoint("InService")], refusals=(cause,))
    # Then it plans again after a wait, reuses the config it made, and deploys
    assert not trace.failed
    assert trace.states.count("Plan") == 2 and trace.states.count("CreateEndpointConfig") == 1
    assert "ReplanAfterAWhile" in trace.states
    assert check_events(trace) == ["EndpointDeployed"]
    # And the lost race is not the execution's error (driftline status reads it)
    assert DeploymentState.model_validate(trace.output).error is None


def test_a_deployment_overtaken_again_and_again_gives_up_with_the_refusal() -> None:
    # Given SageMaker that refuses every call as in progress
    trace = walk("update", [], refusals=(IN_PROGRESS,) * 10)
    # Then after five plans more it fails, announcing SageMaker's refusal
    assert trace.failed
    assert trace.states.count("Plan") == 6
    assert check_events(trace) == ["EndpointDeploymentFailed"]
    ((_, entry),) = trace.events
    assert "in-progress endpoint" in entry["Detail"]["cause"]


def test_a_refusal_for_another_reason_fails_the_deployment_at_once() -> None:
    trace = walk("update", [], refusals=('Could not find model "m". (Service: ...)',))
    assert trace.failed and trace.states.count("Plan") == 1
    assert check_events(trace) == ["EndpointDeploymentFailed"]
    ((_, entry),) = trace.events
    assert "Could not find model" in entry["Detail"]["cause"]
