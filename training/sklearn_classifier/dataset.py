"""Features and labels: which columns are features (and their kinds, from the train split),
and each split's features and labels (``target``), checked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .container import TrainingError
from .features import BOOLEAN, CATEGORICAL, NUMERIC, InvalidInputError, prepare_features
from .hyperparameters import Hyperparameters
from .target import Target, check_labels, encode


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


def split_xy(
    frame: pd.DataFrame, split: str, features: FeatureSet, target: Target, min_rows: int
) -> tuple[pd.DataFrame, np.ndarray[Any, Any]]:
    """The prepared features and the labels of one split, checked."""
    missing = [c for c in (*features.columns, target.column) if c not in frame.columns]
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
    y = encode(frame[target.column], split, target)
    check_labels(y, split, target, min_rows)
    return x, y
