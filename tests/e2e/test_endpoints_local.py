"""The local cloud's SageMaker endpoints: AWS's states, InvokeEndpoint, weights, and
blue/green deployments that shift traffic, and roll back when an alarm trips.

Models are small pure-Python scorers packed the way driftline packs its models (the
serving code in ``model.tar.gz`` under ``code/``); they run in the local cloud's
scikit-learn framework environment as warm serving processes.
"""

from __future__ import annotations

import io
import json
import tarfile
import uuid
from collections import Counter
from typing import Any

import pytest
from botocore.exceptions import ClientError

from driftline.faults import armed_faults
from driftline.localcloud import LocalCloud
from driftline.target import Target
from tests.e2e.conftest import wait_for
from tests.e2e.roles import SAGEMAKER

pytestmark = pytest.mark.e2e

ROLE = SAGEMAKER.arn
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"

# Scores "a,b" lines with the model's weights; bad numbers are the client's fault (400).
SCORER = """
import json, os

class BadInput(ValueError):
    status_code = 400

def model_fn(model_dir):
    with open(os.path.join(model_dir, "weights.json")) as f:
        return json.load(f)

def input_fn(body, content_type):
    if not body.strip():
        raise BadInput("the body holds no rows")
    rows = [line.split(",") for line in body.splitlines() if line.strip()]
    try:
        return [[float(v) for v in row] for row in rows]
    except ValueError as error:
        raise BadInput(f"a value is not a number: {error}") from None

def predict_fn(rows, model):
    return [sum(w * v for w, v in zip(model["w"], row)) for row in rows]

def output_fn(scores, accept):
    return "\\n".join(f"{s:.2f}" for s in scores), "text/csv"
"""

BROKEN = """
def model_fn(model_dir):
    raise RuntimeError("weights are corrupt")
"""


def _tar(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in files.items():
            data = content.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class Endpoints:
    """Clients, a bucket of the test's own, and models, configs and endpoints made in it."""

    def __init__(self, target: Target) -> None:
        self.sm = target.client("sagemaker")
        self.runtime = target.client("sagemaker-runtime")
        self.s3 = target.client("s3")
        self.cloudwatch = target.client("cloudwatch")
        self.tag = uuid.uuid4().hex[:8]
        self.bucket = f"driftline-endpoint-test-{self.tag}"
        self.s3.create_bucket(Bucket=self.bucket)
        self.endpoints: list[str] = []

    def model(self, weight: float, code: str = SCORER) -> str:
        name = f"m{str(weight).replace('.', '')}-{uuid.uuid4().hex[:8]}"
        key = f"{name}/model.tar.gz"
        files = {"weights.json": json.dumps({"w": [weight, weight]}), "code/inference.py": code}
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=_tar(files))
        self.sm.create_model(
            ModelName=name,
            ExecutionRoleArn=ROLE,
            PrimaryContainer={
                "Image": SKLEARN_IMAGE,
                "ModelDataUrl": f"s3://{self.bucket}/{key}",
                "Environment": {
                    "SAGEMAKER_PROGRAM": "inference.py",
                    "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                },
            },
        )
        return name

    def config(self, *variants: tuple[str, str, float]) -> str:
        name = f"cfg-{uuid.uuid4().hex[:8]}"
        self.sm.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": variant,
                    "ModelName": model,
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                    "InitialVariantWeight": weight,
                }
                for variant, model, weight in variants
            ],
        )
        return name

    def endpoint(self, config: str) -> str:
        name = f"ep-{uuid.uuid4().hex[:8]}"
        self.sm.create_endpoint(EndpointName=name, EndpointConfigName=config)
        self.endpoints.append(name)
        return name

    def settled(self, name: str, timeout: float = 90) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            described: dict[str, Any] = self.sm.describe_endpoint(EndpointName=name)
            busy = ("Creating", "Updating", "RollingBack", "Deleting")
            return None if described["EndpointStatus"] in busy else described

        return wait_for(probe, timeout, f"endpoint {name} to settle", interval=0.2)

    def invoke(self, name: str, body: str, **extra: Any) -> tuple[str, str]:
        answer = self.runtime.invoke_endpoint(
            EndpointName=name, Body=body.encode(), ContentType="text/csv", **extra
        )
        return answer["Body"].read().decode(), answer["InvokedProductionVariant"]

    def close(self) -> None:
        for name in self.endpoints:
            try:
                self.sm.delete_endpoint(EndpointName=name)
            except ClientError:
                continue


@pytest.fixture
def endpoints(local_cloud: LocalCloud, test_roles: None) -> Any:
    made = Endpoints(Target("local"))
    try:
        yield made
    finally:
        made.close()


def test_an_endpoint_goes_into_service_and_scores_csv_rows(endpoints: Endpoints) -> None:
    # Given a model and an endpoint config with one variant
    config = endpoints.config(("primary", endpoints.model(1.0), 1.0))

    # When the endpoint is created
    name = endpoints.endpoint(config)
    creating = endpoints.sm.describe_endpoint(EndpointName=name)
    described = endpoints.settled(name)

    # Then it was Creating, is InService with the variant's weight and image, and answers
    # one score per row
    assert creating["EndpointStatus"] in ("Creating", "InService")
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == config
    [variant] = described["ProductionVariants"]
    assert variant["VariantName"] == "primary"
    assert variant["CurrentWeight"] == 1.0
    assert variant["DeployedImages"][0]["SpecifiedImage"] == SKLEARN_IMAGE
    assert endpoints.invoke(name, "1,2\n3,4\n") == ("3.00\n7.00", "primary")
    listed = endpoints.sm.list_endpoints(NameContains=name)["Endpoints"]
    assert [item["EndpointName"] for item in listed] == [name]


def test_bad_input_gets_a_model_error_and_the_endpoint_keeps_serving(
    endpoints: Endpoints,
) -> None:
    # Given an endpoint in service
    name = endpoints.endpoint(endpoints.config(("primary", endpoints.model(1.0), 1.0)))
    endpoints.settled(name)

    # When it gets a non-number, an empty body and more than 6 MB
    with pytest.raises(ClientError) as not_a_number:
        endpoints.invoke(name, "1,x\n")
    with pytest.raises(ClientError) as empty:
        endpoints.invoke(name, "")
    with pytest.raises(ClientError) as too_big:
        endpoints.invoke(name, "1,2\n" * (2 * 1024 * 1024))

    # Then each is a 4xx naming the problem, as SageMaker's runtime answers it, and the
    # endpoint still scores the next request
    error = not_a_number.value.response
    assert error["Error"]["Code"] == "ModelError"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error["OriginalStatusCode"] == 400
    assert "a value is not a number" in error["OriginalMessage"]
    assert "Received client error (400) from primary" in error["Error"]["Message"]
    assert empty.value.response["Error"]["Code"] == "ValidationError"
    assert "empty" in empty.value.response["Error"]["Message"]
    assert too_big.value.response["Error"]["Code"] == "ValidationError"
    assert "6 MB" in too_big.value.response["Error"]["Message"]
    assert endpoints.invoke(name, "2,2\n") == ("4.00", "primary")


def test_unknown_endpoints_and_configs_are_refused(endpoints: Endpoints) -> None:
    # Given nothing named "missing"
    # When it is invoked, or an endpoint is made from a config that does not exist
    with pytest.raises(ClientError) as invoked:
        endpoints.invoke("missing-endpoint", "1,2\n")
    with pytest.raises(ClientError) as created:
        endpoints.sm.create_endpoint(EndpointName="no-config", EndpointConfigName="missing")
    with pytest.raises(ClientError) as configured:
        endpoints.config(("primary", "missing-model", 1.0))

    # Then each is refused with AWS's code and words
    assert invoked.value.response["Error"]["Code"] == "ValidationError"
    assert "Endpoint missing-endpoint of account" in invoked.value.response["Error"]["Message"]
    assert created.value.response["Error"]["Code"] == "ValidationException"
    assert "Could not find endpoint configuration" in created.value.response["Error"]["Message"]
    assert "Could not find model" in configured.value.response["Error"]["Message"]


def test_a_model_that_cannot_load_fails_the_endpoint(endpoints: Endpoints) -> None:
    # Given a model whose model_fn raises
    config = endpoints.config(("primary", endpoints.model(1.0, BROKEN), 1.0))

    # When an endpoint is created from it
    described = endpoints.settled(endpoints.endpoint(config))

    # Then the endpoint is Failed with the model's error as its reason
    assert described["EndpointStatus"] == "Failed"
    assert "weights are corrupt" in described["FailureReason"]


def test_traffic_is_split_by_variant_weight(endpoints: Endpoints) -> None:
    # Given an endpoint with variants weighted 1 and 3
    config = endpoints.config(
        ("one", endpoints.model(1.0), 1.0), ("three", endpoints.model(3.0), 3.0)
    )
    name = endpoints.endpoint(config)
    endpoints.settled(name)

    # When it gets 400 requests, then one naming a variant, then weights 0 and 1
    served = Counter(endpoints.invoke(name, "1,0\n")[1] for _ in range(400))
    targeted = endpoints.invoke(name, "1,0\n", TargetVariant="one")
    endpoints.sm.update_endpoint_weights_and_capacities(
        EndpointName=name,
        DesiredWeightsAndCapacities=[
            {"VariantName": "one", "DesiredWeight": 0.0},
            {"VariantName": "three", "DesiredWeight": 1.0},
        ],
    )
    after = Counter(endpoints.invoke(name, "1,0\n")[1] for _ in range(50))

    # Then about three in four went to "three" (6 standard deviations of slack), the named
    # variant answered, and after the change only "three" serves
    assert 0.6 < served["three"] / 400 < 0.9
    assert targeted == ("1.00", "one")
    assert after == Counter({"three": 50})


def test_a_canary_deployment_shifts_all_traffic_to_the_new_model(endpoints: Endpoints) -> None:
    # Given an endpoint serving weights 1 and a config of a model with weights 2
    name = endpoints.endpoint(endpoints.config(("primary", endpoints.model(1.0), 1.0)))
    endpoints.settled(name)
    new_config = endpoints.config(("primary", endpoints.model(2.0), 1.0))

    # When it is updated with a 50% canary baked for 3 seconds
    endpoints.sm.update_endpoint(
        EndpointName=name,
        EndpointConfigName=new_config,
        DeploymentConfig={
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": {
                    "Type": "CANARY",
                    "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 50},
                    "WaitIntervalInSeconds": 3,
                },
                "TerminationWaitInSeconds": 1,
            }
        },
    )
    during = endpoints.sm.describe_endpoint(EndpointName=name)
    answers: Counter[str] = Counter()

    def both_answered() -> bool | None:
        answers[endpoints.invoke(name, "1,1\n")[0]] += 1
        return True if len(answers) == 2 else None

    wait_for(both_answered, 30, "the old and the new model to answer during the canary")
    described = endpoints.settled(name)

    # Then it was Updating with the new config pending, both models served during the
    # canary, and now the new config serves every request
    assert during["EndpointStatus"] == "Updating"
    assert during["PendingDeploymentSummary"]["EndpointConfigName"] == new_config
    assert set(answers) == {"2.00", "4.00"}
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == new_config
    assert "FailureReason" not in described
    assert {endpoints.invoke(name, "1,1\n")[0] for _ in range(20)} == {"4.00"}


def test_a_faulty_model_is_rolled_back_by_its_alarm(
    endpoints: Endpoints, local_cloud: LocalCloud
) -> None:
    # Given an endpoint serving a good model, an alarm on its server errors, and a new
    # model that the local cloud makes fail every request
    old_config = endpoints.config(("primary", endpoints.model(1.0), 1.0))
    name = endpoints.endpoint(old_config)
    endpoints.settled(name)
    bad_model = endpoints.model(5.0)
    alarm = f"{name}-5xx"
    endpoints.cloudwatch.put_metric_alarm(
        AlarmName=alarm,
        Namespace="AWS/SageMaker",
        MetricName="Invocation5XXErrors",
        Dimensions=[
            {"Name": "EndpointName", "Value": name},
            {"Name": "VariantName", "Value": "primary"},
        ],
        Statistic="Sum",
        Period=10,
        EvaluationPeriods=1,
        Threshold=0,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )
    fault = {"kind": "endpoint", "action": "error", "match": bad_model, "count": 100000}

    with armed_faults(local_cloud, fault):
        # When the endpoint is updated to it with a 50% canary baked for up to 60 s, while
        # clients keep sending requests
        endpoints.sm.update_endpoint(
            EndpointName=name,
            EndpointConfigName=endpoints.config(("primary", bad_model, 1.0)),
            DeploymentConfig={
                "BlueGreenUpdatePolicy": {
                    "TrafficRoutingConfiguration": {
                        "Type": "CANARY",
                        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 50},
                        "WaitIntervalInSeconds": 60,
                    },
                    "TerminationWaitInSeconds": 0,
                },
                "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": alarm}]},
            },
        )
        outcomes: Counter[str] = Counter()

        def rolled_back() -> dict[str, Any] | None:
            try:
                outcomes[endpoints.invoke(name, "1,1\n")[0]] += 1
            except ClientError as error:
                outcomes[error.response["Error"]["Code"]] += 1
            described: dict[str, Any] = endpoints.sm.describe_endpoint(EndpointName=name)
            return described if described["EndpointStatus"] == "InService" else None

        described = wait_for(rolled_back, 50, "the alarm to roll the deployment back")

    # Then the canary's requests failed, the old model answered every other one, and the
    # endpoint is back on the old model, with the tripped alarm as its reason
    assert set(outcomes) == {"2.00", "ModelError"}
    assert "FailureReason" in described and alarm in described["FailureReason"]
    assert described["EndpointConfigName"] == old_config
    assert "PendingDeploymentSummary" not in described
    assert {endpoints.invoke(name, "1,1\n")[0] for _ in range(20)} == {"2.00"}


def test_a_deleted_endpoint_is_gone(endpoints: Endpoints) -> None:
    # Given an endpoint in service
    name = endpoints.endpoint(endpoints.config(("primary", endpoints.model(1.0), 1.0)))
    endpoints.settled(name)

    # When it is deleted
    endpoints.sm.delete_endpoint(EndpointName=name)

    # Then it cannot be described or invoked once its processes are gone
    def gone() -> bool | None:
        try:
            endpoints.sm.describe_endpoint(EndpointName=name)
        except ClientError as error:
            return True if "Could not find endpoint" in str(error) else None
        return None

    wait_for(gone, 30, f"endpoint {name} to be deleted")
    with pytest.raises(ClientError) as invoked:
        endpoints.invoke(name, "1,2\n")
    assert invoked.value.response["Error"]["Code"] == "ValidationError"


def _refusable(step: str, action: str, call: dict[str, str], cause: str, then: str) -> Any:
    """A SageMaker task ``step`` whose refusal is caught by its error name, and a Choice
    that goes on to ``then`` only when the refusal's Cause matches ``cause``."""
    return {
        step: {
            "Type": "Task",
            "Resource": f"arn:aws:states:::sagemaker:{action}",
            "Parameters": call,
            "ResultPath": None,
            "Catch": [
                {
                    "ErrorEquals": ["SageMaker.AmazonSageMakerException"],
                    "ResultPath": f"$.{step}",
                    "Next": f"{step}Refused?",
                }
            ],
            "Next": "Unrefused",
        },
        f"{step}Refused?": {
            "Type": "Choice",
            "Choices": [{"Variable": f"$.{step}.Cause", "StringMatches": cause, "Next": then}],
            "Default": "Unrefused",
        },
    }


def test_step_functions_catches_an_endpoint_call_sagemaker_refuses_by_its_cause(
    endpoints: Endpoints, target: Target
) -> None:
    """The deployment state machine's race fix relies on it: a CreateEndpoint or
    UpdateEndpoint that SageMaker refuses because another deployment's is in progress
    (or created the endpoint first) reaches a Catch as SageMaker.AmazonSageMakerException,
    and a Choice tells the two refusals apart by the Cause."""
    # Given an endpoint config, and a state machine that creates an endpoint from it,
    # updates it at once (it is still Creating), then creates it again, catching each
    # refusal and matching its cause
    config = endpoints.config(("primary", endpoints.model(1.0), 1.0))
    name = f"ep-{uuid.uuid4().hex[:8]}"
    endpoints.endpoints.append(name)
    call = {"EndpointName": name, "EndpointConfigName": config}
    definition = {
        "StartAt": "Create",
        "States": {
            "Create": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createEndpoint",
                "Parameters": call,
                "ResultPath": None,
                "Next": "Update",
            },
            **_refusable("Update", "updateEndpoint", call, "*in-progress endpoint*", "Again"),
            **_refusable("Again", "createEndpoint", call, "*already existing endpoint*", "Done"),
            "Unrefused": {"Type": "Fail", "Error": "Unrefused"},
            "Done": {"Type": "Succeed"},
        },
    }
    sfn = target.client("stepfunctions")
    machine = sfn.create_state_machine(
        name=f"endpoint-race-{uuid.uuid4().hex[:8]}",
        definition=json.dumps(definition),
        roleArn=ROLE,
    )["stateMachineArn"]

    # When it runs
    execution = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]

    def ended() -> dict[str, Any] | None:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution)
        return None if described["status"] == "RUNNING" else described

    described = wait_for(ended, 60, "the state machine's execution to end", interval=0.2)

    # Then both refusals were caught by their error name and told apart by their cause
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    for step, words in (("Update", "in-progress"), ("Again", "already existing")):
        assert output[step]["Error"] == "SageMaker.AmazonSageMakerException", output
        assert words in output[step]["Cause"] and name in output[step]["Cause"], output
        assert "Error Code: ValidationException" in output[step]["Cause"], output
