"""Cold-start import time of the ingest function, against a function that imports boto3 only.

Each run is a fresh interpreter with the function's import path as Lambda builds it
(code, then the layers, then the runtime's boto3), from the very folders synth ships:
the compiled copies with their bytecode (``infra.packaging.compiled_copy``) and the
contracts layer with its manifest, so the figure is what a cold start pays before the
handler runs. The peer is the floor every Python function pays: an interpreter that
imports boto3. Median of ``BENCH_RUNS`` runs, the two measured alternately so that load
from elsewhere on a shared machine weighs on both. Recorded in ``build/bench.json`` as
``ingest_cold_start_vs_boto3``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from benchmarks.results import figure, record
from infra.contracts_layer import build_layer
from infra.packaging import ROOT, build_dependency_layer, compiled_copy
from infra.platforms import current_host, host_platform

RUNS = int(os.environ.get("BENCH_RUNS", "5"))
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six.py")
ENVIRONMENT = {
    "CURATED_BUCKET": "curated",
    "QUARANTINE_BUCKET": "quarantine",
    "LINEAGE_TABLE": "lineage",
    "IDEMPOTENCY_TABLE": "idempotency",
    "EVENT_BUS_NAME": "bus",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": "ingest",
    "DRIFTLINE_STAGE": "bench",
    # What Lambda's Python runtime sets in every function's environment, for both
    # contenders. The X-Ray SDK reads it at import: outside Lambda it builds a sampling
    # client (about 130 ms) that a function never builds, so without it the figure
    # would be an import no cold start pays.
    "LAMBDA_TASK_ROOT": "/var/task",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    "AWS_LAMBDA_FUNCTION_NAME": "driftline-bench-ingest",
    "PATH": os.environ.get("PATH", "/usr/bin"),
}


def import_time(paths: list[str], statement: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-I", "-S", "-c", f"import sys; sys.path[:0] = {paths!r}; {statement}"],
        env=ENVIRONMENT,
        check=True,
    )
    return time.perf_counter() - started


def main() -> None:
    # Imported here, by this host's Python: the layer as the local target builds it.
    dependencies = build_dependency_layer(
        ROOT / "layers" / "dependencies" / "requirements.txt", host_platform(current_host())
    )
    with tempfile.TemporaryDirectory() as folder:
        runtime = Path(folder)
        site = Path(sysconfig.get_paths()["purelib"])
        for name in RUNTIME_PACKAGES:
            (runtime / name).symlink_to(site / name)
        function_paths = [
            str(compiled_copy(ROOT / "functions" / "ingest", "function-ingest")),
            str(compiled_copy(build_layer().path, "contracts") / "python"),
            str(compiled_copy(ROOT / "layers" / "runtime", "runtime") / "python"),
            str(dependencies / "python"),
            str(runtime),
        ]
        import_time(function_paths, "import handler")  # the page cache warmed for both
        handlers, floors = [], []
        for _ in range(RUNS):
            handlers.append(import_time(function_paths, "import handler"))
            floors.append(import_time([str(runtime)], "import boto3"))
    ingest, floor = statistics.median(handlers), statistics.median(floors)
    print(
        f"ingest handler cold-start import      {ingest * 1000:8.0f} ms   "
        f"boto3-only function {floor * 1000:8.0f} ms   ratio {ingest / floor:5.2f}x (goal 2)"
    )
    record({"ingest_cold_start_vs_boto3": figure(ingest, floor)})


if __name__ == "__main__":
    main()
