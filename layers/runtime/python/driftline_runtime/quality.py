"""A deployed model's measured quality on labelled scored rows: plain numpy, no scikit-learn.

The measures are the training job's (``driftline_runtime.names``): ROC AUC, average
precision, log loss and accuracy at the 0.5 threshold, and the row count, so a batch's
measured quality is comparable with the model's test metric; plus calibration, the mean
predicted probability against the observed rate per decile of the predictions. The job
uses scikit-learn; a Lambda function has no room for it beside pyarrow, and these are a
page of textbook code that the unit tests hold to scikit-learn's numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from driftline_runtime import names

DECISION_THRESHOLD = 0.5
# log loss clips probabilities away from 0 and 1, as scikit-learn does (float64 eps).
EPSILON = float(np.finfo(np.float64).eps)
DECILES = 10

Floats = np.ndarray[Any, np.dtype[np.float64]]


class CalibrationBin(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    decile: int
    rows: int
    predicted: float
    observed: float


def _ranks(values: Floats) -> Floats:
    """Average ranks (1-based), ties sharing their mean rank."""
    order = np.argsort(values, kind="mergesort")
    _, first, counts = np.unique(values[order], return_index=True, return_counts=True)
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.repeat(first + (counts + 1) / 2, counts)
    return ranks


def roc_auc(labels: Floats, scores: Floats) -> float | None:
    """The Mann-Whitney form of ROC AUC; None with only one class."""
    positives = int(labels.sum())
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return None
    ranks = _ranks(scores)
    return float(
        (ranks[labels == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives)
    )


def average_precision(labels: Floats, scores: Floats) -> float | None:
    """Precision averaged over the recall steps, thresholds at each distinct score."""
    positives = int(labels.sum())
    if positives == 0:
        return None
    order = np.argsort(-scores, kind="mergesort")
    ordered_scores, ordered_labels = scores[order], labels[order]
    # The last index of each distinct score: every threshold sees whole ties.
    distinct = np.r_[np.nonzero(np.diff(ordered_scores))[0], len(ordered_scores) - 1]
    true_positives = np.cumsum(ordered_labels)[distinct]
    predicted = distinct + 1
    precision = true_positives / predicted
    recall = true_positives / positives
    steps = np.diff(np.r_[0.0, recall])
    return float(np.sum(steps * precision))


def log_loss(labels: Floats, scores: Floats) -> float:
    clipped = np.clip(scores, EPSILON, 1 - EPSILON)
    return float(-np.mean(labels * np.log(clipped) + (1 - labels) * np.log(1 - clipped)))


def calibration(labels: Floats, scores: Floats) -> list[CalibrationBin]:
    """Mean predicted probability and observed rate per decile of the predictions."""
    if not len(scores):
        return []
    edges = np.quantile(scores, np.linspace(0, 1, DECILES + 1))
    bins = np.clip(np.searchsorted(edges, scores, side="right") - 1, 0, DECILES - 1)
    found = []
    for decile in range(DECILES):
        members = bins == decile
        if members.any():
            found.append(
                CalibrationBin(
                    decile=decile + 1,
                    rows=int(members.sum()),
                    predicted=float(scores[members].mean()),
                    observed=float(labels[members].mean()),
                )
            )
    return found


def measure(labels: Floats, scores: Floats) -> dict[str, float]:
    """The training job's measures of ``scores`` against 0/1 ``labels`` (a measure that is
    undefined on these rows, AUC with one class, is left out)."""
    measured: dict[str, float | None] = {
        names.AUC_MEASURE: roc_auc(labels, scores),
        names.AVERAGE_PRECISION_MEASURE: average_precision(labels, scores),
        names.LOG_LOSS_MEASURE: log_loss(labels, scores) if len(labels) else None,
        names.ACCURACY_MEASURE: float(np.mean((scores >= DECISION_THRESHOLD) == (labels == 1)))
        if len(labels)
        else None,
        names.ROWS_MEASURE: float(len(labels)),
    }
    return {name: value for name, value in measured.items() if value is not None}


class ModelQuality(BaseModel):
    """A deployed model's measured quality on one scored run's labelled rows so far:
    ``status --json``'s ``model_quality[]``, written to ``quality/<dataset>/<version>/<run>.json``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset: str  # the inference dataset
    version: str  # the scored batch
    run: str
    model_group: str
    model_version: str
    model_package_arn: str
    labelled_rows: int
    metrics: dict[str, float]
    primary_metric: str
    # The model's own test metric (its training job's), which quality is held to.
    reference_metric: float | None
    max_drop: float
    min_labelled_rows: int
    degraded: bool
    calibration: list[CalibrationBin]
    time: str
