"""The drift benchmark's data: a population per case, a model trained on it, predictions.

For every inference dataset whose model dataset has a sample generator
(``driftline.samples.generator_for``), a large clean population is drawn once; the
training rows are a random sample of it, and clean batches are random samples of the
remaining rows. Rows drawn at random from one population are what "a batch like the
training data" means: a file the generator makes in one call clusters its rows (the
transactions sample gives each card about six rows), and clustered rows are a different
population from the training file's, which a row-level test rightly tells apart.
Drifted batches are random samples of a population drawn at ``--drift`` 0.3 or 1.0.

The model is trained as the pipeline trains it: personal data dropped, channels split
by the hash of the id (``functions/prepare_training/channels.py``), ``training/train.py``
run as SageMaker runs it, with the pipeline's hyperparameters
(``infra.constructs.training.HYPERPARAMETERS``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from driftline_contracts import datasets
from driftline_runtime import names
from driftline_runtime.contracts import DatasetSpec

from driftline.samples import SampleGenerator, generator_for
from infra.constructs.training import HYPERPARAMETERS
from training import inference

ROOT = Path(__file__).resolve().parent.parent
TRAINING = ROOT / "training"
# A fixed clock: the generated data never depends on the day.
END = datetime(2026, 11, 27, tzinfo=UTC)
SCORING_CHUNK = 100_000

sys.path.insert(0, str(ROOT / "functions" / "prepare_training"))
from channels import split  # noqa: E402

sys.path.pop(0)


@dataclass(frozen=True)
class Case:
    """An inference dataset, scored by the models of a training dataset with a generator."""

    scoring: DatasetSpec
    training: DatasetSpec
    generate: SampleGenerator

    @property
    def name(self) -> str:
        return self.training.name


def cases() -> list[Case]:
    specs = datasets()
    found = []
    for spec in specs.values():
        if spec.kind != "inference" or not spec.model_dataset:
            continue
        generate = generator_for(spec.model_dataset)
        if generate is not None:
            found.append(Case(spec, specs[spec.model_dataset], generate))
    return found


@dataclass(frozen=True)
class Pool:
    """Rows to draw batches from, with the model's prediction for each."""

    table: pa.Table
    probabilities: npt.NDArray[np.float64]

    def batch(self, rng: np.random.Generator, rows: int) -> tuple[pa.Table, Any]:
        chosen = rng.choice(self.table.num_rows, size=rows, replace=False)
        return self.table.take(pa.array(chosen)), self.probabilities[chosen]


@dataclass(frozen=True)
class Trained:
    model_dir: Path
    baseline: dict[str, Any]
    training: Pool  # the rows the model was trained on (labelled), and its predictions
    clean: Pool


def train(case: Case, population: pa.Table, training_rows: int, folder: Path) -> Trained:
    """Train on a random sample of ``population``; the rest is the clean pool."""
    rng = np.random.default_rng(17)
    order = rng.permutation(population.num_rows)
    sample = population.take(pa.array(np.sort(order[:training_rows])))
    rest = population.take(pa.array(np.sort(order[training_rows:])))
    model_dir = _run_training(case.training, sample, folder)
    baseline = json.loads((model_dir / names.BASELINE_FILE).read_text())
    model = inference.model_fn(str(model_dir))
    target = [c for c in (case.training.target,) if c in rest.column_names]
    features = rest.drop_columns(target)
    training = Pool(sample, score(model, sample.drop_columns(target)))
    return Trained(model_dir, baseline, training, Pool(features, score(model, features)))


def drifted_pool(case: Case, trained: Trained, drift: float, rows: int, seed: int) -> Pool:
    table = case.generate(rows, seed=seed, drift=drift, labelled=False, end=END)
    return Pool(table, score(inference.model_fn(str(trained.model_dir)), table))


def score(model: Any, table: pa.Table) -> npt.NDArray[np.float64]:
    """The model's positive-class probability per row, in chunks to bound memory."""
    parts = []
    for start in range(0, table.num_rows, SCORING_CHUNK):
        frame = table.slice(start, SCORING_CHUNK).to_pandas()
        parts.append(
            np.asarray(inference.predict_fn(inference.Records(frame=frame), model).probabilities)
        )
    return np.concatenate(parts).astype(np.float64)


def _run_training(spec: DatasetSpec, table: pa.Table, root: Path) -> Path:
    # As the prepare step does: the id, the spec's features and the target.
    table = table.select([spec.id_column, *spec.feature_columns, str(spec.target)])
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SM_", "SAGEMAKER_"))}
    for channel in split(table, spec.id_column):
        folder = root / "input" / "data" / channel.name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "part-0.csv").write_bytes(channel.csv)
        environment[f"SM_CHANNEL_{channel.name.upper()}"] = str(folder)
    hyperparameters = {
        **HYPERPARAMETERS,
        "target_column": spec.target or "",
        "id_column": spec.id_column,
        "problem": spec.problem or "binary",
        "features": json.dumps(spec.feature_columns),
    }
    environment.update(
        SAGEMAKER_BASE_DIR=str(root),
        SM_MODEL_DIR=str(root / "model"),
        SM_OUTPUT_DATA_DIR=str(root / "output" / "data"),
        SM_OUTPUT_DIR=str(root / "output"),
        SM_HPS=json.dumps(hyperparameters),
    )
    result = subprocess.run(
        [sys.executable, "train.py"],
        cwd=TRAINING,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"train.py failed for {spec.name}:\n{result.stderr[-3000:]}")
    return root / "model"
