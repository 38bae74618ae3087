"""SageMaker script-mode training entry point: driftline's fraud model.

Runs unchanged in SageMaker's prebuilt scikit-learn container (framework version 1.4-2 or
later: Python >= 3.10, scikit-learn >= 1.4, pandas, joblib) and in the local cloud, which
runs it as a host process under the same contract. The container runs ``python train.py``
with the extracted source directory (this folder) as the working directory, so the sibling
modules ``metrics`` and ``inference`` import as top-level modules. Everything comes in the
way the sagemaker-training toolkit provides it:

- channels ``SM_CHANNEL_TRAIN``, ``SM_CHANNEL_VALIDATION``, ``SM_CHANNEL_TEST`` (all three
  required): each a folder of CSV files with a header row (``*.csv`` or ``*.csv.gz``, in
  sub-folders too, read in path order and stacked; hidden files are skipped);
- hyperparameters from ``SM_HPS`` (a JSON object), else ``<config dir>/hyperparameters.json``.
  The API hands every value over as a string and the toolkit JSON-decodes what it can
  before it sets ``SM_HPS``: both forms parse (see :class:`Hyperparameters`);
- ``SM_MODEL_DIR`` for the model artefact, ``SM_OUTPUT_DATA_DIR`` for other outputs,
  ``SM_OUTPUT_DIR`` for the failure file.

A missing variable falls back to the toolkit's layout under ``$SAGEMAKER_BASE_DIR``
(default ``/opt/ml``): ``model``, ``input/data/<channel>``, ``input/config``,
``output/data``, ``output``.

The columns: the target (``is_fraud`` by default) must be 0/1 (or true/false); the id
column and ``exclude_columns`` (PII and the event time) are not features; every other
column of the train channel is a feature, its kind inferred from the train split: boolean
(only true/false), numeric (only numbers) or categorical (anything else). Validation and
test must hold the same feature columns (extra columns are ignored).

The model: numeric features median-imputed (with missing-value indicators), booleans as
0/1, categoricals one-hot (rare and unseen categories share one column), then a
``HistGradientBoostingClassifier``.

Outputs, in ``SM_MODEL_DIR`` (SageMaker packs it into ``model.tar.gz``):

- ``model.joblib``: a dict with ``format`` (``driftline-fraud-model/1``), ``pipeline`` (the
  fitted scikit-learn Pipeline), ``id_column``, ``target_column``, ``feature_columns``
  (the order the inference CSV uses after the id), ``feature_kinds`` and
  ``library_versions``; ``inference.py`` loads it;
- ``evaluation.json``: the metrics (schema at :func:`evaluation_document`), also copied to
  ``SM_OUTPUT_DATA_DIR``;
- ``baseline.json``: the training baseline for the drift monitor (schema at
  :func:`build_baseline`).

Metrics print one per line as ``<split>:<measure>=<value>;`` (``metrics.py`` has the names
and the regexes). On any error the script writes one paragraph saying what went wrong to
``<SM_OUTPUT_DIR>/failure`` (SageMaker reports it as the job's FailureReason) and exits 1.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import joblib
import numpy as np
import pandas as pd
from driftline_runtime import names

# scikit-learn (and SciPy beneath it) is imported where it is used: it takes seconds to
# import, and a job whose input is wrong fails without waiting for it.

if TYPE_CHECKING:  # mypy reads this folder as the package it is in the repository
    from training import inference, metrics
else:  # the container runs ``python train.py`` here: the siblings are top-level modules
    import inference
    import metrics

LOG = logging.getLogger("train")

CHANNELS = names.SPLITS
DEFAULT_BASE_DIR = "/opt/ml"
BASELINE_QUANTILES = tuple(i / 10 for i in range(1, 10))  # the deciles
# Categories below this share of the train split share one one-hot column...
MIN_CATEGORY_SHARE = 0.01
MAX_CATEGORIES = 30  # ...and so do all beyond the 29 most frequent.
# The baseline lists categories with at least this share (at most this many); the rest
# are counted under OTHER_CATEGORY.
MIN_BASELINE_SHARE = 0.005
MAX_BASELINE_CATEGORIES = 50
OTHER_CATEGORY = names.OTHER_CATEGORY
NULL_CATEGORY = names.NULL_CATEGORY
DECISION_THRESHOLD = 0.5
# Fewer rows of a class cannot be split for early stopping (and teach nothing anyway).
MIN_ROWS_PER_CLASS = 2


class TrainingError(Exception):
    """A problem with the job's input or settings; the message is the failure reason."""


# -- the job's folders -------------------------------------------------------------------
@dataclass(frozen=True)
class JobPaths:
    model_dir: Path
    output_data_dir: Path
    output_dir: Path
    config_dir: Path
    channels: dict[str, Path]

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> JobPaths:
        base = Path(environ.get("SAGEMAKER_BASE_DIR") or DEFAULT_BASE_DIR)

        def path(variable: str, default: Path) -> Path:
            value = environ.get(variable)
            return Path(value) if value else default

        data_dir = path("SM_INPUT_DATA_DIR", base / "input" / "data")
        return cls(
            model_dir=path("SM_MODEL_DIR", base / "model"),
            output_data_dir=path("SM_OUTPUT_DATA_DIR", base / "output" / "data"),
            output_dir=path("SM_OUTPUT_DIR", base / "output"),
            config_dir=path("SM_INPUT_CONFIG_DIR", base / "input" / "config"),
            channels={
                name: path(f"SM_CHANNEL_{name.upper()}", data_dir / name) for name in CHANNELS
            },
        )


# -- hyperparameters ---------------------------------------------------------------------
def _text(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("expected a column name")
    text = str(value).strip()
    if not text:
        raise ValueError("must not be empty")
    return text


def _columns(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else []
        except json.JSONDecodeError as error:
            raise ValueError('expected a JSON list of column names, e.g. ["card_id"]') from error
    if not isinstance(value, list):
        raise ValueError('expected a JSON list of column names, e.g. ["card_id"]')
    return tuple(_text(item) for item in value)


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError("expected a number")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError("expected a finite number")
    return number


def _integer(value: object) -> int:
    number = _number(value)
    if not number.is_integer():
        raise ValueError("expected a whole number")
    return int(number)


def _positive(parse: Callable[[object], Any]) -> Callable[[object], Any]:
    def parse_positive(value: object) -> Any:
        number = parse(value)
        if number <= 0:
            raise ValueError("must be greater than 0")
        return number

    return parse_positive


def _non_negative_integer(value: object) -> int:
    number = _integer(value)
    if not 0 <= number < 2**32:
        raise ValueError("must be within [0, 2**32)")
    return number


def _optional_depth(value: object) -> int | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null")):
        return None
    depth: int = _positive(_integer)(value)
    return depth


def _flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ValueError("expected true or false")


@dataclass(frozen=True)
class Hyperparameters:
    """The job's settings. SageMaker passes every value as a string (``"0.05"``, ``"4"``,
    ``'["card_id"]'``, ``"true"``); values the toolkit already decoded work as well."""

    target_column: str = "is_fraud"
    id_column: str = "transaction_id"
    # Not features: personal data (the card and the e-mail address) and the event time.
    exclude_columns: tuple[str, ...] = ("card_id", "customer_email", "event_time")
    learning_rate: float = 0.05
    max_iter: int = 300  # boosting iterations at most (early stopping may stop sooner)
    max_depth: int | None = 4  # "none" for no limit (the 31-leaf limit still applies)
    random_state: int = 42
    min_rows: int = 100  # fewer rows than this in the train channel fail the job
    # Stop when the loss on a 10 % hold-out of the train split stops improving.
    early_stopping: bool = True

    @classmethod
    def parse(cls, raw: Mapping[str, object]) -> Hyperparameters:
        settings = {key: value for key, value in raw.items() if not key.startswith("sagemaker_")}
        unknown = sorted(set(settings) - set(_PARSERS))
        if unknown:
            raise TrainingError(
                f"Unknown hyperparameter(s): {', '.join(unknown)}. This script takes "
                f"{', '.join(_PARSERS)}."
            )
        values: dict[str, Any] = {}
        for name, value in settings.items():
            try:
                values[name] = _PARSERS[name](value)
            except ValueError as error:
                raise TrainingError(
                    f"Hyperparameter {name}={value!r} is invalid: {error}."
                ) from error
        parsed = replace(cls(), **values)
        parsed.check()
        return parsed

    def check(self) -> None:
        if self.target_column == self.id_column:
            raise TrainingError("Hyperparameters target_column and id_column name one column.")
        if self.target_column in self.exclude_columns:
            raise TrainingError(
                f"Hyperparameter exclude_columns lists the target column {self.target_column!r}."
            )

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["exclude_columns"] = list(self.exclude_columns)
        return document


_PARSERS: dict[str, Callable[[object], Any]] = {
    "target_column": _text,
    "id_column": _text,
    "exclude_columns": _columns,
    "learning_rate": _positive(_number),
    "max_iter": _positive(_integer),
    "max_depth": _optional_depth,
    "random_state": _non_negative_integer,
    "min_rows": _positive(_integer),
    "early_stopping": _flag,
}


def read_hyperparameters(environ: Mapping[str, str], paths: JobPaths) -> Hyperparameters:
    text = environ.get("SM_HPS")
    source = "SM_HPS"
    if text is None:
        file = paths.config_dir / "hyperparameters.json"
        text = file.read_text(encoding="utf-8") if file.is_file() else "{}"
        source = str(file)
    try:
        raw = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as error:
        raise TrainingError(
            f"The hyperparameters in {source} are not valid JSON: {error}."
        ) from error
    if not isinstance(raw, dict):
        raise TrainingError(f"The hyperparameters in {source} are not a JSON object.")
    return Hyperparameters.parse(raw)


# -- reading the channels ----------------------------------------------------------------
def _is_csv(path: Path, root: Path) -> bool:
    hidden = any(part.startswith(".") for part in path.relative_to(root).parts)
    return path.is_file() and not hidden and path.name.lower().endswith((".csv", ".csv.gz"))


def _read_csv(path: Path, channel: str) -> pd.DataFrame:
    try:
        # Text as it is: kinds are decided once, from the train split (see infer_kind).
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError as error:
        raise TrainingError(f"{path} in the {channel} channel is empty: no header row.") from error
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError) as error:
        raise TrainingError(
            f"{path} in the {channel} channel is not readable CSV: {error}."
        ) from error


def read_channel(name: str, folder: Path) -> pd.DataFrame:
    """All CSV files of one channel, stacked, with the first file's column order."""
    if not folder.is_dir():
        raise TrainingError(
            f"The {name} channel is missing: {folder} is not a folder (SM_CHANNEL_{name.upper()}). "
            f"The job needs train, validation and test channels, each a folder of CSV files "
            f"with a header row."
        )
    files = sorted(path for path in folder.rglob("*") if _is_csv(path, folder))
    if not files:
        others = sorted(p.name for p in folder.rglob("*") if p.is_file())[:5]
        found = f" (it holds {', '.join(others)})" if others else " (it is empty)"
        raise TrainingError(
            f"The {name} channel ({folder}) holds no CSV files (*.csv or *.csv.gz){found}."
        )
    frames = [_read_csv(path, name) for path in files]
    columns = list(frames[0].columns)
    for path, frame in zip(files[1:], frames[1:], strict=True):
        if set(frame.columns) != set(columns):
            raise TrainingError(
                f"{path} in the {name} channel has other columns than {files[0]}: "
                f"{sorted(set(frame.columns) ^ set(columns))} differ."
            )
    data = pd.concat([frame[columns] for frame in frames], ignore_index=True)
    if data.empty:
        raise TrainingError(
            f"The {name} channel has no rows: its {len(files)} CSV file(s) hold a header only."
        )
    LOG.info("%s: %d rows from %d file(s) in %s", name, len(data), len(files), folder)
    return data


# -- features and labels -----------------------------------------------------------------
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
        return inference.BOOLEAN
    if pd.to_numeric(present, errors="coerce").notna().all():
        return inference.NUMERIC
    return inference.CATEGORICAL


def select_features(train: pd.DataFrame, settings: Hyperparameters) -> FeatureSet:
    if settings.target_column not in train.columns:
        raise TrainingError(
            f"The target column {settings.target_column!r} is not in the train channel's "
            f"header ({', '.join(map(str, train.columns))}); set the target_column "
            f"hyperparameter to the label's column."
        )
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
        x = inference.prepare_features(frame, features.kinds)
    except inference.InvalidInputError as error:
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


# -- the model ---------------------------------------------------------------------------
def build_pipeline(features: FeatureSet, settings: Hyperparameters) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    steps = [
        (
            inference.NUMERIC,
            SimpleImputer(strategy="median", add_indicator=True),
            features.of_kind(inference.NUMERIC),
        ),
        (
            inference.BOOLEAN,
            SimpleImputer(strategy="most_frequent", add_indicator=True),
            features.of_kind(inference.BOOLEAN),
        ),
        (
            inference.CATEGORICAL,
            OneHotEncoder(
                handle_unknown="infrequent_if_exist",
                min_frequency=MIN_CATEGORY_SHARE,
                max_categories=MAX_CATEGORIES,
                sparse_output=False,
                dtype=np.float64,
            ),
            features.of_kind(inference.CATEGORICAL),
        ),
    ]
    classifier = HistGradientBoostingClassifier(
        learning_rate=settings.learning_rate,
        max_iter=settings.max_iter,
        max_depth=settings.max_depth,
        early_stopping=settings.early_stopping,
        validation_fraction=0.1,
        n_iter_no_change=20,
        random_state=settings.random_state,
    )
    preprocess = ColumnTransformer([step for step in steps if step[2]], remainder="drop")
    return Pipeline([("preprocess", preprocess), ("classifier", classifier)])


def evaluate(pipeline: Any, x: pd.DataFrame, y: np.ndarray[Any, Any]) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, average_precision_score, log_loss, roc_auc_score

    probabilities = inference.positive_probabilities(pipeline, x)
    predicted = (probabilities >= DECISION_THRESHOLD).astype(np.int64)
    return {
        names.AUC_MEASURE: float(roc_auc_score(y, probabilities)),
        names.AVERAGE_PRECISION_MEASURE: float(average_precision_score(y, probabilities)),
        names.LOG_LOSS_MEASURE: float(log_loss(y, probabilities, labels=[0, 1])),
        names.ACCURACY_MEASURE: float(accuracy_score(y, predicted)),
        names.ROWS_MEASURE: float(len(y)),
    }


# -- the baseline ------------------------------------------------------------------------
def numeric_profile(values: np.ndarray[Any, Any]) -> dict[str, Any]:
    """Decile bins, moments and the null share of one numeric column (see build_baseline)."""
    values = np.asarray(values, dtype=np.float64)
    present = values[~np.isnan(values)]
    profile: dict[str, Any] = {
        "kind": inference.NUMERIC,
        "count": int(len(present)),
        "null_share": float(1 - len(present) / len(values)) if len(values) else 0.0,
        "bin_edges": [],
        "bin_shares": [],
        "mean": None,
        "std": None,
        "min": None,
        "max": None,
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


def categorical_profile(values: pd.Series, kind: str = inference.CATEGORICAL) -> dict[str, Any]:
    """Category shares of one categorical column (see build_baseline)."""
    total = len(values)
    counts = values.value_counts(sort=True)
    nulls = int(counts.get(NULL_CATEGORY, 0))
    counts = counts.drop(NULL_CATEGORY, errors="ignore")
    keep_all = kind == inference.BOOLEAN
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
        "count": total - nulls,
        "null_share": nulls / total,
        "distinct": int(len(counts)),
        "frequencies": frequencies,
    }


def boolean_profile(values: pd.Series) -> dict[str, Any]:
    """A boolean column (0/1/NaN) as the categories ``false`` and ``true``."""
    text = values.map({0.0: "false", 1.0: "true"}).fillna(NULL_CATEGORY)
    profile = categorical_profile(text, inference.BOOLEAN)
    for category in ("false", "true"):
        profile["frequencies"].setdefault(category, 0.0)
    return profile


def build_baseline(
    x: pd.DataFrame,
    y: np.ndarray[Any, Any],
    probabilities: np.ndarray[Any, Any],
    features: FeatureSet,
    settings: Hyperparameters,
) -> dict[str, Any]:
    """The training baseline the drift monitor compares scoring data with.

    Computed on the train split, on the values the model sees (after
    :func:`inference.prepare_features`, before imputation)::

        {
          "schema_version": 1,
          "split": "train", "rows": int, "positive_rate": float,
          "target_column": str, "id_column": str,
          "feature_columns": [str, ...],          # model input order
          "binning": {"quantiles": [0.1, ..., 0.9], "bins": "...", "assign": "..."},
          "features": {                            # one entry per feature, in that order
            "<numeric column>": {
              "kind": "numeric",
              "count": int,                        # non-null values
              "null_share": float,                 # share of all rows that are null
              "bin_edges": [float, ...],           # deciles, deduplicated, increasing
              "bin_shares": [float, ...],          # len(bin_edges) + 1 shares of the
                                                   # non-null values; they sum to 1
              "mean": float, "std": float,         # std: population (ddof=0)
              "min": float, "max": float           # all null when count is 0
            },
            "<categorical column>": {
              "kind": "categorical",
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
          "prediction": {...numeric form..., "kind": "numeric"}
                                                   # predicted fraud probability
        }

    Bins are right-closed with open ends: ``(-inf, e0], (e0, e1], ..., (e_last, +inf)``;
    the bin of a value ``v`` is ``numpy.searchsorted(bin_edges, v, side="left")``.
    """
    profiles: dict[str, dict[str, Any]] = {}
    for column, kind in features.kinds.items():
        if kind == inference.NUMERIC:
            profiles[column] = numeric_profile(x[column].to_numpy(dtype=np.float64))
        elif kind == inference.BOOLEAN:
            profiles[column] = boolean_profile(x[column])
        else:
            profiles[column] = categorical_profile(x[column])
    return {
        "schema_version": names.BASELINE_SCHEMA_VERSION,
        "split": names.TRAIN_SPLIT,
        "rows": len(y),
        "positive_rate": float(np.mean(y)),
        "target_column": settings.target_column,
        "id_column": settings.id_column,
        "feature_columns": features.columns,
        "binning": {
            "quantiles": list(BASELINE_QUANTILES),
            "bins": "right-closed with open ends: (-inf, e0], (e0, e1], ..., (e_last, +inf)",
            "assign": "numpy.searchsorted(bin_edges, value, side='left')",
        },
        "features": profiles,
        "prediction": numeric_profile(probabilities),
    }


# -- outputs -----------------------------------------------------------------------------
@dataclass
class TrainingResult:
    pipeline: Any
    features: FeatureSet
    settings: Hyperparameters
    metrics: dict[str, float] = field(default_factory=dict)  # "<split>:<measure>" -> value
    positive_rates: dict[str, float] = field(default_factory=dict)
    baseline: dict[str, Any] = field(default_factory=dict)


def library_versions() -> dict[str, str]:
    import sklearn

    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "pandas": pd.__version__,
        "numpy": np.__version__,
    }


def evaluation_document(result: TrainingResult) -> dict[str, Any]:
    """``evaluation.json``::

    {
      "schema_version": 1,
      "metrics": {"train:auc": float, ..., "test:rows": int},   # as printed
      "binary_classification_metrics": {                        # the test split, in
        "auc": {"value": float, "standard_deviation": "NaN"},  # SageMaker's model-
        "au_prc": {...}, "accuracy": {...}, "log_loss": {...}  # quality form
      },
      "positive_rate": {"train": float, "validation": float, "test": float},
      "target_column": str, "id_column": str,
      "feature_columns": [str, ...], "feature_kinds": {str: str},
      "hyperparameters": {...}, "iterations": int, "library_versions": {str: str}
    }
    """
    # SageMaker's model-quality keys -> the measures
    quality = {
        "auc": names.AUC_MEASURE,
        "au_prc": names.AVERAGE_PRECISION_MEASURE,
        "accuracy": names.ACCURACY_MEASURE,
        "log_loss": names.LOG_LOSS_MEASURE,
    }
    return {
        "schema_version": 1,
        "metrics": {
            name: int(value) if name.endswith(f":{names.ROWS_MEASURE}") else value
            for name, value in result.metrics.items()
        },
        "binary_classification_metrics": {
            key: {
                "value": result.metrics[names.training_metric(names.HELD_OUT_SPLIT, measure)],
                "standard_deviation": "NaN",
            }
            for key, measure in quality.items()
        },
        "positive_rate": result.positive_rates,
        "target_column": result.settings.target_column,
        "id_column": result.settings.id_column,
        "feature_columns": result.features.columns,
        "feature_kinds": result.features.kinds,
        "hyperparameters": result.settings.to_json(),
        "iterations": int(result.pipeline.named_steps["classifier"].n_iter_),
        "library_versions": library_versions(),
    }


def _write_json(path: Path, document: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n", encoding="utf-8")


def write_outputs(result: TrainingResult, paths: JobPaths) -> None:
    paths.model_dir.mkdir(parents=True, exist_ok=True)
    paths.output_data_dir.mkdir(parents=True, exist_ok=True)
    bundle = {
        "format": inference.MODEL_FORMAT,
        "pipeline": result.pipeline,
        "id_column": result.settings.id_column,
        "target_column": result.settings.target_column,
        "feature_columns": result.features.columns,
        "feature_kinds": result.features.kinds,
        "library_versions": library_versions(),
    }
    joblib.dump(bundle, paths.model_dir / inference.MODEL_FILE)
    evaluation = paths.model_dir / "evaluation.json"
    _write_json(evaluation, evaluation_document(result))
    _write_json(paths.model_dir / names.BASELINE_FILE, result.baseline)
    shutil.copyfile(evaluation, paths.output_data_dir / "evaluation.json")


# -- the job -----------------------------------------------------------------------------
def train(paths: JobPaths, settings: Hyperparameters) -> TrainingResult:
    frames = {name: read_channel(name, paths.channels[name]) for name in CHANNELS}
    features = select_features(frames["train"], settings)
    LOG.info("features: %s", ", ".join(f"{c} ({k})" for c, k in features.kinds.items()))
    splits = {name: split_xy(frames[name], name, features, settings) for name in CHANNELS}
    pipeline = build_pipeline(features, settings)
    started = time.monotonic()
    pipeline.fit(*splits["train"])
    LOG.info(
        "fitted in %.1f s, %d boosting iterations",
        time.monotonic() - started,
        pipeline.named_steps["classifier"].n_iter_,
    )
    result = TrainingResult(pipeline, features, settings)
    for name, (x, y) in splits.items():
        for measure, value in evaluate(pipeline, x, y).items():
            result.metrics[names.training_metric(name, measure)] = value
        result.positive_rates[name] = float(np.mean(y))
    x_train, y_train = splits["train"]
    probabilities = inference.positive_probabilities(pipeline, x_train)
    result.baseline = build_baseline(x_train, y_train, probabilities, features, settings)
    return result


def print_metrics(values: Mapping[str, float]) -> None:
    for name in metrics.METRIC_NAMES:
        print(metrics.format_metric(name, values[name]), flush=True)


def write_failure(paths: JobPaths, reason: str) -> None:
    """One paragraph to ``<SM_OUTPUT_DIR>/failure``, where SageMaker looks for it."""
    paragraph = " ".join(reason.split())
    print(f"Training failed: {paragraph}", file=sys.stderr, flush=True)
    try:
        paths.output_dir.mkdir(parents=True, exist_ok=True)
        (paths.output_dir / "failure").write_text(paragraph + "\n", encoding="utf-8")
    except OSError as error:
        print(f"Could not write the failure file: {error}", file=sys.stderr, flush=True)


def run(environ: Mapping[str, str]) -> int:
    paths = JobPaths.from_environ(environ)
    try:
        settings = read_hyperparameters(environ, paths)
        LOG.info("hyperparameters: %s", json.dumps(settings.to_json()))
        result = train(paths, settings)
        print_metrics(result.metrics)
        write_outputs(result, paths)
    except TrainingError as error:
        write_failure(paths, str(error))
        return 1
    except Exception as error:  # a bug or a broken environment: still say what happened
        traceback.print_exc()
        write_failure(
            paths,
            f"Training failed unexpectedly with {type(error).__name__}: {error}. "
            f"The job's log holds the traceback.",
        )
        return 1
    return 0


def main() -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return run(os.environ)


if __name__ == "__main__":
    sys.exit(main())
