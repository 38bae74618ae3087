"""The demo's concept change is strong enough for the loop it tells, whatever the seed.

``driftline demo`` seeds its files from the clock. The learning loop then needs, on every
seed: the champion trained on the old pattern measured as degraded on the drifted batch's
labels (by more than the labels dataset's ``quality.max_drop``), a model retrained with
those labels winning the paired comparison on the newest rows by more than the stage's
margin, and that model measuring better on the next batch than the champion did. These
tests train both models the way the job does (the same split, features and estimator)
on the demo's own files, for the seed CI's demo uses and for one that once failed.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from driftline_contracts import datasets
from sklearn.metrics import roc_auc_score

from driftline.samples import generate_transactions
from driftline.scenario import BATCH_ROWS, TRAINING_LEAD, TRAINING_ROWS
from training.sklearn_classifier.dataset import select_features, split_xy
from training.sklearn_classifier.hyperparameters import Hyperparameters
from training.sklearn_classifier.pipeline import build_pipeline
from training.sklearn_classifier.target import target_of

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "functions" / "prepare_training"))
from channels import split  # noqa: E402

sys.path.pop(0)

NOW = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
# The stage's approval margin (cdk.json, every stage) and the labels' allowed drop.
MARGIN = 0.005


class Model:
    def __init__(self, window: pa.Table) -> None:
        spec = datasets()["transactions"]
        assert spec.target is not None  # a training dataset's spec requires it
        channels, _ = split(
            window, spec.id_column, spec.time_column, [*spec.feature_columns, spec.target]
        )
        frames = {c.name: pd.read_csv(pa.BufferReader(c.csv)) for c in channels}
        self.settings = Hyperparameters.parse(
            {
                "target_column": spec.target,
                "id_column": spec.id_column,
                "features": list(spec.feature_columns),
            }
        )
        self.features = select_features(frames["train"], self.settings)
        self.target = target_of(frames["train"][spec.target], "binary", spec.target)
        self.pipeline = build_pipeline(self.features, self.settings, self.target)
        self.pipeline.fit(*self._xy(frames["train"]))
        self.holdout = frames["test"]

    def _xy(self, frame: pd.DataFrame) -> tuple[Any, Any]:
        return split_xy(frame, "split", self.features, self.target, 1)

    def auc(self, frame: pd.DataFrame) -> float:
        x, y = self._xy(frame)
        return float(roc_auc_score(y, self.pipeline.predict_proba(x)[:, 1]))


@pytest.mark.parametrize("seed", [4242, 13903])
def test_the_concept_change_degrades_the_champion_and_a_retraining_wins(seed: int) -> None:
    # Given the demo's files for this seed (scenario.generate's draws)
    training = generate_transactions(TRAINING_ROWS, seed=seed, end=NOW - TRAINING_LEAD)
    drifted = generate_transactions(BATCH_ROWS, seed=seed + 2, drift=1.0, concept=1.0, end=NOW)
    following = generate_transactions(BATCH_ROWS, seed=seed + 3, drift=1.0, concept=1.0, end=NOW)
    max_drop = datasets()["scoring-labels"].quality.max_drop
    # When v1 learns the training file and is measured on the drifted batch's labels
    v1 = Model(training)
    v1_test = v1.auc(v1.holdout)
    before = v1.auc(drifted.to_pandas())
    # Then it is degraded, with room to spare over the measurement's noise
    assert before < v1_test - 2 * max_drop, (before, v1_test)
    # When v2 learns the window (the training file and the batch's labelled rows)
    v2 = Model(pa.concat_tables([training, drifted]))
    # Then it beats v1 on its own, most recent holdout by well over the margin
    challenger, champion = v2.auc(v2.holdout), v1.auc(v2.holdout)
    assert challenger > champion + 4 * MARGIN, (challenger, champion)
    # And it measures better on the next batch than v1 did on the drifted one
    assert v2.auc(following.to_pandas()) > before + 2 * max_drop
