"""Features and labels: which columns are features (and their kinds, from the train split),
the target as 0/1, and the checks a split must pass to train on or to score."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .container import TrainingError
from .features import BOOLEAN, CATEGORICAL, NUMERIC, InvalidInputError, prepare_features
from .hyperparameters import Hyperparameters

# Fewer rows of a class cannot be split for early stopping (and teach nothing anyway).
MIN_ROWS_PER_CLASS = 2


@dataclass(frozen=True)
class FeatureSet:
    kinds: dict[str, str]  # column -> numeric | boolean | categorical, in column order

    @property
    def columns(self) -> list[str]:
        return list(self.kinds)

    def of_kind(self, kind: str) -> list[str]:
        return [column for column, found in self.kinds.items() if found == kind]


def infer_kind(values: pd.Series) -> str:
    """boolean if every value is true/false, numeric if every value is a number,
    categorical otherwise (missing values do not count)."""
    present = values.dropna().astype(str).str.strip()
    present = present[present != ""]
    if len(present) and present.str.lower().isin(["true", "false"]).all():
        return BOOLEAN
    if pd.to_numeric(present, errors="coerce").notna().all():
        return NUMERIC
    return CATEGORICAL


def select_features(train: pd.DataFrame, settings: Hyperparameters) -> FeatureSet:
    if settings.target_column not in train.columns:
        raise TrainingError(
            f"The target column {settings.target_column!r} is not in the train channel's "
            f"header ({', '.join(map(str, train.columns))}); set the target_column "
            f"hyperparameter to the label's column."
        )
    if settings.features:
        absent = [column for column in settings.features if column not in train.columns]
        if absent:
            raise TrainingError(
                f"The train channel lacks the feature column(s) {', '.join(absent)} "
                f"that the features hyperparameter names."
            )
        columns = list(settings.features)
        return FeatureSet({column: infer_kind(train[column]) for column in columns})
    not_features = {settings.target_column, settings.id_column, *settings.exclude_columns}
    columns = [column for column in train.columns if column not in not_features]
    if not columns:
        raise TrainingError(
            "The train channel has no feature columns besides the target, id and excluded ones."
        )
    return FeatureSet({column: infer_kind(train[column]) for column in columns})


def labels(values: pd.Series, split: str, target: str) -> np.ndarray[Any, np.dtype[np.int64]]:
    """The target as 0/1; anything else (missing included) fails the job."""
    text = values.astype(str).str.strip().str.lower()
    mapping = {"0": 0, "1": 1, "0.0": 0, "1.0": 1, "false": 0, "true": 1}
    bad = ~text.isin(list(mapping)) | values.isna()
    if bad.any():
        raise TrainingError(
            f"The target column {target!r} in the {split} channel has {int(bad.sum())} missing "
            f"or non-0/1 value(s), e.g. {values[bad].iloc[0]!r}."
        )
    result: np.ndarray[Any, np.dtype[np.int64]] = text.map(mapping).to_numpy(dtype=np.int64)
    return result


def split_xy(
    frame: pd.DataFrame, split: str, features: FeatureSet, settings: Hyperparameters
) -> tuple[pd.DataFrame, np.ndarray[Any, np.dtype[np.int64]]]:
    """The prepared features and the labels of one split, checked."""
    missing = [c for c in (*features.columns, settings.target_column) if c not in frame.columns]
    if missing:
        raise TrainingError(
            f"The {split} channel lacks column(s) the train channel has: {', '.join(missing)}."
        )
    try:
        x = prepare_features(frame, features.kinds)
    except InvalidInputError as error:
        raise TrainingError(
            f"The {split} channel holds a value of the wrong kind: {error}."
        ) from error
    y = labels(frame[settings.target_column], split, settings.target_column)
    check_classes(y, split, settings)
    return x, y


def check_classes(
    y: np.ndarray[Any, np.dtype[np.int64]], split: str, settings: Hyperparameters
) -> None:
    if split == "train" and len(y) < settings.min_rows:
        raise TrainingError(
            f"The train channel has {len(y)} rows, fewer than min_rows={settings.min_rows}."
        )
    present = sorted({int(label) for label in np.unique(y)})
    if len(present) < 2:
        consequence = (
            "a classifier needs examples of both classes to learn from"
            if split == "train"
            else "its ROC AUC, which decides whether the model is registered, is undefined"
        )
        raise TrainingError(
            f"The {split} channel has only one class in {settings.target_column!r}: all "
            f"{len(y)} rows are {present[0]}, and {consequence}."
        )
    rarest = int(np.bincount(y, minlength=2).min())
    if split == "train" and rarest < MIN_ROWS_PER_CLASS:
        raise TrainingError(
            f"The train channel has a single row of one class in {settings.target_column!r}: "
            f"the classifier needs at least {MIN_ROWS_PER_CLASS} rows of each class."
        )
