"""A scored run's labelled rows -> the model's measures, for the model's problem type.

The labels keep the type the labels contract gives them (the feedback file needs them
as they are); here they become what the training job measured against:

- binary: 0/1, true/false, or two labels of their own, the second in sort order being
  the positive class (the training job's rule, ``training/sklearn_classifier/target.py``);
- multiclass: each label's class among the model's classes, which the predictions name
  (``probability:<label>`` columns); integers written one way (``2.0`` is class ``2``);
  a label the model has no class for counts as a miss with probability 0;
- regression: numbers.

Which problem, primary metric and test metric a model has comes from its package's
metadata (written at registration from the dataset spec); a package from before problem
types is a binary model judged by AUC.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from driftline_runtime import names
from driftline_runtime.quality_measures import (
    UNKNOWN_CLASS,
    CalibrationBin,
    binary_measures,
    calibration,
    multiclass_measures,
    regression_measures,
    top_class_calibration,
)
from joining import LABEL

_BINARY_TEXT = {"0": 0, "1": 1, "false": 0, "true": 1}
CLASS_PREFIX = f"{names.PROBABILITY_COLUMN}:"


class UnmeasurableLabels(ValueError):
    """Labels that cannot be read as the model's problem needs them."""


@dataclass(frozen=True)
class ModelFacts:
    """What a model's package says about how it is judged."""

    problem: str
    primary_metric: str  # the measure, e.g. "auc" or "rmse"
    reference_metric: float | None  # the model's own test value of it

    @property
    def direction(self) -> str:
        return names.MEASURE_DIRECTIONS[self.primary_metric]

    @classmethod
    def of_package(cls, described: dict[str, Any]) -> ModelFacts:
        metadata = described.get("CustomerMetadataProperties", {})
        problem = metadata.get(names.PROBLEM_METADATA_KEY, "binary")
        primary = metadata.get(names.PRIMARY_METRIC_METADATA_KEY, names.PRIMARY_METRIC)
        value = metadata.get(f"{names.METRIC_METADATA_PREFIX}{primary}")
        return cls(
            problem=problem,
            primary_metric=primary.split(":", 1)[-1],
            reference_metric=float(value) if value is not None else None,
        )


def prediction_columns(predictions: pa.Table, id_column: str) -> list[str]:
    """The model's output columns of a predictions table, in its order (id left out)."""
    return [column for column in predictions.column_names if column != id_column]


def _texts(values: pa.ChunkedArray) -> list[str]:
    """Labels as text, whole numbers written one way (``2.0`` and ``2`` are one label)."""
    out = []
    for value in values.to_pylist():
        if isinstance(value, bool):
            out.append(str(value).lower())
        elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
            out.append(str(int(value)))
        else:
            text = str(value).strip()
            try:
                number = float(text)
            except ValueError:
                out.append(text)
                continue
            out.append(str(int(number)) if math.isfinite(number) and number.is_integer() else text)
    return out


def _sort_key(label: str) -> tuple[int, float, str]:
    try:
        return (0, float(label), "")
    except ValueError:
        return (1, 0.0, label)


def binary_labels(values: pa.ChunkedArray) -> np.ndarray[Any, np.dtype[np.float64]]:
    texts = [text.lower() for text in _texts(values)]
    if all(text in _BINARY_TEXT for text in texts):
        return np.asarray([_BINARY_TEXT[text] for text in texts], dtype=np.float64)
    distinct = sorted(set(texts), key=_sort_key)
    if len(distinct) != 2:
        raise UnmeasurableLabels(
            f"binary labels other than 0/1 or true/false must show both of the model's two "
            f"labels to tell the positive one; these hold {distinct[:5]}"
        )
    return np.asarray([float(text == distinct[1]) for text in texts], dtype=np.float64)


def class_indexes(values: pa.ChunkedArray, classes: list[str]) -> np.ndarray[Any, Any]:
    index = {label: position for position, label in enumerate(classes)}
    return np.asarray([index.get(text, UNKNOWN_CLASS) for text in _texts(values)], np.int64)


def numbers(values: pa.ChunkedArray) -> np.ndarray[Any, np.dtype[np.float64]]:
    try:
        floats = pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise UnmeasurableLabels(f"regression labels must be numbers: {error}") from error
    if np.isnan(floats).any():
        raise UnmeasurableLabels("regression labels must be numbers; some are missing")
    result: np.ndarray[Any, np.dtype[np.float64]] = floats.astype(np.float64)
    return result


def measure_rows(
    problem: str, rows: pa.Table, columns: list[str]
) -> tuple[dict[str, float], list[CalibrationBin]]:
    """The measures and the calibration of labelled predictions (``rows``: LABEL and the
    model's output ``columns``)."""
    label = rows.column(LABEL)
    if problem == "binary":
        y = binary_labels(label)
        p = rows.column(names.PROBABILITY_COLUMN).to_numpy().astype(np.float64)
        return binary_measures(y, p), calibration(y, p)
    if problem == "multiclass":
        probability_columns = [c for c in columns if c.startswith(CLASS_PREFIX)]
        classes = [c.removeprefix(CLASS_PREFIX) for c in probability_columns]
        y_class = class_indexes(label, classes)
        probabilities = np.column_stack(
            [rows.column(c).to_numpy().astype(np.float64) for c in probability_columns]
        ).reshape(rows.num_rows, len(classes))
        return (
            multiclass_measures(y_class, probabilities),
            top_class_calibration(y_class, probabilities),
        )
    if problem == "regression":
        values = numbers(label)
        predicted = rows.column(names.PREDICTION_COLUMN).to_numpy().astype(np.float64)
        return regression_measures(values, predicted), calibration(values, predicted)
    raise UnmeasurableLabels(f"no measures for a {problem!r} model")
