"""Local cloud benchmarks: cold start, deploy time, upload-to-result latency.

Each figure is printed next to a peer measured in the same run, as a ratio, because
absolute times on shared machines say little:

- cold start of the local cloud (all services, driftline's additions) vs MiniStack
  with S3 alone;
- ``cdk deploy`` of the app into a fresh local cloud vs ``cdk synth`` of the same app;
- a file dropped in the raw bucket until its dataset version is recorded (read,
  validated, written, lineage, event), vs the upload alone;
- a training file dropped until its model is in the registry (ingest, rule, state
  machine, SageMaker training, evaluation, registration), vs the training job alone;
- a scoring batch dropped until its predictions and drift report are written (ingest,
  rule, model resolution, Distributed Map of transform jobs, predictions, drift monitor),
  vs its transform jobs alone (first start to last end);
- a drift report until the retraining gate has decided (DriftDetected, rule, cooldown
  gate, then RetrainingStarted, or RetrainingWaiting when no labelled data is newer than
  the champion's), vs the same event's delivery to a plain SQS queue;
- a labels file dropped until the model's quality on the batch it labels is recorded
  (ingest, rule, join with the predictions, measures, feedback file), vs the plain ingest
  of the same file (until its dataset version is recorded), from the same drop;
- a 100,000-row scoring batch dropped until its predictions are written, vs a
  10,000-row one in the same run (``benchmarks.scoring_scale``; ``BENCH_SCORE_ROWS`` sets
  the larger size).

Figures go to ``build/bench.json``: ``drop_to_version_vs_upload``,
``drop_to_model_vs_training_job``, ``scoring_vs_transform_jobs``,
``drift_to_retraining_vs_queue``, ``labels_to_quality_vs_ingest`` and
``score_100k_vs_10k``.

Run with ``make bench``; ``BENCH_RUNS`` sets the number of repetitions (default 5).
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from driftline_runtime import names
from driftline_runtime.events import DriftDetected, RetrainingStarted, RetrainingWaiting

from benchmarks.results import figure, record
from benchmarks.scoring_scale import scoring_at_scale
from driftline import deploy
from driftline.actions import (
    EventRecorder,
    drop_file,
    wait_for_inference,
    wait_for_model,
    wait_for_version,
    wait_until,
)
from driftline.cli import SAMPLE
from driftline.localcloud import LocalCloud
from driftline.samples import generate_transactions, write_table
from driftline.target import Target

RUNS = int(os.environ.get("BENCH_RUNS", "5"))


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def median_of(runs: int, action: Callable[[], float]) -> float:
    return statistics.median(action() for _ in range(runs))


def report(name: str, ours: float, peer_name: str, peer: float, unit: str = "s") -> None:
    scale = 1000 if unit == "ms" else 1
    print(
        f"{name:<38} {ours * scale:9.2f} {unit}   {peer_name:<34} {peer * scale:9.2f} {unit}"
        f"   ratio {ours / peer:6.2f}x"
    )


def cold_start(cloud: LocalCloud) -> float:
    def once() -> float:
        cloud.stop()
        return timed(cloud.start)

    return median_of(RUNS, once)


def main() -> None:
    # Cold starts and the deploy are measured on an empty local cloud
    # (benchmarks.restart measures a start with state kept).
    os.environ["DRIFTLINE_LOCAL_PERSISTENCE"] = "0"
    cloud = LocalCloud()
    cloud.install()
    if cloud.is_running():
        raise SystemExit("Stop the running local cloud first (driftline local down).")
    print(f"driftline local cloud benchmarks, median of {RUNS} runs\n")
    try:
        peer_start = cold_start(LocalCloud(services="s3"))
        ours_start = cold_start(cloud)
        peer = f"{cloud.base.title}, S3 only"
        report("local cloud cold start", ours_start, peer, peer_start)

        synth = timed(lambda: deploy.run_cdk(["synth", "--quiet"], None))
        deploy.bootstrap_local(cloud)
        deploy_time = timed(lambda: deploy.deploy(cloud))
        report("cdk deploy (fresh local cloud)", deploy_time, "cdk synth", synth)

        target = Target("local")
        # The peer uploads where no notification fires, so it triggers no work.
        quiet_bucket = target.outputs(names.DATA_STACK)[names.CURATED_BUCKET_OUTPUT]
        s3 = target.client("s3")
        with tempfile.TemporaryDirectory() as folder:
            sample = Path(folder) / "bench.csv"
            rows = SAMPLE.read_text().splitlines()
            counter = iter(range(1_000_000))

            def fresh_sample() -> Path:
                # New content each time, so every drop is a new dataset version.
                salt = f"{next(counter):04x}"
                body = [rows[0]] + [f"t-{salt}{r[6:]}" for r in rows[1:]]
                sample.write_text("\n".join(body) + "\n")
                return sample

            warm = drop_file(target, fresh_sample(), "transactions", None)
            wait_for_version(target, warm[1])  # the first one pays the cold start

            def drop_to_version() -> float:
                path = fresh_sample()
                started = time.perf_counter()
                _, key, _ = drop_file(target, path, "transactions", None)
                wait_for_version(target, key)
                return time.perf_counter() - started

            latency = median_of(RUNS, drop_to_version)
            upload = median_of(
                RUNS,
                lambda: timed(
                    lambda: s3.put_object(
                        Bucket=quiet_bucket, Key="bench/peer.csv", Body=fresh_sample().read_bytes()
                    )
                ),
            )

            def drop_to_model() -> float:
                path = fresh_sample()
                started = time.perf_counter()
                _, key, _ = drop_file(target, path, "transactions", "training")
                version = wait_for_version(target, key)["version"]
                model = wait_for_model(target, version)
                elapsed = time.perf_counter() - started
                job = target.client("sagemaker").describe_training_job(
                    TrainingJobName=model["training_job"]
                )
                job_times.append(
                    (job["TrainingEndTime"] - job["TrainingStartTime"]).total_seconds()
                )
                return elapsed

            job_times: list[float] = []
            to_model = median_of(min(RUNS, 3), drop_to_model)
        report(
            f"drop -> dataset version ({len(rows) - 1} rows)",
            latency,
            "the upload alone",
            upload,
            "ms",
        )
        report(
            "drop -> registered model",
            to_model,
            "the training job alone",
            statistics.median(job_times),
        )
        record(
            {
                "drop_to_version_vs_upload": figure(latency, upload),
                "drop_to_model_vs_training_job": figure(to_model, statistics.median(job_times)),
            }
        )
        scoring_and_drift(target)
        scoring_at_scale(target)
    finally:
        cloud.stop()


def scoring_and_drift(target: Target) -> None:
    """Inference drop -> predictions, and drift -> retraining start (needs a model)."""
    pipeline = target.outputs(names.PIPELINE_STACK)
    cooldown = target.resource("dynamodb").Table(pipeline[names.COOLDOWN_TABLE_OUTPUT])
    sagemaker = target.client("sagemaker")
    recorder = EventRecorder(
        target,
        target.outputs(names.DATA_STACK)[names.EVENT_BUS_OUTPUT],
        [names.MONITOR_SOURCE, names.RETRAINING_SOURCE],
    )
    to_predictions: list[float] = []
    transform: list[float] = []
    to_retraining: list[float] = []
    to_queue: list[float] = []
    to_quality: list[float] = []
    to_labels_version: list[float] = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            for run in range(RUNS):
                # Each run as on a fresh local cloud: no retraining window open yet.
                cooldown.delete_item(Key={"dataset": "transactions", "sk": "cooldown"})
                table = generate_transactions(3_000, seed=900 + run, drift=1.0, labelled=False)
                path = write_table(table, Path(folder) / f"scoring-{run}.csv")
                started = time.perf_counter()
                _, key, _ = drop_file(target, path, "scoring", "inference")
                version = wait_for_version(target, key)["version"]
                scored = wait_for_inference(target, version)
                to_predictions.append(time.perf_counter() - started)
                jobs = [
                    sagemaker.describe_transform_job(TransformJobName=job)
                    for job in scored["transform_jobs"]
                ]
                transform.append(
                    (
                        max(j["TransformEndTime"] for j in jobs)
                        - min(j["TransformStartTime"] for j in jobs)
                    ).total_seconds()
                )
                drifted_at = datetime.fromisoformat(drift_document(target, scored)["time"])
                arrived = recorder.wait_for(
                    DriftDetected.detail_type(), version, 120, key="version"
                )
                to_queue.append(arrived["queued"] - drifted_at.timestamp())
                decided = recorder.wait_for(
                    (RetrainingStarted.detail_type(), RetrainingWaiting.detail_type()),
                    version,
                    120,
                    key="trigger_version",
                )
                to_retraining.append(decided["queued"] - drifted_at.timestamp())
                labelled, versioned = labels_to_quality(target, table, scored, Path(folder), run)
                to_quality.append(labelled)
                to_labels_version.append(versioned)
    finally:
        recorder.close()
    report(
        "scoring drop -> predictions + drift",
        statistics.median(to_predictions),
        "its transform jobs alone",
        statistics.median(transform),
    )
    report(
        "drift report -> retraining decided",
        statistics.median(to_retraining),
        "DriftDetected -> an SQS queue",
        statistics.median(to_queue),
        "ms",
    )
    report(
        "labels drop -> model quality recorded",
        statistics.median(to_quality),
        "the plain ingest of the same file",
        statistics.median(to_labels_version),
    )
    record(
        {
            "scoring_vs_transform_jobs": figure(
                statistics.median(to_predictions), statistics.median(transform)
            ),
            "drift_to_retraining_vs_queue": figure(
                statistics.median(to_retraining), statistics.median(to_queue)
            ),
            "labels_to_quality_vs_ingest": figure(
                statistics.median(to_quality), statistics.median(to_labels_version)
            ),
        }
    )


def labels_to_quality(
    target: Target, batch: Any, scored: dict[str, Any], folder: Path, run: int
) -> tuple[float, float]:
    """Drop outcomes for every row of a scored batch; (seconds until the model's quality
    on it is recorded, seconds until the labels file's own version is recorded)."""
    import pyarrow as pa  # noqa: PLC0415

    ids = batch.column("transaction_id")
    outcomes = pa.table({"transaction_id": ids, "is_fraud": [i % 7 == 0 for i in range(len(ids))]})
    outcomes = outcomes.set_column(1, "is_fraud", outcomes.column(1).cast(pa.int64()))
    path = write_table(outcomes, folder / f"labels-{run}.csv")
    bucket = target.outputs(names.PIPELINE_STACK)[names.PREDICTIONS_BUCKET_OUTPUT]
    s3 = target.client("s3")
    started = time.perf_counter()
    _, key, _ = drop_file(target, path, "scoring-labels", "labels")
    wait_for_version(target, key)
    versioned = time.perf_counter() - started
    quality_prefix = f"quality/scoring/{scored['version']}/"

    def recorded() -> bool | None:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=quality_prefix)
        return True if listed.get("KeyCount", 0) else None

    wait_until(recorded, 180, f"the measured quality of batch {scored['version']}", 0.2)
    return time.perf_counter() - started, versioned


def drift_document(target: Target, run: dict[str, Any]) -> dict[str, Any]:
    bucket, _, key = str(run["drift_report_uri"]).removeprefix("s3://").partition("/")
    body = target.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    document: dict[str, Any] = json.loads(body)
    return document


if __name__ == "__main__":
    main()
