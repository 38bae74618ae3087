"""The batch inference functions over moto, with a model train.py really trained.

prepare_inference writes the transform input; the test plays SageMaker's part by running
training/inference.py over each part as batch transform would (SplitType=Line,
MultiRecord, AssembleWith=Line), then write_predictions and monitor_drift take over. One
test goes through the handlers with the state machine's payloads; the others build the
functions' logic classes with moto's clients.
"""

from __future__ import annotations

import csv
import io
import json
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from driftline_contracts import datasets
from driftline_runtime import layout, names
from driftline_runtime.events import DriftDetected
from driftline_runtime.lineage import LineageStore
from driftline_runtime.observability import observability
from driftline_runtime.registry import ModelRegistry, NoApprovedModel
from driftline_runtime.steps.batch_inference import (
    DriftOutcome,
    DriftReportDocument,
    InferenceRequest,
    MonitorDriftInput,
    ResolvedInference,
    TransformJobResult,
    WritePredictionsInput,
    WrittenPredictions,
)
from moto import mock_aws
from pydantic import ValidationError

from driftline.samples import generate_transactions
from tests.unit.test_training import END
from training import inference

CURATED, ARTIFACTS, PREDICTIONS = "curated", "artifacts", "predictions"
LINEAGE, BUS = "lineage", "driftline-test"
PREFIX = "driftline-test"
GROUP = layout.model_group(PREFIX, "transactions")
PART_BYTES = 32 * 1024  # a version of 500 rows or more is two or more parts


class Cloud:
    def __init__(self, model_dir: Path) -> None:
        self.s3 = boto3.client("s3")
        for bucket in (CURATED, ARTIFACTS, PREDICTIONS):
            self.s3.create_bucket(Bucket=bucket)
        boto3.client("dynamodb").create_table(
            TableName=LINEAGE,
            KeySchema=[
                {"AttributeName": "dataset", "KeyType": "HASH"},
                {"AttributeName": "version", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "dataset", "AttributeType": "S"},
                {"AttributeName": "version", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        self.model_dir = model_dir
        self.sagemaker = boto3.client("sagemaker")
        events = boto3.client("events")
        events.create_event_bus(Name=BUS)
        sqs = boto3.client("sqs")
        self.queue_url = sqs.create_queue(QueueName="recorded")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events.put_rule(
            Name="all", EventBusName=BUS, EventPattern=json.dumps({"source": [{"prefix": ""}]})
        )
        events.put_targets(Rule="all", EventBusName=BUS, Targets=[{"Id": "q", "Arn": arn}])

    def register_model(self, status: str = "Approved") -> str:
        """model.tar.gz and baseline.json in S3, and an approved package that names them."""
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w:gz") as tar:
            for path in sorted(self.model_dir.iterdir()):
                tar.add(path, arcname=path.name)
        key = "models/transactions/dl-job/output/model.tar.gz"
        self.s3.put_object(Bucket=ARTIFACTS, Key=key, Body=archive.getvalue())
        baseline = (self.model_dir / names.BASELINE_FILE).read_bytes()
        self.s3.put_object(
            Bucket=ARTIFACTS, Key="models/transactions/dl-job/baseline.json", Body=baseline
        )
        try:
            self.sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
        except self.sagemaker.exceptions.ClientError:
            pass
        return str(
            self.sagemaker.create_model_package(
                ModelPackageGroupName=GROUP,
                ModelApprovalStatus=status,
                InferenceSpecification={
                    "Containers": [
                        {
                            "Image": "sklearn-image",
                            "ModelDataUrl": f"s3://{ARTIFACTS}/{key}",
                            "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
                        }
                    ],
                    "SupportedContentTypes": ["text/csv"],
                    "SupportedResponseMIMETypes": ["text/csv"],
                },
                CustomerMetadataProperties={
                    names.BASELINE_METADATA_KEY: f"s3://{ARTIFACTS}/models/transactions/dl-job/"
                    + names.BASELINE_FILE
                },
            )["ModelPackageArn"]
        )

    def ingest(self, table: pa.Table, version: str) -> None:
        """What the ingest function leaves for a validated scoring version."""
        data_key = f"curated/scoring/ingest_date=2026-11-01/{version}.parquet"
        sink = io.BytesIO()
        pq.write_table(table, sink)
        self.s3.put_object(Bucket=CURATED, Key=data_key, Body=sink.getvalue())
        manifest = {"kind": "inference", "data_uri": f"s3://{CURATED}/{data_key}"}
        self.s3.put_object(
            Bucket=CURATED,
            Key=layout.manifest_key("scoring", version),
            Body=json.dumps(manifest).encode(),
        )
        boto3.resource("dynamodb").Table(LINEAGE).put_item(
            Item={
                "dataset": "scoring",
                "version": version,
                "kind": "inference",
                "state": "validated",
                "rows": table.num_rows,
                "valid_rows": table.num_rows,
                "content_sha256": version,
                "contract_version": "1.0.0",
                "source_bucket": "raw",
                "source_key": f"scoring/{version}.csv",
                "source_version_id": None,
                "report_key": "r",
                "outputs": {},
                "created_at": "2026-11-01T10:00:00+00:00",
            }
        )

    def transform(self, resolved: ResolvedInference, *, drop_last_line: bool = False) -> None:
        """Batch transform's part: every input part through inference.py to ``.out``."""
        model = inference.model_fn(str(self.model_dir))
        bucket, prefix = resolved.input.bucket, resolved.input.prefix
        output = resolved.transform.output_path.removeprefix(f"s3://{bucket}/")
        for item in self.s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]:
            body = self.s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            answer, _ = inference.output_fn(
                inference.predict_fn(inference.input_fn(body, "text/csv"), model), "text/csv"
            )
            if drop_last_line:
                answer = "\n".join(answer.splitlines()[:-1])
            name = item["Key"].rsplit("/", 1)[1]
            self.s3.put_object(Bucket=bucket, Key=f"{output}{name}.out", Body=answer.encode())

    def events(self) -> list[dict[str, Any]]:
        messages = (
            boto3.client("sqs")
            .receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            .get("Messages", [])
        )
        return [json.loads(m["Body"]) for m in messages]


TRANSFORM = {
    "instance_type": "ml.m5.large",
    "volume_kms_key": "arn:aws:kms:us-east-1:123456789012:key/k",
    "max_payload_mb": 6,
    "max_concurrency": 2,
    "part_size_bytes": PART_BYTES,
}
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:batch-inference:run"
NOW = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def cloud(aws_credentials: None, model_dir: Path) -> Iterator[Cloud]:
    with mock_aws():
        yield Cloud(model_dir)


Loader = Callable[..., ModuleType]


@dataclass(frozen=True)
class Steps:
    """The batch pipeline's three functions' logic, on moto's clients."""

    resolution: Any
    writer: Any
    monitor: Any
    modules: dict[str, ModuleType]


@pytest.fixture
def steps(cloud: Cloud, load_logic: Loader) -> Steps:
    s3, sagemaker = boto3.client("s3"), boto3.client("sagemaker")
    resolution = load_logic("prepare_inference", "resolution")
    predictions = load_logic("write_predictions", "predictions")
    monitoring = load_logic("monitor_drift", "monitoring")
    return Steps(
        resolution=resolution.InferenceResolution(
            resolution.Settings(
                driftline_stage="test",
                model='{"role_arn": "arn:aws:iam::000000000000:role/sagemaker"}',
                curated_bucket=CURATED,
                artifacts_bucket=ARTIFACTS,
                lineage_table=LINEAGE,
                model_package_group_prefix=PREFIX,
                transform=json.dumps(TRANSFORM),
            ),
            resolution.Services(
                s3=s3,
                registry=ModelRegistry(sagemaker),
                lineage=LineageStore(boto3.resource("dynamodb").Table(LINEAGE)),
            ),
        ),
        writer=predictions.PredictionWriter(
            predictions.Settings(predictions_bucket=PREDICTIONS), predictions.Services(s3=s3)
        ),
        monitor=monitoring.DriftMonitor(
            monitoring.Settings(predictions_bucket=PREDICTIONS, event_bus_name=BUS),
            monitoring.Services(
                s3=s3, events=boto3.client("events"), obs=observability("monitor_drift")
            ),
        ),
        modules={"resolution": resolution, "predictions": predictions, "monitoring": monitoring},
    )


class Context:
    function_name = "test"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test"
    aws_request_id = "request"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def completed_jobs(resolved: ResolvedInference) -> list[TransformJobResult]:
    """What the Distributed Map returns when every part's transform job completed."""
    prefix = resolved.transform.job_prefix
    return [
        TransformJobResult(job=f"{prefix}-{i}", status="Completed") for i in range(resolved.parts)
    ]


def scoring(rows: int, drift: float, seed: int = 8) -> pa.Table:
    return generate_transactions(rows, seed=seed, drift=drift, labelled=False, end=END)


def resolve(steps: Steps, dataset: str, version: str | None = None) -> ResolvedInference:
    resolved: ResolvedInference = steps.resolution.resolve(
        InferenceRequest(dataset=dataset, version=version), now=NOW, execution=EXECUTION
    )
    return resolved


def map_results(
    s3: Any, resolved: ResolvedInference, jobs: list[TransformJobResult]
) -> dict[str, Any]:
    """What the Distributed Map's ResultWriter leaves: the parts' results in S3 (as AWS
    writes them, in files of at most 100 results here) and, in the state, where."""
    bucket, folder = resolved.input.bucket, f"{resolved.input.results_prefix}run-1/"
    files = []
    for start in range(0, len(jobs), 100):
        key = f"{folder}SUCCEEDED_{start // 100}.json"
        body = json.dumps(
            [
                {"Name": f"item-{i}", "Status": "SUCCEEDED", "Output": job.model_dump_json()}
                for i, job in enumerate(jobs[start : start + 100], start)
            ]
        )
        s3.put_object(Bucket=bucket, Key=key, Body=body.encode())
        files.append({"Key": key, "Size": len(body)})
    manifest = {
        "DestinationBucket": bucket,
        "MapRunArn": f"{EXECUTION}/Score:run-1",
        "ResultFiles": {"FAILED": [], "PENDING": [], "SUCCEEDED": files},
    }
    s3.put_object(Bucket=bucket, Key=f"{folder}manifest.json", Body=json.dumps(manifest))
    return {
        "MapRunArn": manifest["MapRunArn"],
        "ResultWriterDetails": {"Bucket": bucket, "Key": f"{folder}manifest.json"},
    }


def write(
    steps: Steps, resolved: ResolvedInference, jobs: list[TransformJobResult]
) -> WrittenPredictions:
    request = WritePredictionsInput(
        resolved=resolved,
        results=map_results(boto3.client("s3"), resolved, jobs),
        execution=EXECUTION,
    )
    written: WrittenPredictions = steps.writer.write(request, now=NOW)
    return written


def measure(steps: Steps, resolved: ResolvedInference, written: WrittenPredictions) -> DriftOutcome:
    request = MonitorDriftInput(resolved=resolved, predictions=written, execution=EXECUTION)
    outcome: DriftOutcome = steps.monitor.measure(request, now=NOW)
    return outcome


def test_the_handlers_score_a_version_in_parts_and_every_row_gets_its_prediction(
    cloud: Cloud, load_function: Loader, labelled: pa.Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the functions' settings as CDK writes them, an approved model and a validated
    # scoring version of 1,000 rows drawn from the very rows the model's baseline was
    # computed on (the train split's first rows)
    for name, value in {
        "CURATED_BUCKET": CURATED,
        "ARTIFACTS_BUCKET": ARTIFACTS,
        "PREDICTIONS_BUCKET": PREDICTIONS,
        "LINEAGE_TABLE": LINEAGE,
        "EVENT_BUS_NAME": BUS,
        "MODEL_PACKAGE_GROUP_PREFIX": PREFIX,
        "TRANSFORM": json.dumps(TRANSFORM),
        "MODEL": '{"role_arn": "arn:aws:iam::000000000000:role/sagemaker"}',
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": names.METRICS_NAMESPACE,
    }.items():
        monkeypatch.setenv(name, value)
    package = cloud.register_model()
    table = labelled.slice(0, 1_000).drop_columns(["is_fraud"])
    cloud.ingest(table, "v-clean")
    # When the state machine's payloads reach the handlers around a transform job
    request = {"request": {"dataset": "scoring"}, "execution": EXECUTION}
    resolved = load_function("prepare_inference").handler(request, Context())
    # Then the newest version is scored with the approved package, in parts of at most
    # PART_BYTES, headerless whole rows `<id>,<features>`, every row in one part
    assert resolved["version"] == "v-clean"
    assert resolved["model_package_arn"] == package
    assert resolved["model"]["ModelName"].startswith("dl-test-scoring-v-clean-")
    parts = cloud.s3.list_objects_v2(Bucket=ARTIFACTS, Prefix=resolved["input"]["prefix"])
    assert resolved["parts"] == len(parts["Contents"]) >= 2
    baseline = json.loads((cloud.model_dir / names.BASELINE_FILE).read_text())
    width = 1 + len(baseline["feature_columns"])
    ids: list[str] = []
    for item in parts["Contents"]:
        assert item["Size"] <= PART_BYTES
        body = cloud.s3.get_object(Bucket=ARTIFACTS, Key=item["Key"])["Body"].read()
        records = list(csv.reader(io.StringIO(body.decode())))
        assert records[0][0] != "transaction_id"  # no header
        assert all(len(record) == width for record in records)
        ids += [record[0] for record in records]
    assert ids == table.column("transaction_id").to_pylist()
    cloud.transform(ResolvedInference.model_validate(resolved))
    completed = completed_jobs(ResolvedInference.model_validate(resolved))
    jobs = [j.model_dump() for j in completed]
    results = map_results(cloud.s3, ResolvedInference.model_validate(resolved), completed)
    written = load_function("write_predictions").handler(
        {"resolved": resolved, "results": results, "execution": EXECUTION}, Context()
    )
    # Then one prediction per input row, joined by id, with lineage
    assert written["rows"] == 1_000
    bucket, _, key = written["predictions_uri"].removeprefix("s3://").partition("/")
    predictions = pq.read_table(
        io.BytesIO(cloud.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    )
    assert sorted(predictions.column("transaction_id").to_pylist()) == sorted(
        table.column("transaction_id").to_pylist()
    )
    lineage = json.loads(predictions.schema.metadata[b"driftline.lineage"])
    assert lineage["model_package_arn"] == package
    assert lineage["transform_jobs"] == sorted(j["job"] for j in jobs)
    # And the monitor sees no drift in the training data itself
    drift = load_function("monitor_drift").handler(
        {"resolved": resolved, "predictions": written, "execution": EXECUTION}, Context()
    )
    assert drift["drifted"] is False, drift["drifted_features"]
    assert [e["detail-type"] for e in cloud.events()] == []


def test_a_payload_that_is_not_the_steps_input_fails_before_any_work(
    cloud: Cloud, load_function: Loader, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the write function, and a payload without the resolved run it needs
    monkeypatch.setenv("PREDICTIONS_BUCKET", PREDICTIONS)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    handler = load_function("write_predictions").handler
    # When it is invoked, then the step's input model refuses it and nothing is written
    with pytest.raises(ValidationError, match="resolved"):
        handler({"results": {}, "execution": EXECUTION}, Context())
    assert cloud.s3.list_objects_v2(Bucket=PREDICTIONS).get("Contents", []) == []


def test_strong_drift_is_reported_and_announced(cloud: Cloud, steps: Steps) -> None:
    package = cloud.register_model()
    cloud.ingest(scoring(800, drift=1.0), "v-drifted")
    resolved = resolve(steps, "scoring", "v-drifted")
    cloud.transform(resolved)
    written = write(steps, resolved, completed_jobs(resolved))
    drift = measure(steps, resolved, written)
    assert drift.drifted is True
    (event,) = cloud.events()
    assert event["detail-type"] == DriftDetected.detail_type()
    assert event["source"] == DriftDetected.SOURCE
    detail = DriftDetected.model_validate(event["detail"])
    assert detail.dataset == "scoring" and detail.training_dataset == "transactions"
    assert detail.model_package_arn == package
    assert set(detail.drifted_features) == set(drift.drifted_features)
    assert drift.outcome == "drifted" and drift.rows == 800
    # Every drifted feature's effect size (PSI) reaches the dataset's floor
    floor = datasets()["scoring"].drift.min_psi
    assert all(detail.scores[f] >= floor for f in detail.drifted_features)
    # The report holds what a person needs to see why: shares per bin, per feature
    bucket, _, key = drift.report_uri.removeprefix("s3://").partition("/")
    report = DriftReportDocument.model_validate_json(
        cloud.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    ).report
    assert report.drifted is True
    amount = next(f for f in report.features if f.feature == "amount")
    assert len(amount.labels) == len(amount.expected_shares) == len(amount.actual_shares)
    assert report.prediction is not None
    assert report.prediction.actual_mean > report.prediction.expected_mean  # type: ignore[operator]


def test_a_batch_below_the_minimum_rows_gets_no_verdict_and_no_event(
    cloud: Cloud, steps: Steps
) -> None:
    # Given an approved model and a strongly drifted batch of 30 rows, fewer than the
    # scoring dataset's min_rows
    cloud.register_model()
    cloud.ingest(scoring(30, drift=1.0), "v-small")
    settings = datasets()["scoring"].drift
    assert settings.min_rows > 30
    # When it is scored and monitored
    resolved = resolve(steps, "scoring", "v-small")
    cloud.transform(resolved)
    written = write(steps, resolved, completed_jobs(resolved))
    drift = measure(steps, resolved, written)
    # Then the outcome says why there is no verdict, with the numbers, and nothing is put
    assert drift.outcome == "insufficient_rows"
    assert drift.drifted is False
    assert (drift.rows, drift.min_rows) == (30, settings.min_rows)
    assert cloud.events() == []
    # And the stored report says the same, per feature
    bucket, _, key = drift.report_uri.removeprefix("s3://").partition("/")
    document = DriftReportDocument.model_validate_json(
        cloud.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    )
    assert document.outcome == "insufficient_rows"
    assert document.report.settings is not None
    assert document.report.settings.min_rows == settings.min_rows
    assert all(f.p_value is None for f in document.report.features)


def test_an_undeclared_dataset_has_no_drift_settings(steps: Steps) -> None:
    monitoring = steps.modules["monitoring"]
    with pytest.raises(monitoring.UndeclaredDataset, match="'nowhere' is not a declared dataset"):
        steps.monitor.settings_for("nowhere")
    assert steps.monitor.settings_for("scoring") == datasets()["scoring"].drift


def test_no_approved_model_is_a_clear_error(cloud: Cloud, steps: Steps) -> None:
    cloud.register_model(status="Rejected")
    cloud.ingest(scoring(50, drift=0.0), "v-any")
    with pytest.raises(NoApprovedModel, match="No approved model in model package group"):
        resolve(steps, "scoring", "v-any")


def test_a_training_dataset_is_not_scored(steps: Steps) -> None:
    error = steps.modules["resolution"].InferenceRequestError
    with pytest.raises(error, match="not an inference dataset"):
        resolve(steps, "transactions")


def test_a_missing_prediction_fails_the_run_instead_of_writing_a_partial_table(
    cloud: Cloud, steps: Steps
) -> None:
    cloud.register_model()
    cloud.ingest(scoring(500, drift=0.0), "v-partial")
    resolved = resolve(steps, "scoring", "v-partial")
    assert resolved.parts >= 2
    cloud.transform(resolved, drop_last_line=True)  # each part loses its last prediction
    error = steps.modules["predictions"].IncompletePredictions
    with pytest.raises(error, match=f"{resolved.parts} input row\\(s\\) without a prediction"):
        write(steps, resolved, completed_jobs(resolved))
    listed = cloud.s3.list_objects_v2(Bucket=PREDICTIONS).get("Contents", [])
    assert listed == []


def test_a_failed_transform_job_is_named_with_sagemakers_reason(cloud: Cloud, steps: Steps) -> None:
    cloud.register_model()
    cloud.ingest(scoring(900, drift=0.0), "v-failed")
    resolved = resolve(steps, "scoring", "v-failed")
    jobs = completed_jobs(resolved)
    jobs[1] = TransformJobResult(
        job=jobs[1].job,
        status="Failed",
        error="States.TaskFailed",
        cause=json.dumps({"TransformJobStatus": "Failed", "FailureReason": "ClientError: OOM"}),
    )
    error = steps.modules["predictions"].TransformJobsFailed
    with pytest.raises(error, match=f"1 of {resolved.parts} .*{jobs[1].job}: ClientError: OOM"):
        write(steps, resolved, jobs)
    assert cloud.s3.list_objects_v2(Bucket=PREDICTIONS).get("Contents", []) == []


def test_hundreds_of_failed_parts_are_read_from_s3_and_reported_in_a_bounded_message(
    cloud: Cloud, steps: Steps
) -> None:
    # Given a run of 400 parts whose every transform job failed with SageMaker's long
    # reason: their results alone are far more than Step Functions' 256 KiB of state
    # data, so the Map writes them to S3 (ResultWriter) and the state holds where
    cloud.register_model()
    cloud.ingest(scoring(400, drift=0.0), "v-many-failed")
    resolved = resolve(steps, "scoring", "v-many-failed").model_copy(update={"parts": 400})
    reason = "ClientError: the container ran out of memory while loading the model. " * 20
    jobs = [
        TransformJobResult(
            job=f"{resolved.transform.job_prefix}-{i}",
            status="Failed",
            error="States.TaskFailed",
            cause=json.dumps({"TransformJobStatus": "Failed", "FailureReason": reason}),
        )
        for i in range(400)
    ]
    assert len(json.dumps([j.model_dump() for j in jobs])) > 256 * 1024
    # When the predictions are written
    error = steps.modules["predictions"].TransformJobsFailed
    with pytest.raises(error) as raised:
        write(steps, resolved, jobs)
    # Then every part was read from the map run's results, the failure names the first
    # jobs with their reason, counts the rest and says where all of them are
    message = str(raised.value)
    assert message.startswith("400 of 400 transform jobs failed: ")
    assert f"{jobs[0].job}: ClientError: the container ran out of memory" in message
    assert "and 390 more (every part's result: s3://" in message
    assert "manifest.json" in message
    # And the message stays small enough for the InferenceFailed event's cause
    assert len(message) < 8 * 1024
    assert cloud.s3.list_objects_v2(Bucket=PREDICTIONS).get("Contents", []) == []
