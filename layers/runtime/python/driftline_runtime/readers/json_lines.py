"""JSON Lines: one object per line, a repeated key or a line that is no object refused
with its line number."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pyarrow.json as pa_json

from driftline_runtime.contracts import DatasetSpec
from driftline_runtime.readers.limits import Data, UnreadableFile
from driftline_runtime.readers.text import utf8_text


def read_jsonl(data: Data, key: str, spec: DatasetSpec) -> pa.Table:
    text = utf8_text(data, key)
    try:
        return pa_json.read_json(pa.BufferReader(text))
    except pa.ArrowException:
        # Arrow stops at a bad line without saying which, and at a column whose type
        # changes (a number, then a string). Python reads the lines one by one instead.
        return _read_jsonl_lines(text.to_pybytes().decode("utf-8"), key)


class _RepeatedKey(ValueError):
    pass


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    record = dict(pairs)
    if len(record) != len(pairs):
        names = [name for name, _ in pairs]
        raise _RepeatedKey(sorted({name for name in names if names.count(name) > 1}))
    return record


def _read_jsonl_lines(text: str, key: str) -> pa.Table:
    records: list[dict[str, Any]] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        records.append(_parse_line(line, number, key))
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(record))
    return pa.table({name: _json_column([r.get(name) for r in records]) for name in names})


def _parse_line(line: str, number: int, key: str) -> dict[str, Any]:
    try:
        record = json.loads(line, object_pairs_hook=_object)
    except json.JSONDecodeError as error:
        raise UnreadableFile(
            "bad_json_line",
            f"{key} line {number} is not valid JSON: {error.msg} (column {error.colno})",
        ) from None
    except _RepeatedKey as error:
        raise UnreadableFile(
            "duplicate_columns", f"{key} line {number} names keys more than once: {error}"
        ) from None
    if not isinstance(record, dict):
        raise UnreadableFile(
            "bad_json_line",
            f"{key} line {number} holds a JSON {type(record).__name__}, not an object",
        )
    return record


def _json_column(values: list[Any]) -> pa.Array:
    """Arrow's own type for the values, or text if they mix types (for the validator)."""
    try:
        return pa.array(values)
    except (pa.ArrowException, OverflowError):
        return pa.array([_as_text(value) for value in values], pa.string())


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)
