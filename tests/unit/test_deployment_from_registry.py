"""A deployment started by SageMaker's own approval event (the registry's Model Package
State Change): the plan resolves the package, deploys an approval made by hand, and
leaves a package the gate approved to its ModelRegistered event."""

from __future__ import annotations

from typing import Any

import pytest
from driftline_runtime import names
from driftline_runtime.contracts import RealtimeSettings
from driftline_runtime.steps.deployment import DeploymentPlan, DeploymentRequest

from driftline import endpoints as realtime
from driftline import status as status_of
from driftline.realtime_demo import deployment_of
from tests.unit import test_deployment
from tests.unit.test_deployment import FROM_REGISTRY, PACKAGE, REQUEST, planner

planning = test_deployment.planning  # the plan function's module, imported as Lambda does
GROUP = "driftline-dev-transactions"


def package(
    status: str = "Approved",
    gate: str | None = "Rejected",
    group: str = GROUP,
    **metadata: str,
) -> dict[str, dict[str, Any]]:
    """DescribeModelPackage's answer for PACKAGE, as the register step leaves it."""
    properties = {
        "dataset": group.removeprefix("driftline-dev-"),
        names.TRAINING_JOB_METADATA_KEY: REQUEST.model_name,
        **({names.GATE_DECISION_METADATA_KEY: gate} if gate else {}),
        **metadata,
    }
    return {
        PACKAGE: {
            "ModelPackageGroupName": group,
            "ModelPackageVersion": 3,
            "ModelPackageArn": PACKAGE,
            "ModelApprovalStatus": status,
            "CustomerMetadataProperties": properties,
        }
    }


def test_a_package_approved_by_hand_is_resolved_and_deployed(planning: Any) -> None:
    # Given a package the gate rejected that a person then approved, and no endpoint yet
    plans = planner(planning, RealtimeSettings(), None, package(gate="Rejected"))
    # When the registry's approval event is planned
    plan = plans.plan(FROM_REGISTRY)
    # Then its dataset comes from its group and its model from its metadata, and it is
    # deployed as the gate's own approvals are
    assert plan.action == "create"
    assert (plan.dataset, plan.model_name, plan.model_version) == (
        "transactions",
        REQUEST.model_name,
        "3",
    )
    assert plan.deployed_by is None
    assert plan.endpoint_config is not None
    (variant,) = plan.endpoint_config.ProductionVariants
    assert variant.ModelName == REQUEST.model_name
    # And it is the plan the ModelRegistered event would have made
    same = planner(planning, RealtimeSettings(), None).plan(REQUEST)
    assert plan == same


@pytest.mark.parametrize("gate", ["PendingManualApproval", None], ids=["pending", "unrecorded"])
def test_a_manual_approval_or_a_package_registered_elsewhere_deploys(
    planning: Any, gate: str | None
) -> None:
    # Given prod's manual approval (the gate left it pending), or a package that another
    # tool registered Approved (no gate decision recorded), on an endpoint in service
    plans = planner(planning, RealtimeSettings(), "InService", package(gate=gate))
    # When the registry's approval event is planned
    plan = plans.plan(FROM_REGISTRY)
    # Then the endpoint is updated to it
    assert plan.action == "update"
    assert plan.deployment_config is not None


def test_the_gates_own_approval_is_left_to_model_registered(planning: Any) -> None:
    # Given a package the gate approved at registration (created Approved, so SageMaker
    # announces it too, while ModelRegistered already starts its deployment)
    plans = planner(planning, RealtimeSettings(), None, package(gate="Approved"))
    # When the registry's creation event is planned
    plan = plans.plan(FROM_REGISTRY)
    # Then nothing is deployed twice: the plan skips, saying which trigger deploys it
    assert plan.action == "skip"
    assert plan.deployed_by == "registered"
    assert "ModelRegistered event deploys it" in plan.reason
    assert plan.endpoint_config is None
    assert (plan.dataset, plan.model_name) == ("transactions", REQUEST.model_name)
    # While the ModelRegistered event of the same package deploys it
    assert planner(planning, RealtimeSettings(), None).plan(REQUEST).action == "create"


def test_an_approval_withdrawn_since_the_event_is_not_deployed(planning: Any) -> None:
    # Given a package approved by hand and rejected again before the plan ran
    plans = planner(planning, RealtimeSettings(), None, package(status="Rejected"))
    # When the approval event is planned
    plan = plans.plan(FROM_REGISTRY)
    # Then nothing is deployed, and the plan says why
    assert plan.action == "skip" and plan.deployed_by is None
    assert "is Rejected now" in plan.reason


def test_a_package_of_a_dataset_without_realtime_settings_is_skipped(planning: Any) -> None:
    # Given an approval by hand in the group of a dataset that has no endpoint
    plans = planner(planning, None, None, package(group="driftline-dev-loans"))
    # When it is planned
    plan = plans.plan(FROM_REGISTRY)
    # Then it is skipped as that dataset's ModelRegistered approvals are
    assert plan.action == "skip" and plan.deployed_by is None
    assert plan.dataset == "loans"
    assert "loans declares no realtime settings" in plan.reason


@pytest.mark.parametrize(
    ("described", "message"),
    [
        (package(group="driftline-prod-transactions"), "not one of the stage's"),
        (package(group="driftline-dev-"), "not one of the stage's"),
        (
            {PACKAGE: {**package()[PACKAGE], "CustomerMetadataProperties": {}}},
            "names no model to serve",
        ),
    ],
    ids=["other-stage", "no-dataset", "no-model"],
)
def test_a_package_that_names_nothing_deployable_is_refused_clearly(
    planning: Any, described: dict[str, dict[str, Any]], message: str
) -> None:
    # Given an approved package outside the stage's groups, or without its model's name
    plans = planner(planning, RealtimeSettings(), None, described)
    # When it is planned, then the step fails saying what is missing (the state machine
    # announces EndpointDeploymentFailed with it)
    with pytest.raises(planning.PackageNotDeployable, match=message):
        plans.plan(FROM_REGISTRY)


def test_a_package_whose_model_does_not_exist_is_refused_with_the_fix(planning: Any) -> None:
    # Given a package approved by hand whose model was never created (a package rejected
    # before training created the model of every registered package)
    plans = planner(planning, RealtimeSettings(), None, package(), models=frozenset())
    # When it is planned, then the step fails naming the model and how to make it
    with pytest.raises(planning.PackageNotDeployable, match="which does not exist.*create-model"):
        plans.plan(FROM_REGISTRY)


def test_the_model_registered_event_does_not_describe_the_package(planning: Any) -> None:
    # Given a planner that knows no package
    plans = planner(planning, RealtimeSettings(), None, {})
    # When a ModelRegistered approval is planned, then it needs none: the event names all
    assert plans.plan(REQUEST).action == "create"


# -- what driftline status and the demo read ---------------------------------------------
def execution(
    name: str, request: DeploymentRequest, plan: DeploymentPlan, deployed: bool
) -> dict[str, Any]:
    """A finished deployment execution as ``status.executions(described=True)`` lists it."""
    config = plan.endpoint_config.EndpointConfigName if plan.endpoint_config else ""
    state: dict[str, Any] = {
        **request.model_dump(exclude={"execution"}),
        "plan": {"result": plan.model_dump(mode="json", exclude_none=True)},
    }
    if deployed:
        state["endpoint"] = {
            "EndpointName": plan.endpoint_name,
            "EndpointConfigName": config,
            "EndpointStatus": "InService",
        }
    return {
        "name": name,
        "status": "SUCCEEDED",
        "started": f"2026-11-29T10:00:0{name[-1]}+00:00",
        "stopped": f"2026-11-29T10:01:0{name[-1]}+00:00",
        "input": request.model_dump(exclude={"execution"}),
        "output": state,
    }


class FakeTarget:
    stage = "dev"

    def __init__(self, config: str) -> None:
        self.config = config

    def outputs(self, lifecycle: str = "") -> dict[str, str]:
        return {names.DEPLOYMENT_STATE_MACHINE_OUTPUT: "arn:deployment"}

    def client(self, service: str) -> Any:
        config = self.config

        class SageMaker:
            def describe_endpoint(self, EndpointName: str) -> dict[str, Any]:  # noqa: N803
                return {
                    "EndpointStatus": "InService",
                    "EndpointConfigName": config,
                    "ProductionVariants": [{"VariantName": "live", "CurrentWeight": 1.0}],
                }

            def describe_endpoint_config(self, EndpointConfigName: str) -> dict[str, Any]:  # noqa: N803
                return {"ProductionVariants": [{"VariantName": "live", "ModelName": "m"}]}

        return SageMaker()


def test_status_and_the_demo_read_the_dataset_and_model_from_the_plan(
    planning: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the gate's approval deployed by ModelRegistered, the registry event's skip of
    # that same package, and a later package approved by hand deployed by the registry's
    gate_plan = planner(planning, RealtimeSettings(), None).plan(REQUEST)
    duplicate = planner(planning, RealtimeSettings(), None, package(gate="Approved")).plan(
        FROM_REGISTRY
    )
    by_hand_request = FROM_REGISTRY.model_copy(
        update={"model_package_arn": PACKAGE.replace("/3", "/4")}
    )
    by_hand_package = {
        by_hand_request.model_package_arn: {
            **package()[PACKAGE],
            "CustomerMetadataProperties": {names.TRAINING_JOB_METADATA_KEY: "dl-dev-by-hand"},
        }
    }
    by_hand = planner(
        planning, RealtimeSettings(), "InService", by_hand_package, frozenset({"dl-dev-by-hand"})
    ).plan(by_hand_request)
    executions = [
        execution("run-1", REQUEST, gate_plan, deployed=True),
        execution("run-2", FROM_REGISTRY, duplicate, deployed=False),
        execution("run-3", by_hand_request, by_hand, deployed=True),
    ]
    assert by_hand.endpoint_config is not None
    target = FakeTarget(by_hand.endpoint_config.EndpointConfigName)
    # When status lists the endpoints
    (listed,) = realtime.endpoints(target, executions, [])  # type: ignore[arg-type]
    # Then the endpoint's dataset and last deployment come from the hand approval's plan
    assert listed["dataset"] == "transactions"
    assert listed["last_deployment"]["outcome"] == "deployed"
    assert listed["last_deployment"]["time"] == executions[2]["stopped"]
    # And the demo finds each model's deployment by the model its plan resolved, never
    # the registry's skip of a package ModelRegistered deploys
    monkeypatch.setattr(status_of, "executions", lambda *args, **kwargs: executions)
    assert deployment_of(target, REQUEST.model_name)["name"] == "run-1"  # type: ignore[arg-type,index]
    found = deployment_of(target, "dl-dev-by-hand")  # type: ignore[arg-type]
    assert found is not None and (found["name"], found["outcome"]) == ("run-3", "deployed")
    assert deployment_of(target, "dl-dev-unknown") is None  # type: ignore[arg-type]
