"""Local cloud benchmarks: cold start, deploy time, upload-to-result latency.

Each figure is printed next to a peer measured in the same run, as a ratio, because
absolute times on shared machines say little:

- cold start of the local cloud (all services, driftline's plugin) vs LocalStack's
  core with S3 alone;
- ``cdk deploy`` of the app into a fresh local cloud vs ``cdk synth`` of the same app;
- a file dropped in the raw bucket until the ingest function's receipt exists, vs a
  synchronous Invoke of the same function with the same S3 event.

Run with ``make bench``; ``BENCH_RUNS`` sets the number of repetitions (default 5).
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from driftline import deploy
from driftline.cli import drop_file, wait_for_receipt
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
        outputs = target.outputs("data")
        with tempfile.TemporaryDirectory() as folder:
            sample = Path(folder) / "bench.csv"
            sample.write_text("id,value\n1,2\n")
            warm = drop_file(target, sample, "bench", None)
            wait_for_receipt(target, warm[1], warm[2])  # the first one pays the cold start

            def drop_to_receipt() -> float:
                started = time.perf_counter()
                _, key, version = drop_file(target, sample, "bench", None)
                wait_for_receipt(target, key, version)
                return time.perf_counter() - started

            latency = median_of(RUNS, drop_to_receipt)

        lambda_client = target.client("lambda")
        event = {
            "Records": [
                {
                    "eventTime": "2026-11-01T00:00:00.000Z",
                    "s3": {
                        "bucket": {"name": outputs["RawBucketName"]},
                        "object": {"key": warm[1], "size": 1, "versionId": warm[2]},
                    },
                }
            ]
        }
        payload = json.dumps(event).encode()
        invoke = median_of(
            RUNS,
            lambda: timed(
                lambda: lambda_client.invoke(
                    FunctionName=outputs["IngestFunctionName"], Payload=payload
                )
            ),
        )
        report("upload -> ingest result", latency, "direct Invoke, same event", invoke, "ms")
    finally:
        cloud.stop()


if __name__ == "__main__":
    main()
