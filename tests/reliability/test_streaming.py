"""A file many times the validator's batch bound, validated by the deployed function.

The ingest function reads a file batch by batch, each batch about
``ReaderLimits.within(VALIDATION_MEMORY_BYTES).batch_bytes`` of text. A file twenty times
that bound must still become one validated version with every row, while the function's
peak memory (its REPORT line's "Max Memory Used") grows by no more than the validation
memory setting over what a small file costs the same function: the runtime and its
libraries are the fixed overhead, measured in the same run.

Batch inference is paused while the batch is in (its rule disabled), as in the load
test: millions of rows would start thousands of transform jobs.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pyarrow.csv as pa_csv
from driftline_runtime.check_limits import CheckLimits

from benchmarks.validator import fixed_codes, transactions
from tests.e2e.conftest import wait_for
from tests.reliability.conftest import Figures, Pipeline, now_ms
from tests.reliability.corpus import SAMPLE
from tests.reliability.test_load import scoring_paused

BATCHES = 20
ROWS_PER_PIECE = 250_000


def scoring_file(path: Path, at_least: int, salt: int) -> int:
    """A valid ``scoring`` CSV of at least ``at_least`` bytes at ``path``; its row count.

    Transaction ids are unique across the file and carry ``salt``, so the content (and
    the dataset version named after it) is new on every run.
    """
    piece = transactions(ROWS_PER_PIECE).drop_columns(["is_fraud"])
    options = pa_csv.WriteOptions(quoting_style="none", include_header=False)
    rows = 0
    with path.open("wb") as sink:
        sink.write(",".join(piece.column_names).encode() + b"\n")
        while sink.tell() < at_least:
            ids = np.arange(rows, rows + ROWS_PER_PIECE) + salt * 10**10
            fresh = piece.set_column(0, "transaction_id", fixed_codes("t-", ids, 12, 16))
            pa_csv.write_csv(fresh, sink, write_options=options)
            rows += ROWS_PER_PIECE
    return rows


def test_a_file_twenty_times_the_batch_bound_is_validated_in_bounded_memory(
    pipeline: Pipeline, figures: Figures, tmp_path: Path
) -> None:
    # The deployment as it is now: the restart test redeploys, and buckets get new names
    pipeline = Pipeline(pipeline.target, pipeline.target.outputs("data"), pipeline.cloud)
    # Given the deployed function's validation memory and the batch bound it implies
    variables = pipeline.target.client("lambda").get_function_configuration(
        FunctionName=pipeline.function
    )["Environment"]["Variables"]
    memory = int(variables["VALIDATION_MEMORY_BYTES"])
    batch = CheckLimits(memory_bytes=memory).reader().batch_bytes
    # And a scoring file of twenty batches, and the small sample as the baseline
    big = tmp_path / "large.csv"
    salt = int(pipeline.salt(), 16)
    rows = scoring_file(big, BATCHES * batch, salt)
    size = big.stat().st_size
    small_key = f"scoring/streaming/baseline-{salt:04x}.csv"
    big_key = f"scoring/streaming/large-{salt:04x}.csv"
    sample = SAMPLE.read_text().splitlines()
    small = "\n".join([sample[0]] + [f"t-{salt:04x}{line[6:]}" for line in sample[1:]]) + "\n"

    with scoring_paused(pipeline.target):
        # When both are dropped
        since = now_ms()
        started = time.monotonic()
        pipeline.drop(small_key, small.encode())
        pipeline.s3.upload_file(str(big), pipeline.raw, big_key)
        records = pipeline.wait_for_records({small_key, big_key}, timeout=1200)
        elapsed = time.monotonic() - started

    # Then the large file is one validated version holding every row
    (record,) = records[big_key]
    assert record["state"] == "validated", record.get("reasons")
    assert int(record["rows"]) == rows
    assert int(record["valid_rows"]) == rows
    (baseline,) = records[small_key]
    assert baseline["state"] == "validated"

    # And its invocation's peak memory is the small file's plus at most the setting (the
    # REPORT lines reach the log group after the lineage record: waited for, bounded)
    def measured() -> tuple[int, int] | None:
        invocations = pipeline.invocations(since)
        peaks = [
            max((run.max_memory_mb or 0 for run in invocations.get(key, [])), default=0)
            for key in (big_key, small_key)
        ]
        return (peaks[0], peaks[1]) if all(peaks) else None

    peak, floor = wait_for(measured, 120, "the two invocations' REPORT lines", interval=1)
    bound_mb = memory // 2**20
    assert peak <= floor + bound_mb, (peak, floor, bound_mb)

    figures.add(
        "Streaming",
        "large file",
        f"{size / 2**20:.0f} MiB, {rows:,} rows ({size / batch:.0f} batches of "
        f"{batch / 2**20:.0f} MiB)",
    )
    figures.add("Streaming", "drop -> validated version", f"{elapsed:.0f} s")
    figures.add(
        "Streaming",
        "ingest Max Memory Used",
        f"{peak} MB (small file: {floor} MB; validation memory setting {bound_mb} MiB)",
    )
