"""Real-time scoring on the local cloud: an approved model is deployed to its dataset's
endpoint, scores rows as a user drops them, and a faulty model is rolled back.

The deployment is started as on AWS: by a ModelRegistered(Approved) event on the project
bus, which the deployment rule turns into an execution of the deployment state machine.
The events here name a real approved package and the model its training run created
(or a copy of that model under a new name, which fault injection can make fail), so the
test does not depend on which model the session's other tests got approved.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from botocore.exceptions import ClientError
from driftline_runtime import names

from driftline import endpoints as realtime
from driftline.actions import drop_file, wait_for_inference, wait_for_model, wait_for_version
from driftline.faults import armed_faults
from driftline.localcloud import LocalCloud
from driftline.realtime_demo import (
    VERDICTS,
    announce_approval,
    copy_model,
    deployment_of,
    newest_package,
)
from driftline.samples import generate_transactions
from driftline.target import Target
from tests.e2e.conftest import EventRecorder, wait_for
from tests.e2e.conftest import write_salted as write

pytestmark = pytest.mark.e2e

DATASET = "transactions"


@pytest.fixture
def deployments(deployed: dict[str, str], target: Target) -> Iterator[EventRecorder]:
    recording = EventRecorder(target, deployed["EventBusName"], [names.DEPLOYMENT_SOURCE])
    try:
        yield recording
    finally:
        recording.close()


@pytest.fixture(scope="module")
def champion(deployed: dict[str, str], target: Target, tmp_path_factory: Any) -> dict[str, Any]:
    """An approved package of the dataset and the model its training run created: the
    newest approved one, or one trained here when there is none yet."""
    approved = newest_approved(target)
    if approved is None:
        path = write(
            tmp_path_factory.mktemp("realtime") / "train.csv", generate_transactions(20_000, seed=3)
        )
        _, key, _ = drop_file(target, path, DATASET, "training")
        version = str(wait_for_version(target, key)["version"])
        wait_for_model(target, version, timeout=300)
        approved = newest_approved(target)
    assert approved is not None, "no approved model of the dataset"
    # Its approval deploys it, and that deployment creates the model the tests copy: let
    # it end first (an approval found here may be seconds old, its deployment not yet
    # started), or a test's own approval at the same instant would plan to create the
    # endpoint too.
    model = approved["model_name"]
    wait_for(lambda: deployment_of(target, model), 600, f"the deployment of {model}", 1.0)
    return approved


def newest_approved(target: Target) -> dict[str, Any] | None:
    sagemaker = target.client("sagemaker")
    group = f"{target.outputs('pipeline')['ModelPackageGroupPrefix']}-{DATASET}"
    try:
        pages = sagemaker.get_paginator("list_model_packages").paginate(
            ModelPackageGroupName=group, ModelApprovalStatus="Approved"
        )
        summaries = [s for page in pages for s in page["ModelPackageSummaryList"]]
    except ClientError:
        return None
    if not summaries:
        return None
    newest = max(summaries, key=lambda s: s["CreationTime"])
    described = sagemaker.describe_model_package(ModelPackageName=newest["ModelPackageArn"])
    return {
        "arn": newest["ModelPackageArn"],
        "version": str(described["ModelPackageVersion"]),
        "model_name": described["CustomerMetadataProperties"]["training_job"],
    }


def scoring_rows(count: int, seed: int) -> bytes:
    """Rows as a user drops them: CSV with a header, the label among the columns."""
    sink = io.BytesIO()
    pacsv.write_csv(generate_transactions(count, seed=seed), sink)
    return sink.getvalue()


def invoke(target: Target, endpoint: str, body: bytes) -> tuple[str, str]:
    runtime = target.client("sagemaker-runtime")
    try:
        answer = runtime.invoke_endpoint(EndpointName=endpoint, Body=body, ContentType="text/csv")
    except ClientError as error:
        return error.response["Error"]["Code"], error.response.get("OriginalMessage", "")
    return "ok", answer["InvokedProductionVariant"]


# The registry's tests come first: the rollback test below trips a rollback alarm, which
# the local cloud evaluates once per alarm period (five minutes), and a deployment started
# while one is in ALARM is rolled back at once.
def test_a_package_the_gate_rejected_and_a_person_approved_in_the_registry_is_deployed(
    target: Target,
    deployed: dict[str, str],
    deployments: EventRecorder,
    champion: dict[str, Any],
) -> None:
    endpoint = names.endpoint_name(target.stage, DATASET)
    sagemaker = target.client("sagemaker")
    # Given no deployment in flight and no rollback alarm still tripped (an earlier
    # test's faulty model trips one), and a package of the dataset that the gate rejected
    # (nothing deploys it: no ModelRegistered(Approved) was announced for it)
    wait_for(lambda: no_deployment_running(target), 300, "running deployments to end", 1.0)
    wait_for(lambda: rollback_alarms_quiet(target), 300, "the rollback alarms to clear", 1.0)
    model = copy_model(target, champion["model_name"], "byhand")
    arn = package_like(target, champion, model, "Rejected", "rejected by the gate")
    try:
        # When a person approves it in the registry, as `aws sagemaker
        # update-model-package --model-approval-status Approved` does
        sagemaker.update_model_package(
            ModelPackageArn=arn,
            ModelApprovalStatus="Approved",
            ApprovalDescription="approved by hand",
        )

        # Then SageMaker's approval event deploys it to the dataset's endpoint
        def verdict(e: dict[str, Any]) -> bool:
            if e["detail-type"] == "EndpointDeploymentFailed":
                return bool(e["detail"]["model_package_arn"] == arn)
            return e["detail-type"] in VERDICTS and model in config_models(sagemaker, e)

        event = deployments.wait_until(verdict, 240, f"the deployment's verdict for {model}")
        assert event["detail-type"] == "EndpointDeployed", event["detail"]
        assert event["detail"]["dataset"] == DATASET
        assert event["detail"]["endpoint"] == endpoint
        assert event["detail"]["model_package_arn"] == arn
        assert event["detail"]["model_version"] == arn.rsplit("/", 1)[-1]
        described = sagemaker.describe_endpoint(EndpointName=endpoint)
        assert described["EndpointStatus"] == "InService"
        assert described["EndpointConfigName"] == event["detail"]["endpoint_config"]
        # And the registry's rule started it, with the package only: the plan resolved
        # the dataset and the model, which the demo and status read from it (the
        # execution ends a moment after its verdict: it retires its quality alarm)
        execution = wait_for(lambda: deployment_of(target, model), 60, f"{model}'s end", 1.0)
        assert execution["outcome"] == "deployed"
        assert execution["input"]["trigger"] == "registry"
        assert execution["input"]["dataset"] == execution["input"]["model_name"] == ""
        assert execution["output"]["plan"]["result"]["model_name"] == model
    finally:
        # The registry as it was: the package rejected (which deploys nothing)
        sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected")


def test_the_registrys_event_for_a_package_the_gate_approved_deploys_nothing_twice(
    target: Target,
    deployed: dict[str, str],
    champion: dict[str, Any],
) -> None:
    sagemaker = target.client("sagemaker")
    # Given a package registered Approved by the gate (SageMaker announces its creation
    # on the default bus; its deployment is ModelRegistered's, not announced here)
    model = copy_model(target, champion["model_name"], "gate")
    arn = package_like(target, champion, model, "Approved", "approved by the gate")
    try:
        # When the registry's event for it has been planned
        execution = wait_for(
            lambda: finished_deployment(target, arn),
            120,
            f"the registry's deployment of {arn}",
            1.0,
        )
        # Then the plan skipped it, naming the trigger that deploys it, and no endpoint
        # config was made for its model
        assert execution["status"] == "SUCCEEDED"
        assert execution["input"]["trigger"] == "registry"
        plan = execution["output"]["plan"]["result"]
        assert (plan["action"], plan["deployed_by"]) == ("skip", "registered")
        assert "ModelRegistered event deploys it" in plan["reason"]
        assert "endpoint" not in execution["output"]
        assert deployment_of(target, model) is None
    finally:
        sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected")


def test_an_approved_model_is_deployed_scores_rows_and_a_faulty_one_is_rolled_back(
    target: Target,
    deployed: dict[str, str],
    deployments: EventRecorder,
    champion: dict[str, Any],
    local_cloud: LocalCloud,
) -> None:
    endpoint = names.endpoint_name(target.stage, DATASET)
    sagemaker = target.client("sagemaker")

    # Given no deployment in flight (the champion's own may still run: two approvals at
    # the same instant would both plan to create the endpoint), and an approved model,
    # announced as the training state machine announces it
    wait_for(lambda: no_deployment_running(target), 300, "running deployments to end", 1.0)
    good = copy_model(target, champion["model_name"], "good")
    announce_approval(target, newest_package(target, champion), good)

    # When the deployment runs, then the endpoint serves it
    deployed_event = deployments.wait_until(
        lambda e: e["detail-type"] == "EndpointDeployed" and good in config_models(sagemaker, e),
        240,
        f"EndpointDeployed for {good}",
    )
    assert deployed_event["detail"]["endpoint"] == endpoint
    assert deployed_event["detail"]["model_version"] == champion["version"]
    described = sagemaker.describe_endpoint(EndpointName=endpoint)
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == deployed_event["detail"]["endpoint_config"]

    # And rows as dropped for scoring (CSV with a header, the label too) get one
    # prediction each, keyed by their id
    rows = generate_transactions(25, seed=11)
    sink = io.BytesIO()
    pacsv.write_csv(rows, sink)
    scored = realtime.score(target, "scoring", sink.getvalue(), "rows.csv")
    assert [p["transaction_id"] for p in scored.predictions] == rows.column(
        "transaction_id"
    ).to_pylist()
    assert all(0 <= p["probability"] <= 1 for p in scored.predictions)
    assert scored.variants == Counter({names.ENDPOINT_VARIANT: 25})

    # And a row with a non-number where a number belongs is the client's error
    bad = rows.slice(0, 1).set_column(
        rows.column_names.index("amount"), "amount", pa.array(["lots"])
    )
    sink = io.BytesIO()
    pacsv.write_csv(bad, sink)
    with pytest.raises(Exception, match="refused the rows \\(400\\).*amount"):
        realtime.score(target, "scoring", sink.getvalue(), "bad.csv")

    # Given a faulty model: every request it gets fails
    faulty = copy_model(target, champion["model_name"], "faulty")
    fault = {"kind": "endpoint", "action": "error", "match": faulty, "count": 1_000_000}
    body = scoring_rows(3, seed=12)
    outcomes: Counter[str] = Counter()
    with armed_faults(local_cloud, fault):
        # When it is approved while clients keep sending requests
        announce_approval(target, newest_package(target, champion), faulty)

        def rolled_back() -> dict[str, Any] | None:
            code, detail = invoke(target, endpoint, body)
            outcomes[code if code == "ok" else f"{code}: {'fault' in detail}"] += 1
            return next(
                (
                    e
                    for e in deployments.poll()
                    if e["detail-type"] == "EndpointRolledBack"
                    and faulty in config_models(sagemaker, e)
                ),
                None,
            )

        rolled = wait_for(rolled_back, 240, f"EndpointRolledBack for {faulty}", interval=0.05)

    # Then its canary's requests failed (and only those), the alarm rolled it back, and
    # the endpoint serves the good model again
    assert outcomes["ok"] > 0
    assert outcomes["ModelError: True"] > 0
    assert set(outcomes) <= {"ok", "ModelError: True"}
    assert "server-errors" in rolled["detail"]["reason"]
    described = sagemaker.describe_endpoint(EndpointName=endpoint)
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == deployed_event["detail"]["endpoint_config"]
    assert {invoke(target, endpoint, body)[0] for _ in range(20)} == {"ok"}

    # And `status --json` shows the endpoint, its model and the rollback
    from driftline import status as status_of

    facts = status_of.collect(target)
    (shown,) = [e for e in facts["endpoints"] if e["name"] == endpoint]
    assert shown["dataset"] == DATASET and shown["status"] == "InService"
    assert shown["variants"][0]["name"] == names.ENDPOINT_VARIANT
    assert shown["last_deployment"]["outcome"] == "rolled_back"


def test_captured_traffic_is_sampled_encrypted_and_monitored_as_a_scoring_batch(
    target: Target,
    deployed: dict[str, str],
    deployments: EventRecorder,
    champion: dict[str, Any],
    tmp_path: Any,
) -> None:
    endpoint = names.endpoint_name(target.stage, DATASET)
    s3 = target.client("s3")
    bucket = target.outputs("pipeline")[names.PREDICTIONS_BUCKET_OUTPUT]
    prefix = f"capture/{DATASET}/{endpoint}/{names.ENDPOINT_VARIANT}/"

    # Given the endpoint in service (deployed here if no earlier test deployed it)
    serving(target, champion, deployments)
    before = captured_records(s3, bucket, prefix)

    # When 40 requests of 5 rows each (fresh ids) are scored, as a user drops them
    rows = pacsv.read_csv(write(tmp_path / "live.csv", generate_transactions(200, seed=21)))
    for start in range(0, 200, 5):
        sink = io.BytesIO()
        pacsv.write_csv(rows.slice(start, 5), sink)
        realtime.score(target, "scoring", sink.getvalue(), "rows.csv")

    # Then a sampled share of them (20%) is captured under the variant's hour, SSE-KMS
    # with the project key, each record the request as sent and the endpoint's answer
    sent = set(rows.column("transaction_id").to_pylist())

    def ours() -> list[dict[str, Any]] | None:
        found = [
            r
            for r in captured_records(s3, bucket, prefix)
            if r["eventMetadata"]["eventId"] not in {b["eventMetadata"]["eventId"] for b in before}
            and any(i in r["captureData"]["endpointInput"]["data"] for i in sent)
        ]
        return found or None

    records = wait_for(ours, 60, "captured records of the requests", 1.0)
    assert 0 < len(records) < 40
    first = records[0]["captureData"]
    assert first["endpointInput"]["encoding"] == "CSV"
    assert rows.column_names[0] in first["endpointInput"]["data"].splitlines()[0]
    assert first["endpointOutput"]["encoding"] == "JSON"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]]
    head = s3.head_object(Bucket=bucket, Key=keys[-1])
    assert head["ServerSideEncryption"] == "aws:kms" and head.get("SSEKMSKeyId")

    # When the window is collected (as its schedule does, here at once)
    answer = target.client("lambda").invoke(
        FunctionName=names.function_name(target.stage, "collect_capture"),
        Payload=json.dumps({"time": (datetime.now(UTC) + timedelta(minutes=1)).isoformat()}),
    )
    assert "FunctionError" not in answer, answer["Payload"].read()
    (window,) = json.loads(answer["Payload"].read())["windows"]

    # Then the captured rows are a batch of scoring: validated, scored and judged for
    # drift as any batch
    assert window["capture_dataset"] == "scoring" and window["rows"] >= 5 * len(records)
    version = wait_for_version(target, window["key"])
    assert version["dataset"] == "scoring" and version["state"] == "validated"
    run = wait_for_inference(target, str(version["version"]), timeout=400)
    assert run["status"] == "SUCCEEDED", run
    assert run["drift_outcome"] is not None


def serving(target: Target, champion: dict[str, Any], deployments: EventRecorder) -> None:
    """The endpoint in service with the champion, deploying it if it is not."""
    sagemaker = target.client("sagemaker")
    endpoint = names.endpoint_name(target.stage, DATASET)
    wait_for(lambda: no_deployment_running(target), 300, "running deployments to end", 1.0)
    try:
        if sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "InService":
            return
    except ClientError:
        pass
    good = copy_model(target, champion["model_name"], "good")
    announce_approval(target, newest_package(target, champion), good)
    deployments.wait_until(
        lambda e: e["detail-type"] == "EndpointDeployed" and good in config_models(sagemaker, e),
        240,
        f"EndpointDeployed for {good}",
    )


def captured_records(s3: Any, bucket: str, prefix: str) -> list[dict[str, Any]]:
    records = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode()
            records += [json.loads(line) for line in body.splitlines() if line.strip()]
    return records


def no_deployment_running(target: Target) -> bool | None:
    arn = target.outputs("pipeline")[names.DEPLOYMENT_STATE_MACHINE_OUTPUT]
    running = target.client("stepfunctions").list_executions(
        stateMachineArn=arn, statusFilter="RUNNING"
    )["executions"]
    return True if not running else None


def config_models(sagemaker: Any, event: dict[str, Any]) -> set[str]:
    """The models of the endpoint config a deployment event names."""
    try:
        config = sagemaker.describe_endpoint_config(
            EndpointConfigName=event["detail"]["endpoint_config"]
        )
    except ClientError:
        return set()
    return {variant["ModelName"] for variant in config["ProductionVariants"]}


def package_like(
    target: Target, champion: dict[str, Any], model: str, status: str, description: str
) -> str:
    """A package of the dataset as the register step leaves one whose gate decided
    ``status``: the champion's container and metadata, serving ``model``."""
    sagemaker = target.client("sagemaker")
    source = sagemaker.describe_model_package(ModelPackageName=champion["arn"])
    return str(
        sagemaker.create_model_package(
            ModelPackageGroupName=source["ModelPackageGroupName"],
            ModelPackageDescription=description,
            ModelApprovalStatus=status,
            InferenceSpecification=source["InferenceSpecification"],
            CustomerMetadataProperties={
                **source["CustomerMetadataProperties"],
                names.TRAINING_JOB_METADATA_KEY: model,
                names.GATE_DECISION_METADATA_KEY: status,
            },
        )["ModelPackageArn"]
    )


def rollback_alarms_quiet(target: Target) -> bool | None:
    """True when none of the endpoint's standing rollback alarms is in ALARM (the
    monitoring stack's alarms on the endpoint share their prefix, but roll nothing back;
    a deployment's quality alarm is its own, made fresh)."""
    rollback = {
        names.endpoint_alarm_name(target.stage, DATASET, alarm) for alarm in names.ENDPOINT_ALARMS
    }
    alarms = target.client("cloudwatch").describe_alarms(AlarmNames=sorted(rollback))
    return True if all(a["StateValue"] != "ALARM" for a in alarms["MetricAlarms"]) else None


def finished_deployment(target: Target, package_arn: str) -> dict[str, Any] | None:
    """The finished deployment execution started for ``package_arn``, described."""
    from driftline import status as status_of

    arn = target.outputs("pipeline")[names.DEPLOYMENT_STATE_MACHINE_OUTPUT]
    for execution in status_of.executions(target, arn, "deployment", described=True):
        request = execution.get("input") or {}
        if request.get("model_package_arn") == package_arn and execution["status"] != "RUNNING":
            return execution
    return None
