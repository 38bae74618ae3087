"""Streaming benchmark: a file far larger than the validator's memory, validated end to end.

A CSV of ``BENCH_STREAM_GB`` GiB (default 5) of the transactions contract is generated
once under ``.cache/bench/`` (the validator benchmark's rows, repeated with fresh
transaction ids so the unique key holds over the whole file) and judged the way the
ingest function and the Processing job judge a spooled object: ``check_source`` on the
file, batch by batch, the accepted rows written to curated Parquet, the unique key's
index spilling to the working folder past its budget. Its peer is a bare streaming
read of the same file (``pyarrow.csv.open_csv``, batches counted and dropped): the floor
of any streaming validator.

Each runs in its own process, so its peak memory (VmHWM) is its own. Recorded in
``build/bench.json``:

- ``streaming_peak_rss_mib``: the validator's peak resident memory, against the goal of
  1,024 MiB (the bare read's own peak is printed beside it);
- ``streaming_vs_bare_stream``: the validator's throughput / the bare read's (goal 0.6).

``BENCH_STREAM_MEMORY_MIB`` sets the validation's memory setting (default 256, the
ingest function's). Run with ``.venv/bin/python -m benchmarks.streaming``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.csv as pa_csv

from benchmarks.results import figure, record
from benchmarks.validator import CACHE, NOW, SEED, fixed_codes, transactions

GIB = 1024**3
MIB = 1024**2
SIZE_GIB = float(os.environ.get("BENCH_STREAM_GB", "5"))
MEMORY_MIB = int(os.environ.get("BENCH_STREAM_MEMORY_MIB", "256"))
ROWS_PER_PIECE = 500_000
PEAK_GOAL_MIB = 1024.0
ROOT = Path(__file__).resolve().parent.parent


def large_file(size_gib: float) -> Path:
    """The cached CSV of about ``size_gib`` GiB (same seed and size, same bytes)."""
    path = CACHE / f"transactions-stream-{size_gib:g}gib-{SEED}.csv"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    piece = transactions(ROWS_PER_PIECE)
    options = pa_csv.WriteOptions(quoting_style="none", include_header=False)
    target, written, number = size_gib * GIB, 0, 0
    with partial.open("wb") as sink:
        sink.write(",".join(piece.column_names).encode() + b"\n")
        while written < target:
            # Fresh ids per piece: the key stays unique over the whole file.
            ids = np.arange(number * ROWS_PER_PIECE, (number + 1) * ROWS_PER_PIECE)
            unique = piece.set_column(0, "transaction_id", fixed_codes("t-", ids, 12, 16))
            pa_csv.write_csv(unique, sink, write_options=options)
            written = sink.tell()
            number += 1
    partial.replace(path)
    return path


def bare_stream(path: Path) -> dict[str, Any]:
    started = time.perf_counter()
    rows = 0
    with pa_csv.open_csv(path) as reader:
        for batch in reader:
            rows += batch.num_rows
    return {"seconds": time.perf_counter() - started, "rows": rows, "outcome": ""}


def driftline(path: Path) -> dict[str, Any]:
    from driftline_contracts.transactions import DATASETS
    from driftline_runtime.check_limits import CheckLimits
    from driftline_runtime.checking import check_source
    from driftline_runtime.readers import FileSource

    spec = next(spec for spec in DATASETS if spec.name == "transactions")
    limits = CheckLimits(memory_bytes=MEMORY_MIB * MIB)
    with tempfile.TemporaryDirectory(dir=CACHE, prefix="stream-") as folder:
        started = time.perf_counter()
        verdict = check_source(FileSource(path), path.name, spec, NOW, Path(folder), limits)
        seconds = time.perf_counter() - started
        curated = verdict.curated.stat().st_size if verdict.curated else 0
    return {
        "seconds": seconds,
        "rows": verdict.rows,
        "outcome": verdict.outcome,
        "curated_mib": curated / MIB,
        "reasons": [reason.code for reason in verdict.reasons],
    }


CONTENDERS = {"bare": bare_stream, "driftline": driftline}


def child(name: str, path: Path) -> None:
    result = CONTENDERS[name](path)
    status = Path("/proc/self/status").read_text()
    peak_kib = next(int(line.split()[1]) for line in status.splitlines() if "VmHWM" in line)
    print(json.dumps({**result, "peak_mib": peak_kib / 1024}))


def measure(name: str, path: Path) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.streaming", "--child", name, str(path)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if completed.returncode != 0:
        raise SystemExit(f"{name} failed:\n{completed.stderr}")
    measured: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return measured


def main() -> None:
    path = large_file(SIZE_GIB)
    size_mib = path.stat().st_size / MIB
    print(f"streaming benchmark: {size_mib:,.0f} MiB of CSV, validation memory {MEMORY_MIB} MiB")
    bare = measure("bare", path)
    ours = measure("driftline", path)
    if ours["outcome"] != "accepted" or ours["rows"] != bare["rows"]:
        raise SystemExit(f"the generated file should be accepted whole: {ours} vs {bare}")
    throughput = size_mib / ours["seconds"]
    floor = size_mib / bare["seconds"]
    print(
        f"bare pyarrow streaming read      {bare['seconds']:7.1f} s  {floor:6.1f} MiB/s  "
        f"peak {bare['peak_mib']:5.0f} MiB  {bare['rows']:,} rows"
    )
    print(
        f"driftline check_source           {ours['seconds']:7.1f} s  {throughput:6.1f} MiB/s  "
        f"peak {ours['peak_mib']:5.0f} MiB  {ours['rows']:,} rows {ours['outcome']}, "
        f"{ours['curated_mib']:,.0f} MiB of curated Parquet"
    )
    print(
        f"streaming: peak {ours['peak_mib']:.0f} MiB (goal {PEAK_GOAL_MIB:.0f}), "
        f"throughput {throughput / floor:.2f}x the bare streaming read (goal 0.6)"
    )
    record(
        {
            "streaming_peak_rss_mib": figure(ours["peak_mib"], PEAK_GOAL_MIB),
            "streaming_vs_bare_stream": figure(throughput, floor),
        }
    )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], Path(sys.argv[3]))
    else:
        main()
