"""Validator benchmark: driftline's reader and validator against its two natural peers.

On one ~1,000,000-row CSV of labelled card transactions (the real contract, 21 columns),
generated deterministically and cached under ``.cache/bench/``, it measures:

- a bare ``pyarrow.csv.read_csv`` with type inference: the floor, since any validator
  must at least read the file;
- driftline's ``read_table`` + ``validate``;
- pandera (``pandas.read_csv`` + a ``DataFrameSchema`` with the same rules: types,
  ranges, enums, patterns, nullability and the unique key), the usual Python choice.

Each contender runs in its own subprocess, so its peak memory (the child's high-water
mark, VmHWM) is its own and no contender warms a cache for another. Timings are the best
of ``BENCH_RUNS`` runs (default 5) in that subprocess, as timeit reports them: load from
elsewhere on a shared machine only adds time; the median is printed too. ``BENCH_ROWS``
sets the row count.

Recorded in ``build/bench.json``: ``validator_vs_pyarrow_read`` (driftline's read and
checks / the bare read, goal 1.25 or less) and ``validator_checks_vs_pandera`` (pandera's
checks / driftline's on the same rules, goal 8 or more).

Run with ``.venv/bin/python -m benchmarks.validator``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from benchmarks.results import figure, record

ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
SEED = 20261127
CACHE = Path(__file__).resolve().parent.parent / ".cache" / "bench"
# A fixed clock, so the generated file and the freshness check never depend on the day.
NOW = datetime(2026, 11, 27, tzinfo=UTC)


def allowed_values() -> dict[str, list[str]]:
    """The enums of the transactions contract, so the data follows the contract's edits."""
    from driftline_contracts.transactions import LabelledTransaction
    from driftline_runtime.validation import compile_contract

    columns = compile_contract(LabelledTransaction)
    return {column.name: list(column.allowed) for column in columns if column.allowed}


# --- the data --------------------------------------------------------------------------


def fixed_codes(prefix: str, values: np.ndarray[Any, Any], width: int, base: int) -> pa.Array:
    """``prefix`` + each value as ``width`` digits in ``base``, built without Python loops.

    Formatting a million identifiers one f-string at a time takes seconds; laying the
    digit bytes out in a matrix and handing Arrow the buffer takes milliseconds.
    """
    count = len(values)
    digits = np.empty((count, width), dtype=np.uint8)
    rest = values.astype(np.uint64)
    for position in range(width - 1, -1, -1):
        digits[:, position] = (rest % np.uint64(base)).astype(np.uint8)
        rest //= np.uint64(base)
    text = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)[digits]
    head = np.broadcast_to(np.frombuffer(prefix.encode(), dtype=np.uint8), (count, len(prefix)))
    raw = np.ascontiguousarray(np.hstack([head, text]))
    size = width + len(prefix)
    offsets = np.arange(0, (count + 1) * size, size, dtype=np.int32)
    return pa.StringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(raw))


def pick(rng: np.random.Generator, choices: list[str], count: int) -> pa.Array:
    indices = pa.array(rng.integers(0, len(choices), count, dtype=np.int32))
    return pa.DictionaryArray.from_arrays(indices, pa.array(choices)).cast(pa.string())


def with_nulls(rng: np.random.Generator, values: pa.Array, share: float) -> pa.Array:
    missing = pa.array(rng.random(len(values)) < share)
    return pc.if_else(missing, pa.nulls(len(values), values.type), values)


def transactions(rows: int) -> pa.Table:
    """Rows that satisfy ``LabelledTransaction``, with realistic shapes and some nulls."""
    rng = np.random.default_rng(SEED)
    enums = allowed_values()
    # An odd multiplier modulo 2**48 is a bijection: unique ids that look random.
    ids = (np.arange(rows, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7) + np.uint64(12345)) % (
        np.uint64(1) << np.uint64(48)
    )
    start = np.datetime64("2026-08-01T00:00:00", "s")
    seconds = rng.integers(0, 90 * 86_400, rows)
    event_time = start + seconds.astype("timedelta64[s]")
    emails = pc.binary_join_element_wise(
        fixed_codes("user", rng.integers(0, 200_000, rows), 6, 10), "example.com", "@"
    )
    amount = np.round(np.clip(rng.lognormal(3.5, 1.2, rows), 0.01, 50_000), 2)
    average = np.round(np.clip(amount * rng.uniform(0.5, 1.5, rows), 0.01, 50_000), 2)
    columns: dict[str, Any] = {
        "transaction_id": fixed_codes("t-", ids, 12, 16),
        "event_time": pa.array(np.char.add(np.datetime_as_string(event_time, unit="s"), "Z")),
        "card_id": fixed_codes("c-", rng.integers(0, 1_000_000, rows), 6, 10),
        "customer_email": with_nulls(rng, emails, 0.2),
        "customer_age": rng.integers(18, 90, rows),
        "customer_tenure_days": rng.integers(0, 5_000, rows),
        "amount": amount,
        "currency": pick(rng, enums["currency"], rows),
        "merchant_id": fixed_codes("m-", rng.integers(0, 100_000, rows), 5, 10),
        "merchant_category": pick(rng, enums["merchant_category"], rows),
        "country": pick(rng, enums["country"], rows),
        "channel": pick(rng, enums["channel"], rows),
        "card_present": rng.random(rows) < 0.6,
        "hour_of_day": (seconds // 3600 % 24).astype(np.int64),
        "distance_from_home_km": np.round(np.clip(rng.exponential(30, rows), 0, 20_000), 3),
        "transactions_last_24h": rng.poisson(3, rows),
        "amount_avg_30d": average,
        "amount_ratio_to_avg": np.round(amount / average, 4),
        "failed_logins_24h": rng.poisson(0.2, rows),
        "device_trust_score": with_nulls(rng, pa.array(np.round(rng.random(rows), 4)), 0.1),
        "is_fraud": (rng.random(rows) < 0.02).astype(np.int64),
    }
    return pa.table(columns)


Quoting = Literal["plain", "quoted"]


def dataset_file(rows: int, quoting: Quoting) -> Path:
    """The cached CSV for ``rows`` rows, written once (same seed, same bytes).

    ``plain`` quotes nothing, as pandas, Spark and the project's samples write CSV;
    ``quoted`` quotes every text value, as Arrow's writer does. A quote makes the reader
    allow for newlines inside values, which costs it a serial pass.
    """
    path = CACHE / f"transactions-{rows}-{SEED}-{quoting}.csv"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        style = "none" if quoting == "plain" else "needed"
        options = pa_csv.WriteOptions(quoting_style=style, include_header=False)
        table = transactions(rows)
        with partial.open("wb") as sink:
            # Arrow quotes the header whatever the style; write it plain, as pandas does.
            sink.write(",".join(table.column_names).encode() + b"\n")
            pa_csv.write_csv(table, sink, write_options=options)
        partial.replace(path)
    return path


# --- the contenders, each run in a child process ---------------------------------------


# Each contender is set up first (imports, the contract compiled, the schema built), off
# the clock: a warm Lambda pays those once. The action returns the seconds it spent
# reading and checking, so that validation alone can be compared too.
Action = Callable[[Path], dict[str, Any]]


def bare_pyarrow() -> Action:
    def action(path: Path) -> dict[str, Any]:
        started = time.perf_counter()
        table = pa_csv.read_csv(path)
        return {"read": time.perf_counter() - started, "check": 0.0, "rows": table.num_rows}

    return action


def driftline() -> Action:
    from driftline_contracts.transactions import DATASETS
    from driftline_runtime.readers import read_table
    from driftline_runtime.validation import compile_contract, validate

    spec = next(spec for spec in DATASETS if spec.name == "transactions")
    compile_contract(spec.contract)

    def action(path: Path) -> dict[str, Any]:
        started = time.perf_counter()
        # read_table takes bytes, as the ingest function has them from S3.
        table = read_table(path.read_bytes(), path.name, spec)
        read = time.perf_counter()
        report = validate(table, spec, NOW).report
        checked = time.perf_counter()
        return {
            "read": read - started,
            "check": checked - read,
            "rows": report.valid_rows,
            "outcome": report.outcome,
        }

    return action


def pandera_schema() -> Any:
    """The transactions contract's rules as a pandera schema, read off the same contract.

    Types (coerced, as driftline parses text into types), nullability, enums, ranges,
    patterns, finiteness of floats and the unique key: the checks driftline runs.
    """
    import pandas as pd
    import pandera.pandas as pandera
    from driftline_contracts.transactions import DATASETS
    from driftline_runtime.validation import compile_contract

    spec = next(spec for spec in DATASETS if spec.name == "transactions")
    dtypes = {
        "str": "str",
        "int": "int64",
        "float": "float64",
        "bool": "bool",
        "datetime": pd.DatetimeTZDtype("us", "UTC"),
    }
    builders = {
        "ge": lambda value: pandera.Check.ge(value),
        "gt": lambda value: pandera.Check.gt(value),
        "le": lambda value: pandera.Check.le(value),
        "lt": lambda value: pandera.Check.lt(value),
        "min_length": lambda value: pandera.Check.str_length(min_value=value),
        "max_length": lambda value: pandera.Check.str_length(max_value=value),
        "pattern": lambda value: pandera.Check.str_matches(value),
    }
    columns = {}
    for column in compile_contract(spec.contract):
        checks = [builders[constraint.check](constraint.value) for constraint in column.constraints]
        if column.allowed:
            checks.append(pandera.Check.isin(list(column.allowed)))
        if column.kind == "float":
            checks.append(pandera.Check(np.isfinite, name="finite"))
        columns[column.name] = pandera.Column(
            dtypes[column.kind],
            checks=checks,
            nullable=column.nullable,
            unique=column.name in spec.rules.unique_key,
        )
    return pandera.DataFrameSchema(columns, coerce=True)


def pandera_pandas() -> Action:
    import pandas as pd

    schema = pandera_schema()

    def action(path: Path) -> dict[str, Any]:
        started = time.perf_counter()
        frame = pd.read_csv(path)
        read = time.perf_counter()
        # lazy: collect every failure, as driftline's report does, not stop at the first.
        validated = schema.validate(frame, lazy=True)
        checked = time.perf_counter()
        return {
            "read": read - started,
            "check": checked - read,
            "rows": len(validated),
            "outcome": "accepted",
        }

    return action


CONTENDERS: dict[str, Callable[[], Action]] = {
    "pyarrow": bare_pyarrow,
    "driftline": driftline,
    "pandera": pandera_pandas,
}


def child(name: str, path: Path, runs: int) -> None:
    """Run one contender ``runs`` times; print its best run and peak memory as JSON."""
    action = CONTENDERS[name]()
    results = [action(path) for _ in range(runs)]
    status = Path("/proc/self/status").read_text()
    peak_kib = next(
        int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM")
    )
    # The best run, as timeit reports: other load on a shared machine only ever adds
    # time, and the first run pays for page faults the others do not.
    best = min(results, key=lambda result: result["read"] + result["check"])
    summary = {
        "total": best["read"] + best["check"],
        "median": statistics.median(r["read"] + r["check"] for r in results),
        "read": best["read"],
        "check": best["check"],
        "peak_mib": peak_kib / 1024,
        "rows": best["rows"],
        "outcome": best.get("outcome", ""),
    }
    print(json.dumps(summary))


def measure(name: str, path: Path, runs: int) -> dict[str, Any]:
    """One contender in a fresh process: its peak memory is its own."""
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.validator", "--child", name, str(path), str(runs)],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )
    if completed.returncode != 0:
        raise SystemExit(f"{name} failed:\n{completed.stderr}")
    measured: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return measured


def line(label: str, measured: dict[str, Any]) -> None:
    print(
        f"{label:<44} {measured['total']:5.2f} s (read {measured['read']:4.2f} + check "
        f"{measured['check']:4.2f}; median {measured['median']:4.2f})  "
        f"peak {measured['peak_mib']:4.0f} MiB  {measured['rows']:,} rows {measured['outcome']}"
    )


def main() -> None:
    started = time.perf_counter()
    plain, quoted = dataset_file(ROWS, "plain"), dataset_file(ROWS, "quoted")
    size = plain.stat().st_size / 2**20
    print(f"validator benchmark: {ROWS:,} rows x 21 columns, {size:.0f} MiB of CSV")
    print(f"best of {RUNS} runs, each contender in its own process, {os.cpu_count()} CPUs\n")
    floor = measure("pyarrow", plain, RUNS)
    ours = measure("driftline", plain, RUNS)
    peer = measure("pandera", plain, RUNS)
    line("bare pyarrow.csv.read_csv (type inference)", floor)
    line("driftline read_table + validate", ours)
    line("pandas.read_csv + pandera validate (lazy)", peer)
    print("\nthe same data with every text value quoted (Arrow's writer):")
    quoted_floor = measure("pyarrow", quoted, RUNS)
    quoted_ours = measure("driftline", quoted, RUNS)
    line("bare pyarrow.csv.read_csv (type inference)", quoted_floor)
    line("driftline read_table + validate", quoted_ours)
    print(
        f"\nvalidation alone: driftline {ours['check']:.2f} s, pandera {peer['check']:.2f} s "
        f"({peer['check'] / ours['check']:.1f}x)"
    )
    print(f"peak memory: driftline {ours['peak_mib']:.0f} MiB, pandera {peer['peak_mib']:.0f} MiB")
    print(
        f"quoted file: driftline {quoted_ours['total'] / quoted_floor['total']:.1f}x "
        "the bare pyarrow read"
    )
    print(f"(the benchmark took {time.perf_counter() - started:.0f} s)")
    print(
        f"validator: {peer['total'] / ours['total']:.1f}x faster than pandera, "
        f"{ours['total'] / floor['total']:.2f}x the bare pyarrow read (goal 1.25); checks "
        f"alone {peer['check'] / ours['check']:.1f}x faster than pandera's (goal 8)"
    )
    record(
        {
            "validator_vs_pyarrow_read": figure(ours["total"], floor["total"]),
            "validator_checks_vs_pandera": figure(peer["check"], ours["check"]),
        }
    )


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]))
    else:
        main()
