"""The label per problem type: what the target column may hold and how the model sees it.

- binary: 0/1, true/false, or any two labels; the model learns 0/1, and with two labels
  of its own the positive class (1) is the second in sort order (``yes`` of ``no``/``yes``);
- multiclass: integers or strings, at least two classes; the model learns each class's
  index in ``classes`` (sorted; integers by value);
- regression: finite numbers.

The classes come from the train split; a validation or test label that the train split
does not have fails the job, since the model could never predict it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .container import TrainingError

BINARY, MULTICLASS, REGRESSION = "binary", "multiclass", "regression"
_BINARY_TEXT = {"0": 0, "1": 1, "0.0": 0, "1.0": 1, "false": 0, "true": 1}
# Fewer rows of a class cannot be split for early stopping (and teach nothing anyway).
MIN_ROWS_PER_CLASS = 2


@dataclass(frozen=True)
class Target:
    problem: str
    column: str
    # Classification: each class's label as text, in the model's order (index = the
    # label the model learns). Regression: empty.
    classes: tuple[str, ...] = ()

    @property
    def is_classification(self) -> bool:
        return self.problem != REGRESSION


def _text(values: pd.Series) -> pd.Series:
    """Labels as text, integers written one way (``2.0`` and ``2`` are one class)."""
    text = values.astype(str).str.strip()
    numbers = pd.to_numeric(text, errors="coerce")
    whole = numbers.notna() & np.isfinite(numbers) & (numbers % 1 == 0)
    return text.where(~whole, numbers.where(whole).astype("Int64").astype(str))


def _missing(values: pd.Series) -> pd.Series:
    return values.isna() | values.astype(str).str.strip().eq("")


def target_of(train: pd.Series, problem: str, column: str) -> Target:
    """The target as the train split defines it (its classes, for a classifier)."""
    if problem == REGRESSION:
        return Target(problem, column)
    present = _text(train[~_missing(train)])
    if problem == BINARY and present.str.lower().isin(list(_BINARY_TEXT)).all():
        return Target(problem, column, ("0", "1"))
    labels = sorted(set(present), key=_class_order)
    if problem == BINARY and len(labels) > 2:
        raise TrainingError(
            f"The target column {column!r} of a binary problem holds {len(labels)} labels "
            f"({', '.join(labels[:5])}{', ...' if len(labels) > 5 else ''}); it takes 0/1, "
            f"true/false or two labels. Declare problem='multiclass' for more classes."
        )
    return Target(problem, column, tuple(labels))


def _class_order(label: str) -> tuple[int, float, str]:
    try:
        return (0, float(label), "")
    except ValueError:
        return (1, 0.0, label)


def encode(values: pd.Series, split: str, target: Target) -> np.ndarray[Any, Any]:
    """The split's labels as the model learns them; a missing or unknown one fails."""
    missing = _missing(values)
    if target.problem == REGRESSION:
        numbers = pd.to_numeric(values.where(~missing), errors="coerce").astype("float64")
        bad = missing | ~np.isfinite(numbers)
        _fail_on(bad, values, split, target, "missing or non-numeric")
        result: np.ndarray[Any, Any] = numbers.to_numpy(dtype=np.float64)
        return result
    text = _text(values.where(~missing, ""))
    if target.classes == ("0", "1") and target.problem == BINARY:
        text = text.str.lower().map(lambda label: str(_BINARY_TEXT.get(label, label)))
    index = {label: position for position, label in enumerate(target.classes)}
    codes = text.map(index)
    _fail_on(missing | codes.isna(), values, split, target, "missing or unknown")
    encoded: np.ndarray[Any, Any] = codes.to_numpy(dtype=np.int64)
    return encoded


def _fail_on(bad: pd.Series, values: pd.Series, split: str, target: Target, what: str) -> None:
    if not bad.any():
        return
    known = f" (the train split's classes: {', '.join(target.classes)})" if target.classes else ""
    raise TrainingError(
        f"The target column {target.column!r} in the {split} channel has {int(bad.sum())} "
        f"{what} value(s) for a {target.problem} problem, e.g. {values[bad].iloc[0]!r}{known}."
    )


def check_labels(y: np.ndarray[Any, Any], split: str, target: Target, min_rows: int) -> None:
    """Enough rows to train on; for a classifier, more than one class in every split."""
    if split == "train" and len(y) < min_rows:
        raise TrainingError(f"The train channel has {len(y)} rows, fewer than min_rows={min_rows}.")
    if not target.is_classification:
        if split == "train" and len(np.unique(y)) < 2:
            raise TrainingError(
                f"The train channel's target {target.column!r} is constant: a regression "
                "model needs varying values to learn from."
            )
        return
    present = np.unique(y)
    if len(present) < 2:
        consequence = (
            "a classifier needs examples of at least two classes to learn from"
            if split == "train"
            else "its metrics, which decide whether the model is registered, are undefined"
        )
        raise TrainingError(
            f"The {split} channel has only one class in {target.column!r}: all "
            f"{len(y)} rows are {target.classes[int(present[0])]}, and {consequence}."
        )
    counts = np.bincount(y, minlength=len(target.classes))
    if split == "train" and int(counts.min()) < MIN_ROWS_PER_CLASS:
        rare = target.classes[int(counts.argmin())]
        raise TrainingError(
            f"The train channel has fewer than {MIN_ROWS_PER_CLASS} rows of class {rare!r} in "
            f"{target.column!r}: the classifier needs at least {MIN_ROWS_PER_CLASS} rows of "
            "each class."
        )
