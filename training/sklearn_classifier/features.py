"""Raw values to model input, the same way in training and in serving: numbers, booleans
(``true``/``false``, ``1``/``0`` and the like) and categories (``__null__`` for a missing
value), a value that does not fit its kind raising :class:`InvalidInputError`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from driftline_runtime import names

# Feature kinds, as training infers them from the training split.
NUMERIC, BOOLEAN, CATEGORICAL = names.NUMERIC, names.BOOLEAN, names.CATEGORICAL
# The category a missing categorical value becomes (the baseline counts it under this name).
NULL_CATEGORY = names.NULL_CATEGORY
_TRUE = frozenset({"true", "t", "yes", "y", "1", "1.0"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "0.0"})


class InvalidInputError(ValueError):
    """A request or a data file whose records do not fit the model."""

    # What an endpoint answers it with: the client's error, as the inference toolkit's
    # errors carry their status (SageMaker returns it as ModelError's OriginalStatusCode).
    status_code = 400


def prepare_features(frame: pd.DataFrame, feature_kinds: Mapping[str, str]) -> pd.DataFrame:
    """Raw values (text from CSV, or JSON/Parquet values) to the pipeline's input.

    Numeric columns become float64 (missing is NaN), boolean ones float64 0/1 (missing is
    NaN), categorical ones text with :data:`NULL_CATEGORY` for a missing value. Columns come
    out in ``feature_kinds``' order; a value that does not fit its kind raises
    :class:`InvalidInputError` naming the column.
    """
    missing = [column for column in feature_kinds if column not in frame.columns]
    if missing:
        raise InvalidInputError(f"missing feature column(s): {', '.join(missing)}")
    converters = {NUMERIC: _to_numeric, BOOLEAN: _to_boolean, CATEGORICAL: _to_category}
    prepared = {}
    for column, kind in feature_kinds.items():
        if kind not in converters:
            raise ValueError(f"column {column!r} has an unknown feature kind {kind!r}")
        values = frame[column].reset_index(drop=True)
        prepared[column] = converters[kind](values, column)
    return pd.DataFrame(prepared, index=pd.RangeIndex(len(frame)))


def positive_probabilities(pipeline: Any, features: pd.DataFrame) -> np.ndarray[Any, Any]:
    """The predicted probability of the positive class (label 1) per row."""
    classes = [int(label) for label in pipeline.classes_]
    probabilities = np.asarray(pipeline.predict_proba(features), dtype=np.float64)
    return probabilities[:, classes.index(1)]


def class_probabilities(
    pipeline: Any, features: pd.DataFrame, classes: int
) -> np.ndarray[Any, Any]:
    """Each row's probability of every class, one column per class index ``0..classes-1``
    (a class the model never saw gets 0)."""
    probabilities = np.asarray(pipeline.predict_proba(features), dtype=np.float64)
    full = np.zeros((len(probabilities), classes), dtype=np.float64)
    for column, label in enumerate(pipeline.classes_):
        full[:, int(label)] = probabilities[:, column]
    return full


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    return isinstance(value, str) and value.strip() == ""


def _missing_mask(values: pd.Series) -> pd.Series:
    """None, NaN and empty (or blank) text."""
    missing = values.isna()
    try:
        blank = values.str.strip().eq("")  # non-text values in a text column give NaN
    except AttributeError:  # not a text column at all
        return missing
    return missing | blank.fillna(False).astype(bool)


def _to_numeric(values: pd.Series, column: str) -> pd.Series:
    missing = _missing_mask(values)
    present = values.astype(object).where(~missing, None)
    if present.map(lambda value: isinstance(value, bool | np.bool_)).any():
        raise InvalidInputError(f"column {column!r} holds booleans where numbers belong")
    parsed = pd.to_numeric(present, errors="coerce").astype("float64")
    bad = ~missing & ~np.isfinite(parsed.to_numpy(dtype=np.float64, na_value=np.nan))
    if bad.any():
        raise InvalidInputError(
            f"column {column!r}: {int(bad.sum())} value(s) are not finite numbers, "
            f"e.g. {values[bad].iloc[0]!r}"
        )
    return parsed


def _to_boolean(values: pd.Series, column: str) -> pd.Series:
    present = values.astype(object).where(~_missing_mask(values), None)
    mapping: dict[Any, float] = {}
    for value in present.dropna().drop_duplicates():
        text = str(value).strip().lower()
        if text not in _TRUE and text not in _FALSE:
            raise InvalidInputError(
                f"column {column!r}: {value!r} is not a boolean (true/false or 1/0)"
            )
        mapping[value] = 1.0 if text in _TRUE else 0.0
    return present.map(mapping).astype("float64")


def _to_category(values: pd.Series, column: str) -> pd.Series:
    del column  # every value is a valid category
    text = values.astype(object).where(values.isna(), values.astype(str))
    return text.where(~_missing_mask(values), NULL_CATEGORY).astype(object)
