"""Drift benchmark: how often the verdict is wrong, how often it is right, how fast it is.

For every inference dataset whose model dataset has a sample generator (see
``benchmarks/drift_data.py``: a model trained as the pipeline trains it on a random
sample of a large clean population), with the inference dataset's drift settings:

- ``drift_false_alarm_rate``: the share of clean batches (random rows of the rest of
  the population) the verdict calls drifted, at 100, 300, 1,000 and 10,000 rows. Peer:
  the dataset's configured false-alarm rate, the goal at every size.
- ``drift_power``: the share of drifted batches (random rows of a population drawn at
  ``--drift`` 0.3 and 1.0) called drifted, at the same sizes. Goal: 1.0 at 1,000 rows
  and more for drift 1.0.
- ``drift_generated_files_flagged``: the share of clean files the generator writes in
  one call (500 and 3,000 rows, rows clustered by customer) called drifted: no goal, it
  shows the limit of tests that take rows as independent draws.
- ``drift_report_vs_nannyml``: one drift report (fit: the baseline's profiles from the
  training rows; calculate: the verdict on a 10,000-row batch), against NannyML's
  univariate drift calculator (fit + calculate, KS and chi-square) on the same data,
  in NannyML's own virtual environment. Best of ``BENCH_RUNS`` runs each.

Figures are printed and written to ``build/bench.json``. ``BENCH_DRIFT_TRIALS`` (clean
batches per size, default 1,000), ``BENCH_DRIFT_POWER_TRIALS`` (default 200) and
``BENCH_DRIFT_POPULATION`` (default 1,000,000 rows) trade time for precision.

Run with ``.venv/bin/python -m benchmarks.drift``.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from driftline_runtime.drift import drift_report
from scipy import stats

from benchmarks.drift_data import (
    END,
    ROOT,
    Case,
    Pool,
    Trained,
    cases,
    drifted_pool,
    score,
)
from benchmarks.drift_data import train as train_model
from benchmarks.results import figure, record
from training import inference
from training.sklearn_classifier.baseline import build_baseline
from training.sklearn_classifier.dataset import FeatureSet
from training.sklearn_classifier.hyperparameters import Hyperparameters
from training.sklearn_classifier.target import Target

SIZES = (100, 300, 1_000, 10_000)
DRIFTS = (0.3, 1.0)
POWER_GOAL_FROM = 1_000  # rows; the goal is power 1.0 at drift 1.0 from here on
CLEAN_TRIALS = int(os.environ.get("BENCH_DRIFT_TRIALS", "1000"))
POWER_TRIALS = int(os.environ.get("BENCH_DRIFT_POWER_TRIALS", "200"))
POPULATION_ROWS = int(os.environ.get("BENCH_DRIFT_POPULATION", "1000000"))
TRAINING_ROWS = 20_000
DRIFTED_ROWS = 200_000
TIMED_ROWS = 10_000
# Clean files written by one generator call each: the limit of row-level tests, shown.
FILE_SIZES = (500, 3_000)
GENERATED_FILES = 40
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
SEED = 20_261_127
NANNYML_VENV = ROOT / ".cache" / "bench" / "nannyml-venv"
NANNYML_REQUIREMENTS = Path(__file__).with_name("nannyml-requirements.txt")
# NannyML 0.13 supports Python 3.8 to 3.12.
NANNYML_PYTHONS = ("python3.12", "python3.11", "python3.10")


@dataclass
class CaseFigures:
    case: Case
    false_alarms: dict[int, Verdicts] = field(default_factory=dict)  # by rows
    power: dict[tuple[float, int], Verdicts] = field(default_factory=dict)  # by drift, rows
    files: dict[int, Verdicts] = field(default_factory=dict)  # clean generated files, by rows
    timing: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.case.scoring.drift.false_alarm_rate


@dataclass(frozen=True)
class Verdicts:
    flagged: int
    batches: int
    largest_psi: float  # the median over batches of the largest PSI of any feature

    @property
    def share(self) -> float:
        return self.flagged / self.batches


def verdicts(trained: Trained, batches: Iterable[tuple[Any, Any]], case: Case) -> Verdicts:
    count, largest = 0, []
    for table, probabilities in batches:
        report = drift_report(trained.baseline, table, probabilities, case.scoring.drift)
        count += report.drifted
        largest.append(max(drift.score for drift in report.judged))
    return Verdicts(count, len(largest), float(np.median(largest)))


def sampled(pool: Pool, rows: int, trials: int, seed: int) -> Iterator[tuple[Any, Any]]:
    """``trials`` batches of ``rows`` random rows of the pool."""
    rng = np.random.default_rng(seed)
    return (pool.batch(rng, rows) for _ in range(trials))


def generated_files(case: Case, trained: Trained, rows: int) -> Iterator[tuple[Any, Any]]:
    """Clean files as the generator writes them, each in one call (rows clustered)."""
    model = inference.model_fn(str(trained.model_dir))
    for index in range(GENERATED_FILES):
        table = case.generate(rows, seed=SEED + 1_000 + index, labelled=False, end=END)
        yield table, score(model, table)


def upper_bound(k: int, n: int) -> float:
    """The one-sided 95 % Clopper-Pearson upper bound of a share k / n."""
    return 1.0 if k >= n else float(stats.beta.ppf(0.95, k + 1, n - k))


def measure(case: Case, folder: Path) -> CaseFigures:
    figures = CaseFigures(case)
    started = time.perf_counter()
    population = case.generate(POPULATION_ROWS, seed=SEED, drift=0.0, labelled=True, end=END)
    trained = train_model(case, population, TRAINING_ROWS, folder / "training")
    print(f"  trained and scored {POPULATION_ROWS:,} rows in {time.perf_counter() - started:.0f} s")
    for index, rows in enumerate(SIZES):
        batches = sampled(trained.clean, rows, CLEAN_TRIALS, SEED + index)
        figures.false_alarms[rows] = verdicts(trained, batches, case)
    for offset, drift in enumerate(DRIFTS, start=1):
        pool = drifted_pool(case, trained, drift, DRIFTED_ROWS, SEED + 100 * offset)
        for index, rows in enumerate(SIZES):
            batches = sampled(pool, rows, POWER_TRIALS, SEED + 100 * offset + index)
            figures.power[(drift, rows)] = verdicts(trained, batches, case)
    for rows in FILE_SIZES:
        figures.files[rows] = verdicts(trained, generated_files(case, trained, rows), case)
    figures.timing = timing(case, trained, folder)
    return figures


# -- speed against NannyML ----------------------------------------------------------------
def ours(trained: Trained, case: Case, batch: Any, probabilities: Any) -> dict[str, float]:
    """Fit (the baseline's profiles of the training rows) + calculate (the verdict)."""
    # The baseline's features, in the model's order.
    kinds = {c: p["kind"] for c, p in trained.baseline["features"].items()}
    frame = trained.training.table.to_pandas()
    x = inference.prepare_features(frame, kinds)
    y = frame[case.training.target].to_numpy()
    reference = trained.training.probabilities
    settings = Hyperparameters(
        target_column=str(case.training.target), id_column=case.training.id_column
    )
    target = Target("binary", str(case.training.target), ("0", "1"))
    seconds = []
    for _ in range(RUNS):
        started = time.perf_counter()
        baseline = build_baseline(x, y, reference, FeatureSet(kinds), settings, target)
        drift_report(baseline, batch, probabilities, case.scoring.drift)
        seconds.append(time.perf_counter() - started)
    return {"best": min(seconds), "median": statistics.median(seconds)}


def nannyml_interpreters() -> list[str]:
    """Interpreters NannyML could run on: on PATH, or installed by pyenv."""
    found = [p for p in map(shutil.which, NANNYML_PYTHONS) if p]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for name in NANNYML_PYTHONS:
        found += sorted(str(p) for p in pyenv.glob(f"{name.removeprefix('python')}*/bin/{name}"))
    return found


def _runs_nannyml(interpreter: str) -> bool:
    """A pyenv shim of a version that is not selected exits with an error: try it."""
    check = "import sys; sys.exit(not (3, 8) <= sys.version_info[:2] <= (3, 12))"
    result = subprocess.run([interpreter, "-c", check], capture_output=True, check=False)
    return result.returncode == 0


def nannyml_python() -> Path:
    python = NANNYML_VENV / "bin" / "python"
    stamp = NANNYML_VENV / ".installed"
    if stamp.is_file() and stamp.read_text() == NANNYML_REQUIREMENTS.read_text():
        return python
    interpreter = next((p for p in nannyml_interpreters() if _runs_nannyml(p)), None)
    if interpreter is None:
        raise RuntimeError(f"NannyML needs one of {', '.join(NANNYML_PYTHONS)} on PATH")
    print(f"  installing NannyML into {NANNYML_VENV.relative_to(ROOT)} (once)")
    shutil.rmtree(NANNYML_VENV, ignore_errors=True)
    subprocess.run([interpreter, "-m", "venv", str(NANNYML_VENV)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "-r", str(NANNYML_REQUIREMENTS)],
        check=True,
    )
    stamp.write_text(NANNYML_REQUIREMENTS.read_text())
    return python


def timing(case: Case, trained: Trained, folder: Path) -> dict[str, Any]:
    batch, probabilities = trained.clean.batch(np.random.default_rng(SEED), TIMED_ROWS)
    columns = list(trained.baseline["feature_columns"])
    kinds = {c: p["kind"] for c, p in trained.baseline["features"].items()}
    reference = trained.training.table.select(columns).append_column(
        "prediction", [trained.training.probabilities]
    )
    analysis = batch.select(columns).append_column("prediction", [probabilities])
    pq.write_table(reference, folder / "reference.parquet")
    pq.write_table(analysis, folder / "analysis.parquet")
    spec = {
        "reference": str(folder / "reference.parquet"),
        "analysis": str(folder / "analysis.parquet"),
        "columns": [*columns, "prediction"],
        "categorical": [c for c in columns if kinds[c] != "numeric"],
        "runs": RUNS,
    }
    (folder / "nannyml.json").write_text(json.dumps(spec))
    script = Path(__file__).with_name("nannyml_drift.py")
    result = subprocess.run(
        [str(nannyml_python()), str(script), str(folder / "nannyml.json")],
        capture_output=True,
        text=True,
        check=True,
    )
    return {"ours": ours(trained, case, batch, probabilities), "nannyml": json.loads(result.stdout)}


# -- reporting ----------------------------------------------------------------------------
def print_case(figures: CaseFigures) -> None:
    settings = figures.case.scoring.drift
    print(
        f"\n{figures.case.scoring.name} batches scored by {figures.case.name} models: "
        f"false-alarm rate {settings.false_alarm_rate:g} per batch, at least "
        f"{settings.min_rows} rows, PSI floor {settings.min_psi:g}"
    )
    print(
        f"{'rows':>7}  {'clean batches flagged':<38}{'largest PSI':<13}"
        + "".join(f"drift {d:<6}" for d in DRIFTS)
    )
    for rows in SIZES:
        clean = figures.false_alarms[rows]
        k, n = clean.flagged, clean.batches
        flagged = f"{k}/{n} = {k / n:.2%} (95% bound {upper_bound(k, n):.2%})"
        power = "".join(f"{figures.power[(d, rows)].share:<12.1%}" for d in DRIFTS)
        print(f"{rows:>7,}  {flagged:<38}{clean.largest_psi:<13.3f}{power}")
    print("(largest PSI: the median over clean batches of their largest feature PSI)")
    for rows, files in figures.files.items():
        print(
            f"clean files of {rows:,} rows as the generator writes them (rows clustered by "
            f"customer): {files.flagged}/{files.batches} flagged"
        )
    ours, peer = figures.timing["ours"], figures.timing["nannyml"]
    print(
        f"drift report on {TIMED_ROWS:,} rows against {TRAINING_ROWS:,} (fit + calculate, best of "
        f"{RUNS}): driftline {ours['best']:.3f} s, NannyML {peer['version']} {peer['best']:.3f} s "
        f"= {ours['best'] / peer['best']:.2f}x"
    )


def bench_figures(all_figures: list[CaseFigures]) -> dict[str, dict[str, Any]]:
    entries: dict[str, dict[str, Any]] = {}
    worst: tuple[float, float] | None = None  # (share, rate) with the largest ratio
    weakest = 1.0
    for figures in all_figures:
        name = figures.case.name
        for rows, clean in figures.false_alarms.items():
            entries[f"drift_false_alarm_rate.{name}.{rows}"] = figure(clean.share, figures.rate)
            if worst is None or clean.share / figures.rate > worst[0] / worst[1]:
                worst = (clean.share, figures.rate)
        for (drift, rows), drifted in figures.power.items():
            goal = 1.0 if drift == 1.0 and rows >= POWER_GOAL_FROM else None
            entries[f"drift_power.{name}.drift{drift:g}.{rows}"] = figure(drifted.share, goal)
            if goal is not None:
                weakest = min(weakest, drifted.share)
        for rows, files in figures.files.items():
            entries[f"drift_generated_files_flagged.{name}.{rows}"] = figure(files.share, None)
        ours, peer = figures.timing["ours"]["best"], figures.timing["nannyml"]["best"]
        entries[f"drift_report_vs_nannyml.{name}"] = figure(ours, peer)
    if worst is not None:
        entries["drift_false_alarm_rate"] = figure(*worst)
        entries["drift_power"] = figure(weakest, 1.0)
        first = all_figures[0].timing
        entries["drift_report_vs_nannyml"] = figure(first["ours"]["best"], first["nannyml"]["best"])
    return entries


def main() -> None:
    started = time.perf_counter()
    found = cases()
    print(
        f"drift benchmark: {', '.join(c.name for c in found)}; {CLEAN_TRIALS} clean and "
        f"{POWER_TRIALS} drifted batches per size, {os.cpu_count()} CPUs"
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="drift-bench-") as scratch:
        for case in found:
            print(f"\n{case.scoring.name} <- {case.name}:")
            folder = Path(scratch) / case.name
            folder.mkdir()
            results.append(measure(case, folder))
            print_case(results[-1])
    path = record(bench_figures(results))
    print(
        f"\nwritten to {path.relative_to(ROOT)} (the benchmark took "
        f"{time.perf_counter() - started:.0f} s)"
    )


if __name__ == "__main__":
    main()
