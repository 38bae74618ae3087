"""The model served: ``model_fn``/``input_fn``/``predict_fn``/``output_fn`` as SageMaker's
scikit-learn serving stack and batch transform call them (see ``training/inference.py``)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from driftline_runtime import names

from .features import (
    InvalidInputError,
    class_probabilities,
    is_missing,
    positive_probabilities,
    prepare_features,
)

MODEL_FILE = "model.joblib"
MODEL_FORMAT = "driftline-fraud-model/1"

CSV = "text/csv"
JSON = "application/json"
JSON_LINES = "application/jsonlines"
PARQUET = "application/x-parquet"
CONTENT_TYPES = (CSV, JSON, JSON_LINES, PARQUET)
ACCEPTS = (CSV, JSON)
_ALIASES = {
    "application/parquet": PARQUET,
    "application/x-jsonlines": JSON_LINES,
    "application/jsonl": JSON_LINES,
}
PROBABILITY_DECIMALS = 8


class UnsupportedContentTypeError(ValueError):
    """A request or response content type this module does not handle."""

    status_code = 415  # Unsupported Media Type, as an endpoint answers it


@dataclass(frozen=True)
class FraudModel:
    """What :func:`model_fn` returns: the fitted pipeline and how to feed it."""

    pipeline: Any  # sklearn.pipeline.Pipeline: a preprocessor, then the model
    id_column: str
    feature_columns: tuple[str, ...]
    feature_kinds: Mapping[str, str]  # column -> numeric | boolean | categorical
    problem: str = "binary"  # binary | multiclass | regression
    classes: tuple[str, ...] = ("0", "1")  # classification: labels in the model's order

    @property
    def output_columns(self) -> list[str]:
        return names.prediction_columns(self.problem, self.classes)


@dataclass(frozen=True)
class Records:
    """What :func:`input_fn` returns: positional CSV records (id first) or named columns.

    Which value is which feature is known only with the model, in :func:`predict_fn`.
    """

    rows: list[list[str]] | None = None
    frame: pd.DataFrame | None = None


@dataclass(frozen=True)
class Prediction:
    """What :func:`predict_fn` returns: one row of ``columns`` per input record, in order
    (binary: the positive class's probability; regression: the predicted value;
    multiclass: the predicted class, then each class's probability)."""

    id_column: str
    ids: list[str | None]
    columns: list[str]
    rows: list[tuple[float | str, ...]]

    @property
    def probabilities(self) -> list[float]:
        """A binary model's probabilities of the positive class."""
        if self.columns != [names.PROBABILITY_COLUMN]:
            raise ValueError(f"a prediction of {self.columns} holds no single probability")
        return [float(row[0]) for row in self.rows]


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
        # Bundles from before problem types are binary fraud models.
        problem=str(bundle.get("problem", "binary")),
        classes=tuple(str(label) for label in bundle.get("classes") or ("0", "1")),
    )


def input_fn(request_body: str | bytes, request_content_type: str | None) -> Records:
    """Parse a request body (see the module docstring for the formats)."""
    content_type = _media_type(request_content_type, default=CSV)
    if content_type == CSV:
        return _parse_csv(_text(request_body))
    if content_type == JSON:
        return _records_from_objects(_parse_json(_text(request_body)))
    if content_type == JSON_LINES:
        return _records_from_objects(_parse_json_lines(_text(request_body)))
    if content_type == PARQUET:
        return _parse_parquet(request_body)
    raise UnsupportedContentTypeError(
        f"unsupported content type {request_content_type!r}: send one of {', '.join(CONTENT_TYPES)}"
    )


def predict_fn(input_data: Records, model: FraudModel) -> Prediction:
    """The model's prediction for every record (see :class:`Prediction`)."""
    ids, frame = _ids_and_features(input_data, model)
    if not ids:
        return Prediction(model.id_column, [], model.output_columns, [])
    features = prepare_features(frame, model.feature_kinds)
    rows: list[tuple[float | str, ...]]
    if model.problem == "binary":
        rows = [(float(p),) for p in positive_probabilities(model.pipeline, features)]
    elif model.problem == "regression":
        rows = [(float(v),) for v in np.asarray(model.pipeline.predict(features), np.float64)]
    else:
        matrix = class_probabilities(model.pipeline, features, len(model.classes))
        rows = [(model.classes[int(row.argmax())], *(float(p) for p in row)) for row in matrix]
    return Prediction(model.id_column, ids, model.output_columns, rows)


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


def _parse_json_lines(text: str) -> list[Any]:
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as error:
            raise InvalidInputError(
                f"JSON Lines line {number} is not valid JSON: {error}"
            ) from None
    return records


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
        ids = [None if is_missing(value) else str(value) for value in frame[model.id_column]]
    else:
        ids = [None] * len(frame)
    return ids, frame


def _csv_ids_and_features(
    rows: list[list[str]], model: FraudModel
) -> tuple[list[str | None], pd.DataFrame]:
    columns = list(model.feature_columns)
    header = [field.strip() for field in rows[0]] if rows else []
    if model.id_column in header:  # a header line: the dataset's own columns, by name
        return _named_csv_ids_and_features(header, rows[1:], model)
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


def _named_csv_ids_and_features(
    header: list[str], rows: list[list[str]], model: FraudModel
) -> tuple[list[str | None], pd.DataFrame]:
    """Rows under a header, as a user drops them: any order, other columns ignored."""
    missing = [column for column in model.feature_columns if column not in header]
    if missing:
        raise InvalidInputError(
            f"the CSV header lacks feature column(s): {', '.join(missing)} "
            f"(it has {', '.join(header)})"
        )
    if len(set(header)) != len(header):
        raise InvalidInputError(f"the CSV header names a column twice: {', '.join(header)}")
    for number, row in enumerate(rows, start=1):
        if len(row) != len(header):
            raise InvalidInputError(
                f"CSV record {number} has {len(row)} fields; the header has {len(header)}"
            )
    frame = pd.DataFrame(rows, columns=header, dtype=object)
    ids: list[str | None] = [None if is_missing(v) else str(v) for v in frame[model.id_column]]
    return ids, frame[list(model.feature_columns)]


# -- serialising -------------------------------------------------------------------------
def _format_csv(prediction: Prediction) -> str:
    sink = io.StringIO()
    writer = csv.writer(sink, lineterminator="\n")
    for record_id, row in zip(prediction.ids, prediction.rows, strict=True):
        writer.writerow(["" if record_id is None else record_id, *map(_field, row)])
    return sink.getvalue().rstrip("\n")


def _format_json(prediction: Prediction) -> str:
    predictions = [
        {
            prediction.id_column: record_id,
            **{
                column: round(value, PROBABILITY_DECIMALS) if isinstance(value, float) else value
                for column, value in zip(prediction.columns, row, strict=True)
            },
        }
        for record_id, row in zip(prediction.ids, prediction.rows, strict=True)
    ]
    return json.dumps({"predictions": predictions}, allow_nan=False)


def _field(value: float | str) -> str:
    return f"{value:.{PROBABILITY_DECIMALS}f}" if isinstance(value, float) else value
