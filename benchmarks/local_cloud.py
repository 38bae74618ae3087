"""Local cloud benchmarks: cold start, deploy time, upload-to-result latency.

Each figure is printed next to a peer measured in the same run, as a ratio, because
absolute times on shared machines say little:

- cold start of the local cloud (all services, driftline's plugin) vs LocalStack's
  core with S3 alone;
- ``cdk deploy`` of the app into a fresh local cloud vs ``cdk synth`` of the same app;
- a file dropped in the raw bucket until its dataset version is recorded (read,
  validated, written, lineage, event), vs the upload alone;
- a training file dropped until its model is in the registry (ingest, rule, state
  machine, SageMaker training, evaluation, registration), vs the training job alone.

Run with ``make bench``; ``BENCH_RUNS`` sets the number of repetitions (default 5).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from driftline import deploy
from driftline.actions import drop_file, wait_for_model, wait_for_version
from driftline.cli import SAMPLE
from driftline.localcloud import LocalCloud
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
    cloud = LocalCloud()
    cloud.install()
    if cloud.is_running():
        raise SystemExit("Stop the running local cloud first (driftline local down).")
    print(f"driftline local cloud benchmarks, median of {RUNS} runs\n")
    try:
        peer_start = cold_start(LocalCloud(services="s3"))
        ours_start = cold_start(cloud)
        report("local cloud cold start", ours_start, "LocalStack core, S3 only", peer_start)

        synth = timed(lambda: deploy.run_cdk(["synth", "--quiet"], None))
        deploy.bootstrap_local(cloud)
        deploy_time = timed(lambda: deploy.deploy(cloud))
        report("cdk deploy (fresh local cloud)", deploy_time, "cdk synth", synth)

        target = Target("local")
        # The peer uploads where no notification fires, so it triggers no work.
        quiet_bucket = target.outputs("data")["CuratedBucketName"]
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
    finally:
        cloud.stop()


if __name__ == "__main__":
    main()
