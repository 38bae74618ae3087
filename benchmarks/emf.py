"""EMF extraction benchmark: what reading a function's log for metrics adds on the local
cloud, against what writing the same log to CloudWatch Logs already does with it.

The peer is the log writer's own work per invocation log (split into lines, one
CloudWatch Logs event per line), measured in the same run. Two logs of an ingest
invocation (START, Powertools' JSON log lines, END, REPORT):

- without EMF lines: what the invocation's thread pays, a scan for ``"_aws"`` before
  anything is queued (``emf_scan_vs_log_events``, goal well under 1);
- with two EMF documents (``emf_extract_vs_log_events``: parsing and shaping them, which
  a worker thread does off the invocation's path).

Timings are the best of ``BENCH_RUNS`` (default 5) timeit repeats. Recorded in
``build/bench.json``. Run with ``.venv/bin/python -m benchmarks.emf``.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import timeit
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from driftline_runtime import names

from benchmarks.results import figure, record

RUNS = int(os.environ.get("BENCH_RUNS", "5"))
LOOPS = 2000
ROOT = Path(__file__).resolve().parent.parent


def local_module(name: str) -> ModuleType:
    sys.path.insert(0, str(ROOT / "local"))
    try:
        return importlib.import_module(f"driftline_localcloud.{name}")
    finally:
        sys.path.remove(str(ROOT / "local"))


def invocation_log(emf_lines: int) -> str:
    request = "8f0c7d52-7f1e-4b8e-9a55-0c1f7b8f2d11"
    lines = [f"START RequestId: {request} Version: $LATEST"]
    for index in range(16):
        lines.append(
            json.dumps(
                {
                    "level": "INFO",
                    "location": "handle:88",
                    "message": f"step {index} of the ingestion",
                    "timestamp": "2026-11-29 21:00:00,000+0000",
                    "service": "ingest",
                    "correlation_id": "transactions/2026/11/29/file.csv",
                    "function_request_id": request,
                }
            )
        )
    for _ in range(emf_lines):
        lines.append(
            json.dumps(
                {
                    "_aws": {
                        "Timestamp": 1_764_450_000_000,
                        "CloudWatchMetrics": [
                            {
                                "Namespace": names.METRICS_NAMESPACE,
                                "Dimensions": [["service", "stage", "dataset"]],
                                "Metrics": [
                                    {"Name": names.FILES_INGESTED_METRIC, "Unit": "Count"},
                                    {"Name": names.ROWS_INGESTED_METRIC, "Unit": "Count"},
                                ],
                            }
                        ],
                    },
                    "service": "ingest",
                    "stage": "dev",
                    "dataset": "transactions",
                    names.FILES_INGESTED_METRIC: [1.0],
                    names.ROWS_INGESTED_METRIC: [25000.0],
                    "version": "v-0123456789abcdef",
                }
            )
        )
    lines += [f"END RequestId: {request}", f"REPORT RequestId: {request} Duration: 812.4 ms"]
    return "\n".join(lines) + "\n"


def log_events(text: str) -> list[dict[str, Any]]:
    """What the log writer builds from an invocation's log."""
    return [{"timestamp": 0, "message": line + "\n"} for line in text.split("\n") if line]


def best(work: Callable[[], object]) -> float:
    return min(timeit.repeat(work, number=LOOPS, repeat=RUNS)) / LOOPS


def main() -> None:
    emf, lambda_metrics = local_module("emf"), local_module("lambda_metrics")
    publisher = lambda_metrics.EmfPublisher(lambda *args: None)
    plain, with_metrics = invocation_log(0), invocation_log(2)
    if emf.extract_lines(plain) or len(emf.extract_lines(with_metrics).by_namespace) != 1:
        raise SystemExit("the benchmark's logs do not hold what they should")
    peer_plain = best(lambda: log_events(plain))
    scan = best(lambda: publisher.submit("000000000000", "us-east-1", plain))
    peer_metrics = best(lambda: log_events(with_metrics))
    extract = best(lambda: emf.extract_lines(with_metrics))
    figures = {
        "emf_scan_vs_log_events": figure(scan, peer_plain),
        "emf_extract_vs_log_events": figure(extract, peer_metrics),
    }
    for name, entry in figures.items():
        print(
            f"{name}: {entry['value'] * 1e6:.1f} us vs {entry['peer'] * 1e6:.1f} us "
            f"(ratio {entry['ratio']:.2f})"
        )
    print(f"recorded in {record(figures)}")


if __name__ == "__main__":
    main()
