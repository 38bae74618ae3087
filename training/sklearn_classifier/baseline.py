"""The training baseline the drift monitor compares scoring data with (``baseline.json``).

Its schema is ``driftline_runtime.baseline.Baseline``; this module writes the same
document as plain JSON, since the framework container has no pydantic to rely on.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from driftline_runtime import names

from .dataset import FeatureSet
from .features import BOOLEAN, CATEGORICAL, NUMERIC
from .hyperparameters import Hyperparameters
from .target import BINARY, MULTICLASS, Target

BASELINE_QUANTILES = tuple(i / 10 for i in range(1, 10))  # the deciles
# The drift monitor's KS test compares a batch with the training values themselves:
# all of them up to this many, else this many evenly spaced quantiles (the empirical
# distribution to within 1/SKETCH_SIZE, far below any KS threshold a batch reaches).
SKETCH_SIZE = names.BASELINE_SKETCH_SIZE
# The baseline lists categories with at least this share (at most this many); the rest
# are counted under OTHER_CATEGORY.
MIN_BASELINE_SHARE = 0.005
MAX_BASELINE_CATEGORIES = 50
OTHER_CATEGORY = names.OTHER_CATEGORY
NULL_CATEGORY = names.NULL_CATEGORY


def quantile_sketch(present: np.ndarray[Any, Any]) -> list[float]:
    """The sorted values, or SKETCH_SIZE of them at the probabilities (i + 0.5) / size.

    ``inverted_cdf`` picks observed values, so a discrete column keeps its point masses.
    """
    if len(present) <= SKETCH_SIZE:
        return [float(value) for value in np.sort(present)]
    probabilities = (np.arange(SKETCH_SIZE) + 0.5) / SKETCH_SIZE
    return [float(v) for v in np.quantile(present, probabilities, method="inverted_cdf")]


def numeric_profile(values: np.ndarray[Any, Any]) -> dict[str, Any]:
    """Decile bins, moments, the null share and the quantile sketch of one numeric
    column (see build_baseline)."""
    values = np.asarray(values, dtype=np.float64)
    present = values[~np.isnan(values)]
    profile: dict[str, Any] = {
        "kind": NUMERIC,
        "rows": int(len(values)),
        "count": int(len(present)),
        "null_share": float(1 - len(present) / len(values)) if len(values) else 0.0,
        "bin_edges": [],
        "bin_shares": [],
        "mean": None,
        "std": None,
        "min": None,
        "max": None,
        "quantiles": quantile_sketch(present),
    }
    if len(present) == 0:
        return profile
    edges = np.unique(np.quantile(present, BASELINE_QUANTILES))
    counts = np.bincount(np.searchsorted(edges, present, side="left"), minlength=len(edges) + 1)
    profile.update(
        bin_edges=[float(edge) for edge in edges],
        bin_shares=[float(count) / len(present) for count in counts],
        mean=float(present.mean()),
        std=float(present.std()),
        min=float(present.min()),
        max=float(present.max()),
    )
    return profile


def categorical_profile(
    values: pd.Series, kind: str = CATEGORICAL, *, every_category: bool = False
) -> dict[str, Any]:
    """Category shares of one categorical column (see build_baseline); a boolean column,
    or ``every_category``, lists every category however rare."""
    total = len(values)
    counts = values.value_counts(sort=True)
    nulls = int(counts.get(NULL_CATEGORY, 0))
    counts = counts.drop(NULL_CATEGORY, errors="ignore")
    keep_all = kind == BOOLEAN or every_category
    kept = [
        (str(category), int(count))
        for category, count in counts.items()
        if keep_all or count >= MIN_BASELINE_SHARE * total
    ][: None if keep_all else MAX_BASELINE_CATEGORIES]
    other = total - nulls - sum(count for _, count in kept)
    frequencies = {category: count / total for category, count in kept}
    frequencies[OTHER_CATEGORY] = other / total
    frequencies[NULL_CATEGORY] = nulls / total
    return {
        "kind": kind,
        "rows": total,
        "count": total - nulls,
        "null_share": nulls / total,
        "distinct": int(len(counts)),
        "frequencies": frequencies,
    }


def boolean_profile(values: pd.Series) -> dict[str, Any]:
    """A boolean column (0/1/NaN) as the categories ``false`` and ``true``."""
    text = values.map({0.0: "false", 1.0: "true"}).fillna(NULL_CATEGORY)
    profile = categorical_profile(text, BOOLEAN)
    for category in ("false", "true"):
        profile["frequencies"].setdefault(category, 0.0)
    return profile


def build_baseline(
    x: pd.DataFrame,
    y: np.ndarray[Any, Any],
    predicted: np.ndarray[Any, Any],
    features: FeatureSet,
    settings: Hyperparameters,
    target: Target,
) -> dict[str, Any]:
    """The training baseline the drift monitor compares scoring data with.

    The features are profiled on the train split, on the values the model sees (after
    :func:`prepare_features`, before imputation); the prediction on the test split
    (``predicted``: the positive class's probability, the predicted class or the predicted
    value, by problem), rows the model did not learn from, as a batch will be::

        {
          "schema_version": 2,
          "split": "train", "rows": int,
          "positive_rate": float | null,          # binary only
          "problem": "binary" | "multiclass" | "regression",
          "classes": [str, ...] | null,            # multiclass: the model's class order
          "target_column": str, "id_column": str,
          "feature_columns": [str, ...],          # model input order
          "binning": {"quantiles": [0.1, ..., 0.9], "bins": "...", "assign": "..."},
          "features": {                            # one entry per feature, in that order
            "<numeric column>": {
              "kind": "numeric",
              "rows": int,                         # rows profiled, nulls included (v2)
              "count": int,                        # non-null values
              "null_share": float,                 # share of all rows that are null
              "bin_edges": [float, ...],           # deciles, deduplicated, increasing
              "bin_shares": [float, ...],          # len(bin_edges) + 1 shares of the
                                                   # non-null values; they sum to 1
              "mean": float, "std": float,         # std: population (ddof=0)
              "min": float, "max": float,          # all null when count is 0
              "quantiles": [float, ...]            # v2: the non-null values sorted, or
                                                   # SKETCH_SIZE quantiles of them at
                                                   # (i + 0.5) / SKETCH_SIZE
            },
            "<categorical column>": {
              "kind": "categorical",
              "rows": int,                         # v2
              "count": int, "null_share": float,
              "distinct": int,                     # distinct non-null categories
              "frequencies": {                     # shares of all rows; they sum to 1
                "<category>": float, ...,          # share >= 0.5 %, at most 50, by share
                "__other__": float,                # every other category (and, when
                                                   # scoring, categories never seen)
                "__null__": float                  # missing values
              }
            },
            "<boolean column>": {"kind": "boolean", ... as categorical, with the
                                 categories "false" and "true" always listed}
          },
          "prediction": {...numeric form..., "kind": "numeric",
                         "split": "test"}          # the predicted probability (binary) or
                                                   # value (regression) of the test split
                                                   # (v1: of the train split, no "split");
                                                   # multiclass: the categorical form over
                                                   # the predicted classes
        }

    Version 2 only adds keys; a reader of version 1 still finds everything it knew.

    Bins are right-closed with open ends: ``(-inf, e0], (e0, e1], ..., (e_last, +inf)``;
    the bin of a value ``v`` is ``numpy.searchsorted(bin_edges, v, side="left")``.
    """
    profiles: dict[str, dict[str, Any]] = {}
    for column, kind in features.kinds.items():
        if kind == NUMERIC:
            profiles[column] = numeric_profile(x[column].to_numpy(dtype=np.float64))
        elif kind == BOOLEAN:
            profiles[column] = boolean_profile(x[column])
        else:
            profiles[column] = categorical_profile(x[column])
    if target.problem == MULTICLASS:
        predicted_classes = pd.Series(predicted, dtype=object)
        prediction = categorical_profile(predicted_classes, every_category=True)
        for label in target.classes:  # every class listed, predicted or not
            prediction["frequencies"].setdefault(label, 0.0)
    else:
        prediction = numeric_profile(np.asarray(predicted, dtype=np.float64))
    prediction["split"] = names.HELD_OUT_SPLIT
    return {
        "schema_version": names.BASELINE_SCHEMA_VERSION,
        "split": names.TRAIN_SPLIT,
        "rows": len(y),
        "positive_rate": float(np.mean(y)) if target.problem == BINARY else None,
        "problem": target.problem,
        "classes": list(target.classes) if target.problem == MULTICLASS else None,
        "target_column": settings.target_column,
        "id_column": settings.id_column,
        "feature_columns": features.columns,
        "binning": {
            "quantiles": list(BASELINE_QUANTILES),
            "bins": "right-closed with open ends: (-inf, e0], (e0, e1], ..., (e_last, +inf)",
            "assign": "numpy.searchsorted(bin_edges, value, side='left')",
        },
        "features": profiles,
        "prediction": prediction,
    }
