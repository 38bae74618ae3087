"""The local cloud's SageMaker: jobs really run, and Step Functions drives them as on AWS.

Training and inference scripts are written here and shipped as ``sourcedir.tar.gz``
objects, the way the SageMaker Python SDK ships them; they run in the local cloud's
scikit-learn framework environment under SageMaker's container contract.
"""

from __future__ import annotations

import io
import json
import tarfile
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from driftline.target import Target
from tests.e2e.conftest import EventRecorder, wait_for
from tests.e2e.roles import SAGEMAKER

pytestmark = pytest.mark.e2e

ROLE = SAGEMAKER.arn
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
RUNNING = ("InProgress", "Stopping")

# Checks the container contract from the inside and leaves what it saw in the model.
CONTRACT_SCRIPT = """
import json, os, sys
config = os.environ["SM_INPUT_CONFIG_DIR"]
seen = {
    "argv": sys.argv[1:],
    "cwd": os.getcwd(),
    "hyperparameters": json.load(open(os.path.join(config, "hyperparameters.json"))),
    "resources": json.load(open(os.path.join(config, "resourceconfig.json"))),
    "channels_config": json.load(open(os.path.join(config, "inputdataconfig.json"))),
    "env": {k: v for k, v in os.environ.items() if k.startswith("SM_") or k == "GREETING"},
    "train_files": sorted(os.listdir(os.environ["SM_CHANNEL_TRAIN"])),
    "rows": open(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "part-1.csv")).read(),
}
with open(os.path.join(os.environ["SM_MODEL_DIR"], "seen.json"), "w") as f:
    json.dump(seen, f)
with open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "report.txt"), "w") as f:
    f.write("extra output")
print("epoch 1 validation:auc=0.71")
print("epoch 2 validation:auc=0.88 train:loss=0.25")
print("done", flush=True)
"""

FAILING_SCRIPT = """
import os, sys
with open(os.path.join(os.environ["SM_OUTPUT_DIR"], "failure"), "w") as f:
    f.write("label column 'is_fraud' is missing from the training channel")
print("about to fail", file=sys.stderr)
sys.exit(3)
"""

SLEEPING_SCRIPT = """
import time
print("sleeping", flush=True)
time.sleep(120)
"""

SKLEARN_TRAIN = """
import os
import joblib
import pandas as pd
from sklearn.linear_model import LogisticRegression
frame = pd.read_csv(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "train.csv"))
model = LogisticRegression().fit(frame[["x", "z"]].to_numpy(), frame["y"])
print(f"train:accuracy={model.score(frame[['x', 'z']].to_numpy(), frame['y'])}")
joblib.dump(model, os.path.join(os.environ["SM_MODEL_DIR"], "model.joblib"))
"""

# Only model_fn: input_fn, predict_fn and output_fn are the container's defaults.
SKLEARN_INFERENCE = """
import os
import joblib
def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))
"""

# Pure-Python handlers that report how many records each request carried.
SCORING_INFERENCE = """
import json, os
def model_fn(model_dir):
    with open(os.path.join(model_dir, "weights.json")) as f:
        return json.load(f)
def input_fn(body, content_type):
    assert content_type == "text/csv", content_type
    assert isinstance(body, str)
    return [[float(v) for v in line.split(",")] for line in body.splitlines() if line]
def predict_fn(rows, model):
    return [(sum(w * v for w, v in zip(model["w"], row)), len(rows)) for row in rows]
def output_fn(scores, accept):
    return "\\n".join(f"{s:.2f},{n}" for s, n in scores), accept
"""


def _tar(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _untar(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return {
            member.name: archive.extractfile(member).read()  # type: ignore[union-attr]
            for member in archive.getmembers()
            if member.isfile()
        }


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class SageMaker:
    """Clients, a bucket of the test's own and helpers to run jobs against them."""

    def __init__(self, target: Target) -> None:
        self.sm = target.client("sagemaker")
        self.s3 = target.client("s3")
        self.logs = target.client("logs")
        self.sfn = target.client("stepfunctions")
        self.bucket = _name("driftline-sagemaker-test")
        self.s3.create_bucket(Bucket=self.bucket)

    def put(self, key: str, body: bytes | str) -> str:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        return f"s3://{self.bucket}/{key}"

    def get(self, key: str) -> bytes:
        body: bytes = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body

    def source(self, files: dict[str, str]) -> str:
        return self.put(f"code/{uuid.uuid4().hex[:8]}/sourcedir.tar.gz", _tar(dict(files)))

    def training_request(
        self, name: str, script: str, *, max_runtime: int = 60, **extra: Any
    ) -> dict[str, Any]:
        self.put("data/train/part-1.csv", "1,2\n3,4\n")
        request: dict[str, Any] = {
            "TrainingJobName": name,
            "AlgorithmSpecification": {"TrainingImage": SKLEARN_IMAGE, "TrainingInputMode": "File"},
            "RoleArn": ROLE,
            "HyperParameters": {
                "sagemaker_program": json.dumps("train.py"),
                "sagemaker_submit_directory": json.dumps(self.source({"train.py": script})),
            },
            "InputDataConfig": [
                {
                    "ChannelName": "train",
                    "ContentType": "text/csv",
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": f"s3://{self.bucket}/data/train",
                        }
                    },
                }
            ],
            "OutputDataConfig": {"S3OutputPath": f"s3://{self.bucket}/models"},
            "ResourceConfig": {
                "InstanceType": "ml.m5.large",
                "InstanceCount": 1,
                "VolumeSizeInGB": 1,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
        }
        request.update(extra)
        return request

    def train(self, script: str, **extra: Any) -> str:
        name = _name("train")
        self.sm.create_training_job(**self.training_request(name, script, **extra))
        return name

    def finished_training(self, name: str, timeout: float = 60) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            job: dict[str, Any] = self.sm.describe_training_job(TrainingJobName=name)
            return None if job["TrainingJobStatus"] in RUNNING else job

        return wait_for(probe, timeout, f"training job {name} to finish", interval=0.2)

    def finished_transform(self, name: str, timeout: float = 60) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            job: dict[str, Any] = self.sm.describe_transform_job(TransformJobName=name)
            return None if job["TransformJobStatus"] in RUNNING else job

        return wait_for(probe, timeout, f"transform job {name} to finish", interval=0.2)

    def model(self, model_data: bytes, inference: str) -> str:
        name = _name("model")
        self.sm.create_model(
            ModelName=name,
            ExecutionRoleArn=ROLE,
            PrimaryContainer={
                "Image": SKLEARN_IMAGE,
                "ModelDataUrl": self.put(f"model-data/{name}/model.tar.gz", model_data),
                "Environment": {
                    "SAGEMAKER_PROGRAM": "inference.py",
                    "SAGEMAKER_SUBMIT_DIRECTORY": self.source({"inference.py": inference}),
                },
            },
        )
        return name

    def execute(self, definition: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
        machine = self.sfn.create_state_machine(
            name=_name("sagemaker-test"), definition=json.dumps(definition), roleArn=ROLE
        )["stateMachineArn"]
        execution = self.sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]

        def probe() -> dict[str, Any] | None:
            described: dict[str, Any] = self.sfn.describe_execution(executionArn=execution)
            return None if described["status"] == "RUNNING" else described

        return wait_for(probe, timeout, "the state machine's execution to end", interval=0.2)


@pytest.fixture(scope="module")
def sagemaker(target: Target, test_roles: None) -> Iterator[SageMaker]:
    yield SageMaker(target)


# -- training jobs ------------------------------------------------------------------------
def test_training_job_runs_under_the_container_contract(sagemaker: SageMaker) -> None:
    metrics = [
        {"Name": "validation:auc", "Regex": r"validation:auc=([0-9.]+)"},
        {"Name": "train:loss", "Regex": r"train:loss=([0-9.]+)"},
        {"Name": "never:printed", "Regex": r"absent=([0-9.]+)"},
    ]
    request = sagemaker.training_request(
        _name("contract"),
        CONTRACT_SCRIPT,
        Environment={"GREETING": "hello"},
    )
    request["AlgorithmSpecification"]["MetricDefinitions"] = metrics
    request["HyperParameters"].update({"epochs": "5", "learning-rate": "0.1", "label": "is_fraud"})
    name = request["TrainingJobName"]
    started = time.monotonic()
    arn = sagemaker.sm.create_training_job(**request)["TrainingJobArn"]
    assert time.monotonic() - started < 5  # the job runs in the background
    assert arn == f"arn:aws:sagemaker:us-east-1:000000000000:training-job/{name}"

    job = sagemaker.finished_training(name)

    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert job["SecondaryStatus"] == "Completed"
    assert [t["Status"] for t in job["SecondaryStatusTransitions"]] == [
        "Starting", "Downloading", "Training", "Uploading", "Completed",
    ]  # fmt: skip
    assert job["CreationTime"] <= job["TrainingStartTime"] <= job["TrainingEndTime"]
    key = f"models/{name}/output/model.tar.gz"
    assert job["ModelArtifacts"]["S3ModelArtifacts"] == f"s3://{sagemaker.bucket}/{key}"
    assert {(m["MetricName"], m["Value"]) for m in job["FinalMetricDataList"]} == {
        ("validation:auc", 0.88),  # the last value wins
        ("train:loss", 0.25),
    }
    model = _untar(sagemaker.get(key))
    assert _untar(sagemaker.get(f"models/{name}/output/output.tar.gz")) == {
        "report.txt": b"extra output"
    }
    seen = json.loads(model["seen.json"])
    assert all(isinstance(v, str) for v in seen["hyperparameters"].values())
    assert seen["hyperparameters"]["epochs"] == "5"
    assert seen["argv"] == ["--epochs", "5", "--label", "is_fraud", "--learning-rate", "0.1"]
    assert seen["cwd"].endswith("/code")
    assert seen["resources"]["current_host"] == "algo-1"
    assert seen["channels_config"]["train"]["ContentType"] == "text/csv"
    assert seen["train_files"] == ["part-1.csv"] and seen["rows"] == "1,2\n3,4\n"
    env = seen["env"]
    assert env["GREETING"] == "hello"
    assert json.loads(env["SM_CHANNELS"]) == ["train"]
    assert json.loads(env["SM_HPS"]) == {"epochs": 5, "learning-rate": 0.1, "label": "is_fraud"}
    assert env["SM_HP_EPOCHS"] == "5" and env["SM_HP_LABEL"] == "is_fraud"
    assert env["SM_CURRENT_HOST"] == "algo-1" and json.loads(env["SM_HOSTS"]) == ["algo-1"]
    assert env["SM_NUM_GPUS"] == "0" and int(env["SM_NUM_CPUS"]) >= 1
    assert env["SM_USER_ENTRY_POINT"] == "train.py"
    assert env["SM_MODULE_DIR"].endswith("/sourcedir.tar.gz")
    assert env["SM_MODEL_DIR"].endswith("/model") and env["SM_OUTPUT_DATA_DIR"].endswith("/data")
    for variable in ("SM_OUTPUT_DIR", "SM_INPUT_DIR", "SM_INPUT_CONFIG_DIR", "SM_TRAINING_ENV"):
        assert env[variable]

    def log_lines() -> list[str] | None:
        # The job's last lines reach CloudWatch Logs a moment after its status, as on
        # AWS; on a fresh cloud the group itself comes with the first of them.
        try:
            streams = sagemaker.logs.describe_log_streams(
                logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=f"{name}/algo-1-"
            )["logStreams"]
        except sagemaker.logs.exceptions.ResourceNotFoundException:
            return None
        if not streams:
            return None
        events = sagemaker.logs.get_log_events(
            logGroupName="/aws/sagemaker/TrainingJobs",
            logStreamName=streams[0]["logStreamName"],
        )["events"]
        messages = [e["message"] for e in events]
        return messages if "done" in messages else None

    assert "epoch 1 validation:auc=0.71" in wait_for(log_lines, 10, "the job's logs")

    listed = sagemaker.sm.list_training_jobs(NameContains=name)["TrainingJobSummaries"]
    assert [(j["TrainingJobName"], j["TrainingJobStatus"]) for j in listed] == [(name, "Completed")]


def test_failure_file_becomes_the_failure_reason(sagemaker: SageMaker) -> None:
    job = sagemaker.finished_training(sagemaker.train(FAILING_SCRIPT))

    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"] == (
        "AlgorithmError: label column 'is_fraud' is missing from the training channel"
    )
    assert "ModelArtifacts" not in job


def test_failure_without_failure_file_reports_the_exit_code_and_output(
    sagemaker: SageMaker,
) -> None:
    script = "import sys\nprint('cannot read the channel', file=sys.stderr)\nsys.exit(4)\n"
    job = sagemaker.finished_training(sagemaker.train(script))

    assert job["TrainingJobStatus"] == "Failed"
    assert "exit code: 4" in job["FailureReason"]
    assert "cannot read the channel" in job["FailureReason"]


def test_max_runtime_stops_the_job(sagemaker: SageMaker) -> None:
    started = time.monotonic()
    job = sagemaker.finished_training(sagemaker.train(SLEEPING_SCRIPT, max_runtime=2))

    assert time.monotonic() - started < 30
    assert job["TrainingJobStatus"] == "Stopped"
    assert job["SecondaryStatus"] == "MaxRuntimeExceeded"
    assert job["SecondaryStatusTransitions"][-1]["StatusMessage"] == (
        "Training job runtime exceeded MaxRuntimeInSeconds provided"
    )


def test_stop_training_job(sagemaker: SageMaker) -> None:
    name = sagemaker.train(SLEEPING_SCRIPT)
    wait_for(
        lambda: (
            sagemaker.sm.describe_training_job(TrainingJobName=name)["SecondaryStatus"]
            == "Training"
            or None
        ),
        30,
        "the script to start",
    )

    sagemaker.sm.stop_training_job(TrainingJobName=name)
    stopping = sagemaker.sm.describe_training_job(TrainingJobName=name)
    job = sagemaker.finished_training(name, timeout=30)

    assert stopping["TrainingJobStatus"] in ("Stopping", "Stopped")
    assert job["TrainingJobStatus"] == "Stopped" and job["SecondaryStatus"] == "Stopped"
    with pytest.raises(sagemaker.sm.exceptions.ClientError) as refused:
        sagemaker.sm.stop_training_job(TrainingJobName=name)
    assert refused.value.response["Error"]["Code"] == "ValidationException"


def test_unknown_image_fails_with_a_clear_reason(sagemaker: SageMaker) -> None:
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-own-trainer:latest"
    request = sagemaker.training_request(_name("unknown-image"), SLEEPING_SCRIPT)
    request["AlgorithmSpecification"]["TrainingImage"] = image
    sagemaker.sm.create_training_job(**request)

    job = sagemaker.finished_training(request["TrainingJobName"])

    assert job["TrainingJobStatus"] == "Failed"
    assert image in job["FailureReason"]
    assert "sagemaker-scikit-learn" in job["FailureReason"]


def test_api_errors_have_aws_codes(sagemaker: SageMaker) -> None:
    request = sagemaker.training_request(_name("twice"), CONTRACT_SCRIPT)
    sagemaker.sm.create_training_job(**request)
    errors = sagemaker.sm.exceptions

    with pytest.raises(errors.ResourceInUse):
        sagemaker.sm.create_training_job(**request)
    with pytest.raises(errors.ClientError) as missing:
        sagemaker.sm.describe_training_job(TrainingJobName="no-such-job")
    assert missing.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(errors.ResourceNotFound):
        sagemaker.sm.describe_transform_job(TransformJobName="no-such-job")
    with pytest.raises(errors.ClientError) as bad_name:
        sagemaker.sm.create_model(
            ModelName="not_valid!", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "x"}
        )
    assert bad_name.value.response["Error"]["Code"] == "ValidationException"
    sagemaker.finished_training(request["TrainingJobName"])


# -- transform jobs -----------------------------------------------------------------------
def test_transform_job_scores_every_line_of_every_file(sagemaker: SageMaker) -> None:
    model = sagemaker.model(
        _tar({"weights.json": json.dumps({"w": [1.0, 10.0]})}), SCORING_INFERENCE
    )
    files = {
        "batch/part-a.csv": "1,1\n2,2\n3,3\n",
        "batch/part-b.csv": "0,1\n",
        "batch/nested/part-c.csv": "5,0\n0,5\n",
    }
    for key, body in files.items():
        sagemaker.put(key, body)
    name = _name("transform")
    sagemaker.sm.create_transform_job(
        TransformJobName=name,
        ModelName=model,
        BatchStrategy="MultiRecord",
        MaxPayloadInMB=1,
        TransformInput={
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": f"s3://{sagemaker.bucket}/batch/",
                }
            },
            "ContentType": "text/csv",
            "SplitType": "Line",
            "CompressionType": "None",
        },
        TransformOutput={
            "S3OutputPath": f"s3://{sagemaker.bucket}/scored",
            "AssembleWith": "Line",
            "Accept": "text/csv",
        },
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )

    job = sagemaker.finished_transform(name)

    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    outputs = {
        key: sagemaker.get(f"scored/{key.removeprefix('batch/')}.out").decode().splitlines()
        for key in files
    }
    assert outputs == {
        "batch/part-a.csv": ["11.00,3", "22.00,3", "33.00,3"],  # one request held 3 records
        "batch/part-b.csv": ["10.00,1"],
        "batch/nested/part-c.csv": ["5.00,2", "50.00,2"],
    }


# Answers with the serving process's id, and fails the request when asked to.
PID_INFERENCE = """
import os
def model_fn(model_dir):
    return None
def input_fn(body, content_type):
    return body
def predict_fn(body, model):
    if "fail" in body:
        raise ValueError("asked to fail")
    return os.getpid()
def output_fn(pid, accept):
    return f"{pid}\\n", accept
"""


def _pid_transform(sagemaker: SageMaker, model: str, body: str) -> tuple[dict[str, Any], str]:
    """A one-object transform job on ``model``: its description and its answer."""
    name = _name("transform")
    sagemaker.put(f"{name}/in.csv", body)
    sagemaker.sm.create_transform_job(
        TransformJobName=name,
        ModelName=model,
        TransformInput={
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": f"s3://{sagemaker.bucket}/{name}/",
                }
            },
            "ContentType": "text/csv",
        },
        TransformOutput={"S3OutputPath": f"s3://{sagemaker.bucket}/{name}-out"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    job = sagemaker.finished_transform(name)
    if job["TransformJobStatus"] != "Completed":
        return job, ""
    return job, sagemaker.get(f"{name}-out/in.csv.out").decode().strip()


def test_transform_jobs_of_one_model_reuse_a_warm_serving_process(sagemaker: SageMaker) -> None:
    # Given two models with the same inference code
    first = sagemaker.model(_tar({"weights.json": "{}"}), PID_INFERENCE)
    other = sagemaker.model(_tar({"weights.json": "{}"}), PID_INFERENCE)
    # When two jobs of the first model run one after the other, then one of the other model
    job_a, pid_a = _pid_transform(sagemaker, first, "1\n")
    job_b, pid_b = _pid_transform(sagemaker, first, "2\n")
    job_c, pid_c = _pid_transform(sagemaker, other, "3\n")
    # Then the first model's second job was served by the process of its first
    for job in (job_a, job_b, job_c):
        assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert pid_a == pid_b
    # And another model never gets that process
    assert pid_c != pid_a
    # When a job of the first model fails, the process that failed it is not reused
    failed, _ = _pid_transform(sagemaker, first, "fail\n")
    assert failed["TransformJobStatus"] == "Failed"
    _, pid_d = _pid_transform(sagemaker, first, "4\n")
    assert pid_d not in ("", pid_a)


def test_transform_failure_names_the_object(sagemaker: SageMaker) -> None:
    model = sagemaker.model(_tar({"weights.json": json.dumps({"w": [1.0]})}), SCORING_INFERENCE)
    sagemaker.put("broken/good.csv", "1\n")
    sagemaker.put("broken/bad.csv", "not-a-number\n")
    name = _name("transform-bad")
    sagemaker.sm.create_transform_job(
        TransformJobName=name,
        ModelName=model,
        TransformInput={
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": f"s3://{sagemaker.bucket}/broken/",
                }
            },
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        TransformOutput={"S3OutputPath": f"s3://{sagemaker.bucket}/broken-out"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )

    job = sagemaker.finished_transform(name)

    assert job["TransformJobStatus"] == "Failed"
    assert f"s3://{sagemaker.bucket}/broken/bad.csv" in job["FailureReason"]
    assert "ValueError" in job["FailureReason"]
    assert sagemaker.get("broken-out/good.csv.out") == b"1.00,1"  # the good object is kept


def test_scikit_learn_model_trains_and_scores_with_default_handlers(sagemaker: SageMaker) -> None:
    rows = "\n".join(f"{x},{x % 2},{int(x > 5)}" for x in range(11))
    sagemaker.put("sklearn/train/train.csv", "x,z,y\n" + rows + "\n")
    request = sagemaker.training_request(_name("sklearn"), SKLEARN_TRAIN)
    request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = (
        f"s3://{sagemaker.bucket}/sklearn/train/"
    )
    sagemaker.sm.create_training_job(**request)
    trained = sagemaker.finished_training(request["TrainingJobName"])
    assert trained["TrainingJobStatus"] == "Completed", trained.get("FailureReason")

    model_key = trained["ModelArtifacts"]["S3ModelArtifacts"].split("/", 3)[3]
    model = sagemaker.model(sagemaker.get(model_key), SKLEARN_INFERENCE)
    sagemaker.put("sklearn/score/input.csv", "0,0\n1,1\n9,1\n10,0\n")
    name = _name("sklearn-score")
    sagemaker.sm.create_transform_job(
        TransformJobName=name,
        ModelName=model,
        BatchStrategy="SingleRecord",
        TransformInput={
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": f"s3://{sagemaker.bucket}/sklearn/score/input.csv",
                }
            },
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        TransformOutput={
            "S3OutputPath": f"s3://{sagemaker.bucket}/sklearn/scored",
            "AssembleWith": "Line",
            "Accept": "text/csv",
        },
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )

    job = sagemaker.finished_transform(name, timeout=90)

    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    scored = sagemaker.get("sklearn/scored/input.csv.out").decode().split()
    assert scored == ["0", "0", "1", "1"]


# -- model registry -----------------------------------------------------------------------
def test_model_registry_versions_lists_and_approves(sagemaker: SageMaker) -> None:
    group = _name("fraud-models")
    group_arn = sagemaker.sm.create_model_package_group(
        ModelPackageGroupName=group, ModelPackageGroupDescription="fraud classifiers"
    )["ModelPackageGroupArn"]
    assert group_arn == f"arn:aws:sagemaker:us-east-1:000000000000:model-package-group/{group}"
    described_group = sagemaker.sm.describe_model_package_group(ModelPackageGroupName=group)
    assert described_group["ModelPackageGroupStatus"] == "Completed"

    inference = {
        "Containers": [{"Image": SKLEARN_IMAGE, "ModelDataUrl": "s3://bucket/model.tar.gz"}],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["text/csv"],
    }
    arns = [
        sagemaker.sm.create_model_package(
            ModelPackageGroupName=group,
            ModelPackageDescription=f"candidate {n}",
            InferenceSpecification=inference,
            CustomerMetadataProperties={"auc": f"0.8{n}"},
            **({"ModelApprovalStatus": "Approved"} if n == 1 else {}),
        )["ModelPackageArn"]
        for n in (1, 2)
    ]
    assert arns == [
        f"arn:aws:sagemaker:us-east-1:000000000000:model-package/{group}/{v}" for v in (1, 2)
    ]
    second = sagemaker.sm.describe_model_package(ModelPackageName=arns[1])
    assert second["ModelPackageVersion"] == 2
    assert second["ModelApprovalStatus"] == "PendingManualApproval"
    assert second["InferenceSpecification"]["SupportedContentTypes"] == ["text/csv"]

    def listed(**filters: Any) -> list[tuple[int, str]]:
        summaries = sagemaker.sm.list_model_packages(ModelPackageGroupName=group, **filters)
        return [
            (p["ModelPackageVersion"], p["ModelApprovalStatus"])
            for p in summaries["ModelPackageSummaryList"]
        ]

    assert listed() == [(1, "Approved"), (2, "PendingManualApproval")]
    assert listed(SortBy="CreationTime", SortOrder="Descending") == [
        (2, "PendingManualApproval"),
        (1, "Approved"),
    ]
    assert listed(ModelApprovalStatus="Approved") == [(1, "Approved")]

    sagemaker.sm.update_model_package(
        ModelPackageArn=arns[1],
        ModelApprovalStatus="Approved",
        ApprovalDescription="beats the champion",
        CustomerMetadataProperties={"approved_by": "ci"},
    )
    updated = sagemaker.sm.describe_model_package(ModelPackageName=arns[1])
    assert updated["ModelApprovalStatus"] == "Approved"
    assert updated["ApprovalDescription"] == "beats the champion"
    assert updated["CustomerMetadataProperties"] == {"auc": "0.82", "approved_by": "ci"}
    latest = sagemaker.sm.list_model_packages(
        ModelPackageGroupName=group,
        ModelApprovalStatus="Approved",
        SortBy="CreationTime",
        SortOrder="Descending",
        MaxResults=1,
    )["ModelPackageSummaryList"]
    assert [p["ModelPackageArn"] for p in latest] == [arns[1]]
    groups = sagemaker.sm.list_model_package_groups(NameContains=group)
    assert [g["ModelPackageGroupName"] for g in groups["ModelPackageGroupSummaryList"]] == [group]


def test_model_registry_puts_state_changes_on_the_default_bus(
    sagemaker: SageMaker, target: Target
) -> None:
    # Given a rule on the default bus that records SageMaker's events, and a group
    recorder = EventRecorder(target, "default", ["aws.sagemaker"])
    group = _name("approvals")
    sagemaker.sm.create_model_package_group(ModelPackageGroupName=group)
    inference = {
        "Containers": [{"Image": SKLEARN_IMAGE, "ModelDataUrl": "s3://bucket/model.tar.gz"}],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["text/csv"],
    }
    try:
        # When a package is created rejected, its metadata changes, then a person approves it
        arn = sagemaker.sm.create_model_package(
            ModelPackageGroupName=group,
            InferenceSpecification=inference,
            ModelApprovalStatus="Rejected",
            CustomerMetadataProperties={"training_job": "job-1"},
        )["ModelPackageArn"]
        sagemaker.sm.update_model_package(
            ModelPackageArn=arn, CustomerMetadataProperties={"note": "no status change"}
        )
        sagemaker.sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")

        def ours() -> list[dict[str, Any]]:
            return [e for e in recorder.poll() if arn in e.get("resources", [])]

        wait_for(lambda: len(ours()) >= 2 or None, 30, "two state changes")
        for _ in range(2):  # a third one would have arrived by now (each poll waits 1 s)
            recorder.poll()
        # Then the creation and the approval were announced as SageMaker announces them,
        # and the update that left the status alone was not
        changes = {e["detail"]["ModelApprovalStatus"]: e for e in ours()}
        assert len(ours()) == 2 and set(changes) == {"Rejected", "Approved"}
        approved = changes["Approved"]
        assert approved["detail-type"] == "SageMaker Model Package State Change"
        assert approved["account"] == "000000000000"
        assert approved["detail"]["ModelPackageGroupName"] == group
        assert approved["detail"]["ModelPackageVersion"] == 1
        assert approved["detail"]["CustomerMetadataProperties"] == {
            "training_job": "job-1",
            "note": "no status change",
        }
        assert isinstance(approved["detail"]["CreationTime"], int)
    finally:
        recorder.close()


# -- Step Functions -----------------------------------------------------------------------
def _training_task(sagemaker: SageMaker, script: str, **state: Any) -> dict[str, Any]:
    parameters = sagemaker.training_request(_name("sfn-train"), script)
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
        "Parameters": parameters,
        **state,
    }


def test_step_functions_create_training_job_sync_returns_the_description(
    sagemaker: SageMaker,
) -> None:
    task = _training_task(sagemaker, CONTRACT_SCRIPT, End=True)
    name = task["Parameters"]["TrainingJobName"]

    execution = sagemaker.execute({"StartAt": "Train", "States": {"Train": task}})

    assert execution["status"] == "SUCCEEDED", execution
    output = json.loads(execution["output"])
    assert output["TrainingJobName"] == name
    assert output["TrainingJobStatus"] == "Completed"
    assert output["ModelArtifacts"]["S3ModelArtifacts"].endswith(f"/{name}/output/model.tar.gz")
    assert isinstance(output["TrainingEndTime"], int)  # epoch milliseconds, as on AWS
    assert output["HyperParameters"]["sagemaker_program"] == '"train.py"'


def test_step_functions_catches_a_failed_training_job(sagemaker: SageMaker) -> None:
    task = _training_task(
        sagemaker,
        FAILING_SCRIPT,
        Catch=[{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Failed"}],
        Next="Trained",
    )
    definition = {
        "StartAt": "Train",
        "States": {
            "Train": task,
            "Trained": {"Type": "Succeed"},
            "Failed": {"Type": "Pass", "End": True},
        },
    }

    execution = sagemaker.execute(definition)

    assert execution["status"] == "SUCCEEDED", execution
    error = json.loads(execution["output"])["error"]
    assert error["Error"] == "States.TaskFailed"
    cause = json.loads(error["Cause"])
    assert cause["TrainingJobStatus"] == "Failed"
    assert "is_fraud" in cause["FailureReason"]


def test_step_functions_create_transform_job_sync(sagemaker: SageMaker) -> None:
    model = sagemaker.model(_tar({"weights.json": json.dumps({"w": [2.0]})}), SCORING_INFERENCE)
    sagemaker.put("sfn-batch/rows.csv", "1\n2\n")
    name = _name("sfn-transform")
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sagemaker:createTransformJob.sync",
        "Parameters": {
            "TransformJobName": name,
            "ModelName": model,
            "TransformInput": {
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{sagemaker.bucket}/sfn-batch/",
                    }
                },
                "ContentType": "text/csv",
                "SplitType": "Line",
            },
            "TransformOutput": {
                "S3OutputPath": f"s3://{sagemaker.bucket}/sfn-scored",
                "AssembleWith": "Line",
            },
            "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        },
        "End": True,
    }

    execution = sagemaker.execute({"StartAt": "Score", "States": {"Score": task}})

    assert execution["status"] == "SUCCEEDED", execution
    output = json.loads(execution["output"])
    assert (output["TransformJobName"], output["TransformJobStatus"]) == (name, "Completed")
    assert sagemaker.get("sfn-scored/rows.csv.out") == b"2.00,2\n4.00,2\n"


def test_step_functions_create_model_and_api_errors(sagemaker: SageMaker) -> None:
    name = _name("sfn-model")
    create_model = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sagemaker:createModel",
        "Parameters": {
            "ModelName": name,
            "ExecutionRoleArn": ROLE,
            "PrimaryContainer": {"Image": SKLEARN_IMAGE},
        },
    }
    definition = {
        "StartAt": "Create",
        "States": {
            "Create": {**create_model, "ResultPath": "$.created", "Next": "CreateAgain"},
            "CreateAgain": {
                **create_model,
                "Catch": [
                    {
                        "ErrorEquals": ["SageMaker.AmazonSageMakerException"],
                        "ResultPath": "$.error",
                        "Next": "Done",
                    }
                ],
                "Next": "Done",
            },
            "Done": {"Type": "Succeed"},
        },
    }

    execution = sagemaker.execute(definition)

    assert execution["status"] == "SUCCEEDED", execution
    output = json.loads(execution["output"])
    assert output["created"] == {
        "ModelArn": f"arn:aws:sagemaker:us-east-1:000000000000:model/{name}"
    }
    assert output["error"]["Error"] == "SageMaker.AmazonSageMakerException"
    assert "Error Code: ValidationException" in output["error"]["Cause"]
    described = sagemaker.sm.describe_model(ModelName=name)
    assert described["PrimaryContainer"]["Image"] == SKLEARN_IMAGE
