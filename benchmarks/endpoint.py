"""Real-time endpoint benchmark: InvokeEndpoint latency and throughput on the local cloud.

A model of the sample dataset is trained by a SageMaker training job on the local cloud
(the repository's training code, as the pipeline runs it) and served by an endpoint of
two instances. Each figure is printed beside a peer measured in the same run:

- invoke latency p50 and p99 over ``BENCH_REQUESTS`` requests (default 1,000) of 1 row
  and of 100 rows (CSV with a header, as a user drops it), against the same model's
  ``input_fn -> predict_fn -> output_fn`` in this process (the floor the model sets) and
  against an S3 GetObject round trip of a small object on the same gateway (the floor
  the gateway sets);
- throughput with 8 concurrent clients, against one client.

Run with ``make bench`` (or ``python -m benchmarks.endpoint``); it starts the local cloud
without deploying the app, and stops it again if it started it. Figures go to
``build/bench.json``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tarfile
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow.csv as pacsv
from driftline_contracts import contract
from driftline_runtime import names

from benchmarks.results import figure, record
from driftline.actions import wait_until
from driftline.localcloud import LocalCloud
from driftline.samples import generate_transactions
from driftline.target import Target
from infra.constructs.sagemaker import source_tarball

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "1000"))
CLIENTS = 8
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
ROLE = "arn:aws:iam::000000000000:role/driftline-bench"
BUCKET = "driftline-bench-endpoint"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def latencies(action: Callable[[], object], count: int) -> list[float]:
    found = []
    for _ in range(count):
        started = time.perf_counter()
        action()
        found.append(time.perf_counter() - started)
    return found


def csv_body(rows: int, seed: int) -> bytes:
    sink = io.BytesIO()
    pacsv.write_csv(generate_transactions(rows, seed=seed), sink)
    return sink.getvalue()


def train(target: Target) -> str:
    """A model trained by a local SageMaker training job; its model.tar.gz URI."""
    s3, sagemaker = target.client("s3"), target.client("sagemaker")
    s3.create_bucket(Bucket=BUCKET)
    s3.upload_file(str(source_tarball()), BUCKET, "code/sourcedir.tar.gz")
    spec = contract("transactions")
    assert spec is not None and spec.target is not None
    # What the prepare step hands a training job: the id, the spec's features and target.
    table = generate_transactions(3000, seed=21).select(
        [spec.id_column, *spec.feature_columns, spec.target]
    )
    cuts = {"train": (0, 1800), "validation": (1800, 600), "test": (2400, 600)}
    for channel, (start, length) in cuts.items():
        sink = io.BytesIO()
        pacsv.write_csv(table.slice(start, length), sink)
        s3.put_object(Bucket=BUCKET, Key=f"data/{channel}/part.csv", Body=sink.getvalue())
    name = f"bench-{int(time.time())}"
    sagemaker.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        HyperParameters={
            "problem": spec.problem or "binary",
            "algorithm": spec.training.algorithm,
            "target_column": spec.target,
            "id_column": spec.id_column,
            "features": json.dumps(spec.feature_columns),
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_submit_directory": json.dumps(f"s3://{BUCKET}/code/sourcedir.tar.gz"),
        },
        InputDataConfig=[
            {
                "ChannelName": channel,
                "ContentType": "text/csv",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{BUCKET}/data/{channel}/",
                    }
                },
            }
            for channel in cuts
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/models"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
    )

    def finished() -> dict[str, Any] | None:
        job: dict[str, Any] = sagemaker.describe_training_job(TrainingJobName=name)
        return None if job["TrainingJobStatus"] in ("InProgress", "Stopping") else job

    job = wait_until(finished, 600, "the bench's training job", 1.0)
    if job["TrainingJobStatus"] != "Completed":
        raise SystemExit(f"training failed: {job.get('FailureReason')}")
    return str(job["ModelArtifacts"]["S3ModelArtifacts"])


def serve(target: Target, model_data: str, endpoint: str) -> None:
    sagemaker = target.client("sagemaker")
    model = f"bench-model-{int(time.time())}"
    sagemaker.create_model(
        ModelName=model,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": IMAGE,
            "ModelDataUrl": model_data,
            "Environment": {
                "SAGEMAKER_PROGRAM": "inference.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": names.MODEL_CODE_DIRECTORY,
            },
        },
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=model,
        ProductionVariants=[
            {
                "VariantName": names.ENDPOINT_VARIANT,
                "ModelName": model,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 2,
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=model)

    def in_service() -> bool | None:
        status = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointStatus"]
        if status == "Failed":
            raise SystemExit("the bench endpoint failed to start")
        return True if status == "InService" else None

    wait_until(in_service, 300, "the bench endpoint", 0.5)


def in_process(target: Target, model_data: str) -> Callable[[bytes], object]:
    """The same model's handlers in this process: the floor."""
    from training.inference import input_fn, model_fn, output_fn, predict_fn

    folder = Path(tempfile.mkdtemp(prefix="bench-model-"))
    body = target.client("s3").get_object(
        Bucket=BUCKET, Key=model_data.removeprefix(f"s3://{BUCKET}/")
    )["Body"]
    with tarfile.open(fileobj=io.BytesIO(body.read())) as archive:
        archive.extractall(folder, filter="data")
    model = model_fn(str(folder))
    return lambda rows: output_fn(predict_fn(input_fn(rows, "text/csv"), model), "text/csv")


def main() -> None:
    # Measured on an empty local cloud, as the other benchmarks are (benchmarks.restart
    # measures a start with state kept).
    os.environ["DRIFTLINE_LOCAL_PERSISTENCE"] = "0"
    cloud = LocalCloud()
    cloud.install()
    started_here = cloud.start()
    target = Target("local")
    endpoint = f"driftline-bench-{int(time.time())}"
    try:
        model_data = train(target)
        serve(target, model_data, endpoint)
        runtime, s3 = target.client("sagemaker-runtime"), target.client("s3")
        s3.put_object(Bucket=BUCKET, Key="peer/small.csv", Body=csv_body(1, seed=1))
        predict = in_process(target, model_data)

        def invoke(body: bytes) -> object:
            answer = runtime.invoke_endpoint(
                EndpointName=endpoint, Body=body, ContentType="text/csv"
            )
            return answer["Body"].read()

        figures: dict[str, dict[str, Any]] = {}
        print(f"driftline endpoint benchmark: {REQUESTS} requests per figure\n")
        gateway = latencies(
            lambda: s3.get_object(Bucket=BUCKET, Key="peer/small.csv")["Body"].read(), REQUESTS
        )
        for rows in (1, 100):
            body = csv_body(rows, seed=rows)
            latencies(partial(invoke, body), 20)  # warm both paths
            served = latencies(partial(invoke, body), REQUESTS)
            floor = latencies(partial(predict, body), REQUESTS)
            for share, label in ((0.5, "p50"), (0.99, "p99")):
                ours = percentile(served, share)
                model_floor, gateway_floor = percentile(floor, share), percentile(gateway, share)
                print(
                    f"invoke {rows:>3} row(s) {label}: {ours * 1000:7.2f} ms   "
                    f"in-process predict {model_floor * 1000:7.2f} ms "
                    f"({ours / model_floor:5.1f}x)   S3 GetObject {gateway_floor * 1000:6.2f} ms "
                    f"({ours / gateway_floor:5.1f}x)"
                )
                figures[f"endpoint_invoke_{label}_{rows}_rows_vs_predict_s"] = figure(
                    ours, model_floor
                )
                figures[f"endpoint_invoke_{label}_{rows}_rows_vs_s3_get_s"] = figure(
                    ours, gateway_floor
                )
        body = csv_body(1, seed=1)
        single = REQUESTS / sum(latencies(lambda: invoke(body), REQUESTS))
        with ThreadPoolExecutor(CLIENTS) as pool:
            started = time.perf_counter()
            list(pool.map(lambda _: invoke(body), range(REQUESTS)))
            concurrent = REQUESTS / (time.perf_counter() - started)
        print(
            f"throughput, {CLIENTS} clients: {concurrent:7.1f} requests/s   one client "
            f"{single:7.1f} requests/s ({concurrent / single:4.2f}x; 2 instances, "
            f"{os.cpu_count()} CPU cores)"
        )
        figures[f"endpoint_throughput_{CLIENTS}_clients_rps"] = figure(concurrent, single)
        print(f"\nfigures written to {record(figures)}")
    finally:
        if started_here:
            cloud.stop()
        else:  # a kept local cloud keeps no bench endpoint (and its processes)
            with contextlib.suppress(Exception):
                target.client("sagemaker").delete_endpoint(EndpointName=endpoint)


if __name__ == "__main__":
    main()
