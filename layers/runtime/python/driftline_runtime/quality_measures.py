"""The measures of a deployed model on labelled rows, per problem type: plain numpy.

They are the training job's measures (``names.PROBLEM_MEASURES``, scikit-learn's
definitions), so a batch's measured quality is comparable with the model's test metric:

- binary: ROC AUC, average precision, log loss, accuracy at the 0.5 threshold;
- multiclass: macro F1 over the model's classes, log loss, accuracy of the top class;
- regression: RMSE, MAE, R2;

and the row count. Calibration, per decile of the predictions, compares what the model
said with what happened: the mean predicted probability with the observed rate
(binary), the mean top-class probability with how often the top class was right
(multiclass), the mean predicted value with the mean observed value (regression).

A measure that is undefined on the rows (AUC with one class, R2 of a constant target) is
left out rather than reported as a number. The job uses scikit-learn; a Lambda function
has no room for it beside pyarrow, and these are a few pages of textbook code that the
unit tests hold to scikit-learn's numbers.
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
# A multiclass label the model has no class for: never predicted, probability 0.
UNKNOWN_CLASS = -1

Floats = np.ndarray[Any, np.dtype[np.float64]]
Ints = np.ndarray[Any, np.dtype[np.int64]]


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


# -- binary ---------------------------------------------------------------------------------
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


def binary_measures(labels: Floats, scores: Floats) -> dict[str, float]:
    """``labels`` 0/1, ``scores`` the positive class's probability."""
    if not len(labels):
        return {names.ROWS_MEASURE: 0.0}
    measured = {
        names.AUC_MEASURE: roc_auc(labels, scores),
        names.AVERAGE_PRECISION_MEASURE: average_precision(labels, scores),
        names.LOG_LOSS_MEASURE: log_loss(labels, scores),
        names.ACCURACY_MEASURE: float(np.mean((scores >= DECISION_THRESHOLD) == (labels == 1))),
        names.ROWS_MEASURE: float(len(labels)),
    }
    return {name: value for name, value in measured.items() if value is not None}


# -- multiclass -----------------------------------------------------------------------------
def macro_f1(labels: Ints, predicted: Ints, classes: int) -> float:
    """The mean F1 of the model's classes; a class with no row and no prediction scores 0
    (scikit-learn's ``zero_division=0``, as the training job measures it)."""
    scores = []
    for index in range(classes):
        true_positive = int(np.sum((predicted == index) & (labels == index)))
        false_positive = int(np.sum((predicted == index) & (labels != index)))
        false_negative = int(np.sum((predicted != index) & (labels == index)))
        denominator = 2 * true_positive + false_positive + false_negative
        scores.append(2 * true_positive / denominator if denominator else 0.0)
    return float(np.mean(scores))


def multiclass_log_loss(labels: Ints, probabilities: Floats) -> float:
    """Cross-entropy of each row's probability of its own class (rows normalised to sum 1,
    clipped away from 0); a class the model does not know has probability 0."""
    totals = probabilities.sum(axis=1, keepdims=True)
    normalised = probabilities / np.where(totals > 0, totals, 1.0)
    known = labels != UNKNOWN_CLASS
    own = np.zeros(len(labels), dtype=np.float64)
    own[known] = normalised[np.nonzero(known)[0], labels[known]]
    return float(-np.mean(np.log(np.clip(own, EPSILON, 1.0))))


def multiclass_measures(labels: Ints, probabilities: Floats) -> dict[str, float]:
    """``labels`` the class index per row (``UNKNOWN_CLASS`` for a label the model lacks),
    ``probabilities`` one column per class in the model's order."""
    if not len(labels):
        return {names.ROWS_MEASURE: 0.0}
    predicted = probabilities.argmax(axis=1)
    return {
        names.MACRO_F1_MEASURE: macro_f1(labels, predicted, probabilities.shape[1]),
        names.LOG_LOSS_MEASURE: multiclass_log_loss(labels, probabilities),
        names.ACCURACY_MEASURE: float(np.mean(predicted == labels)),
        names.ROWS_MEASURE: float(len(labels)),
    }


def top_class_calibration(labels: Ints, probabilities: Floats) -> list[CalibrationBin]:
    """Per decile of the top class's probability: that probability against how often the
    top class was the label (a reliability diagram of a multiclass model)."""
    if not len(labels):
        return []
    confidence = probabilities.max(axis=1)
    correct = (probabilities.argmax(axis=1) == labels).astype(np.float64)
    return calibration(correct, confidence)


# -- regression -----------------------------------------------------------------------------
def regression_measures(values: Floats, predicted: Floats) -> dict[str, float]:
    if not len(values):
        return {names.ROWS_MEASURE: 0.0}
    errors = predicted - values
    spread = float(np.sum((values - values.mean()) ** 2))
    measured = {
        names.RMSE_MEASURE: float(np.sqrt(np.mean(errors**2))),
        names.MAE_MEASURE: float(np.mean(np.abs(errors))),
        # Undefined for a constant target: left out.
        names.R2_MEASURE: 1.0 - float(np.sum(errors**2)) / spread if spread > 0 else None,
        names.ROWS_MEASURE: float(len(values)),
    }
    return {name: value for name, value in measured.items() if value is not None}


# -- every problem --------------------------------------------------------------------------
def calibration(observed: Floats, predicted: Floats) -> list[CalibrationBin]:
    """The mean prediction and the mean observed value per decile of the predictions."""
    if not len(predicted):
        return []
    edges = np.quantile(predicted, np.linspace(0, 1, DECILES + 1))
    bins = np.clip(np.searchsorted(edges, predicted, side="right") - 1, 0, DECILES - 1)
    found = []
    for decile in range(DECILES):
        members = bins == decile
        if members.any():
            found.append(
                CalibrationBin(
                    decile=decile + 1,
                    rows=int(members.sum()),
                    predicted=float(predicted[members].mean()),
                    observed=float(observed[members].mean()),
                )
            )
    return found
