"""Inference entry point for SageMaker's scikit-learn serving container and batch transform.

The container (an endpoint or a batch transform job) extracts ``model.tar.gz`` (what
``train.py`` wrote to ``SM_MODEL_DIR``) to ``/opt/ml/model``, imports this module
(``SAGEMAKER_PROGRAM=inference.py``) and calls::

    model = model_fn("/opt/ml/model")          # once per worker
    data = input_fn(request_body, content_type)  # per request
    prediction = predict_fn(data, model)
    body, content_type = output_fn(prediction, accept)

Beside numpy, pandas, joblib and scikit-learn (in the container) the module needs only
``driftline_runtime.names``, which the source tarball bundles next to it, so it loads
however a runner imports it. ``train.py`` uses
:func:`prepare_features` from here, so training and serving turn raw values into model
input the same way.

Input: ``text/csv`` — what batch transform sends, and how the batch pipeline writes its input
    No header; one record per line; several records per request (``SplitType=Line``,
    ``BatchStrategy=MultiRecord``). Each line is ``<id>,<feature 1>,...,<feature n>``: the
    id first, then the features in the order of ``feature_columns`` in ``model.joblib``
    (``evaluation.json`` and ``baseline.json`` list the same order). An empty field is a
    missing value; booleans are ``true``/``false`` (or ``1``/``0``); standard CSV quoting.
    A first line that equals the header (``<id column>,<feature names>``) is skipped.
Input: ``application/json``
    A list of objects with named fields (or ``{"instances": [...]}``); every feature must be
    present (``null`` is a missing value); the id field is optional, other fields are ignored.
Input: ``application/x-parquet`` (or ``application/parquet``)
    A Parquet file with named columns, as for JSON (reading it needs pyarrow).

Output: one prediction per input record, in input order; the prediction is the model's
probability of fraud (``is_fraud = 1``).
    ``text/csv``: lines ``<id>,<probability>`` (eight decimals), no header, no trailing
    newline (batch transform's ``AssembleWith=Line`` separates the requests' outputs).
    ``application/json``: ``{"predictions": [{"<id column>": id, "probability": p}, ...]}``.
``output_fn`` returns ``(body, content_type)``, which both of the container's serving
stacks accept. Unsupported content types raise :class:`UnsupportedContentTypeError`; records
that do not fit the model raise :class:`InvalidInputError` (a ``ValueError``), with a
message that says which record or column is wrong.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from driftline_runtime import names

MODEL_FILE = "model.joblib"
MODEL_FORMAT = "driftline-fraud-model/1"

CSV = "text/csv"
JSON = "application/json"
PARQUET = "application/x-parquet"
CONTENT_TYPES = (CSV, JSON, PARQUET)
ACCEPTS = (CSV, JSON)
_ALIASES = {"application/parquet": PARQUET}

# Feature kinds, as train.py infers them from the training split.
NUMERIC, BOOLEAN, CATEGORICAL = names.NUMERIC, names.BOOLEAN, names.CATEGORICAL
# The category a missing categorical value becomes (the baseline counts it under this name).
NULL_CATEGORY = names.NULL_CATEGORY
_TRUE = frozenset({"true", "t", "yes", "y", "1", "1.0"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "0.0"})
PROBABILITY_DECIMALS = 8


class InvalidInputError(ValueError):
    """A request or a data file whose records do not fit the model."""


class UnsupportedContentTypeError(ValueError):
    """A request or response content type this module does not handle."""


@dataclass(frozen=True)
class FraudModel:
    """What :func:`model_fn` returns: the fitted pipeline and how to feed it."""

    pipeline: Any  # sklearn.pipeline.Pipeline: a preprocessor, then the classifier
    id_column: str
    feature_columns: tuple[str, ...]
    feature_kinds: Mapping[str, str]  # column -> numeric | boolean | categorical


@dataclass(frozen=True)
class Records:
    """What :func:`input_fn` returns: positional CSV records (id first) or named columns.

    Which value is which feature is known only with the model, in :func:`predict_fn`.
    """

    rows: list[list[str]] | None = None
    frame: pd.DataFrame | None = None


@dataclass(frozen=True)
class Prediction:
    """What :func:`predict_fn` returns: one fraud probability per input record, in order."""

    id_column: str
    ids: list[str | None]
    probabilities: list[float]


# -- the four handlers -------------------------------------------------------------------
def model_fn(model_dir: str) -> FraudModel:
    """Load ``model.joblib`` from the extracted model artefact."""
    path = Path(model_dir) / MODEL_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the model artefact holds no {MODEL_FILE}")
    bundle = joblib.load(path)
    if not isinstance(bundle, dict) or bundle.get("format") != MODEL_FORMAT:
        raise ValueError(f"{path} is not a {MODEL_FORMAT} bundle written by train.py")
    columns = tuple(str(column) for column in bundle["feature_columns"])
    kinds = {str(column): str(kind) for column, kind in bundle["feature_kinds"].items()}
    return FraudModel(
        pipeline=bundle["pipeline"],
        id_column=str(bundle["id_column"]),
        feature_columns=columns,
        feature_kinds={column: kinds[column] for column in columns},
    )


def input_fn(request_body: str | bytes, request_content_type: str | None) -> Records:
    """Parse a request body (see the module docstring for the formats)."""
    content_type = _media_type(request_content_type, default=CSV)
    if content_type == CSV:
        return _parse_csv(_text(request_body))
    if content_type == JSON:
        return _records_from_objects(_parse_json(_text(request_body)))
    if content_type == PARQUET:
        return _parse_parquet(request_body)
    raise UnsupportedContentTypeError(
        f"unsupported content type {request_content_type!r}: send one of {', '.join(CONTENT_TYPES)}"
    )


def predict_fn(input_data: Records, model: FraudModel) -> Prediction:
    """The probability of fraud for every record."""
    ids, frame = _ids_and_features(input_data, model)
    if not ids:
        return Prediction(model.id_column, [], [])
    features = prepare_features(frame, model.feature_kinds)
    probabilities = positive_probabilities(model.pipeline, features)
    return Prediction(model.id_column, ids, [float(p) for p in probabilities])


def output_fn(prediction: Prediction, accept: str | None) -> tuple[str, str]:
    """Serialise the predictions; returns ``(body, content_type)``."""
    content_type = _media_type(accept, default=CSV)
    if content_type == CSV:
        return _format_csv(prediction), CSV
    if content_type == JSON:
        return _format_json(prediction), JSON
    raise UnsupportedContentTypeError(
        f"unsupported accept type {accept!r}: ask for one of {', '.join(ACCEPTS)}"
    )


# -- shared with train.py ----------------------------------------------------------------
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


# -- parsing -----------------------------------------------------------------------------
def _media_type(value: str | None, *, default: str) -> str:
    """``text/csv; charset=utf-8`` -> ``text/csv``; nothing or ``*/*`` -> ``default``."""
    media = (value or "").split(";", 1)[0].strip().lower()
    if media in ("", "*/*"):
        return default
    return _ALIASES.get(media, media)


def _text(body: str | bytes) -> str:
    if isinstance(body, bytes | bytearray):
        return bytes(body).decode("utf-8-sig")
    return body


def _parse_csv(text: str) -> Records:
    rows = [row for row in csv.reader(io.StringIO(text)) if any(field.strip() for field in row)]
    return Records(rows=rows)


def _parse_json(text: str) -> list[Any]:
    try:
        document = json.loads(text) if text.strip() else []
    except json.JSONDecodeError as error:
        raise InvalidInputError(f"the JSON body is not valid JSON: {error}") from error
    if isinstance(document, dict) and isinstance(document.get("instances"), list):
        document = document["instances"]
    if not isinstance(document, list):
        raise InvalidInputError('the JSON body must be a list of objects or {"instances": [...]}')
    return document


def _records_from_objects(objects: list[Any]) -> Records:
    bad = next((i for i, item in enumerate(objects) if not isinstance(item, dict)), None)
    if bad is not None:
        raise InvalidInputError(f"JSON record {bad + 1} is not an object with named fields")
    return Records(frame=pd.DataFrame.from_records(objects))


def _parse_parquet(body: str | bytes) -> Records:
    if isinstance(body, str):
        raise InvalidInputError("a Parquet body must be bytes, not text")
    try:
        frame = pd.read_parquet(io.BytesIO(body))
    except ImportError as error:
        raise UnsupportedContentTypeError(f"reading Parquet needs pyarrow: {error}") from error
    except Exception as error:
        raise InvalidInputError(f"the body is not a readable Parquet file: {error}") from error
    return Records(frame=frame.reset_index(drop=True))


def _ids_and_features(records: Records, model: FraudModel) -> tuple[list[str | None], pd.DataFrame]:
    """The records' ids and their raw feature values as named columns."""
    if records.rows is not None:
        return _csv_ids_and_features(records.rows, model)
    frame = records.frame if records.frame is not None else pd.DataFrame()
    if model.id_column in frame.columns:
        ids = [None if _is_missing(value) else str(value) for value in frame[model.id_column]]
    else:
        ids = [None] * len(frame)
    return ids, frame


def _csv_ids_and_features(
    rows: list[list[str]], model: FraudModel
) -> tuple[list[str | None], pd.DataFrame]:
    columns = list(model.feature_columns)
    if rows and [field.strip() for field in rows[0]] == [model.id_column, *columns]:
        rows = rows[1:]  # a header line, although batch transform sends none
    expected = len(columns) + 1
    for number, row in enumerate(rows, start=1):
        if len(row) != expected:
            raise InvalidInputError(
                f"CSV record {number} has {len(row)} fields; expected {expected}: "
                f"{model.id_column},{','.join(columns)} (without a header line)"
            )
    ids: list[str | None] = [row[0] for row in rows]
    frame = pd.DataFrame([row[1:] for row in rows], columns=columns, dtype=object)
    return ids, frame


# -- conversion --------------------------------------------------------------------------
def _is_missing(value: Any) -> bool:
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


# -- serialising -------------------------------------------------------------------------
def _format_csv(prediction: Prediction) -> str:
    sink = io.StringIO()
    writer = csv.writer(sink, lineterminator="\n")
    for record_id, probability in zip(prediction.ids, prediction.probabilities, strict=True):
        writer.writerow(["" if record_id is None else record_id, _decimal(probability)])
    return sink.getvalue().rstrip("\n")


def _format_json(prediction: Prediction) -> str:
    predictions = [
        {prediction.id_column: record_id, "probability": round(probability, PROBABILITY_DECIMALS)}
        for record_id, probability in zip(prediction.ids, prediction.probabilities, strict=True)
    ]
    return json.dumps({"predictions": predictions}, allow_nan=False)


def _decimal(probability: float) -> str:
    return f"{probability:.{PROBABILITY_DECIMALS}f}"
