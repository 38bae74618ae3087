"""JSON Lines, a chunk of whole lines at a time: one object per line, a repeated key or a
line that is no object refused with its line number."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pyarrow as pa
import pyarrow.json as pa_json

from driftline_runtime.contracts import DatasetSpec
from driftline_runtime.readers.chunks import TextChunk, text_chunks
from driftline_runtime.readers.limits import ReaderLimits, UnreadableFile
from driftline_runtime.readers.modes import ReadAgain, ReadMode
from driftline_runtime.readers.text import GuardedText


def jsonl_batches(
    text: GuardedText, key: str, spec: DatasetSpec, limits: ReaderLimits, mode: ReadMode
) -> Iterator[pa.Table]:
    """The file's rows, a table per chunk; every table has every key of the file as a
    column (``mode.columns``) once a key turned up late and the file is read again."""
    known: dict[str, None] = dict.fromkeys(mode.columns)
    contract = set(spec.columns)
    started = False
    chunks = text_chunks(text, limits.batch_bytes, quotes=False)
    for chunk in chunks:
        table = _read_chunk(chunk, key)
        if table is None:
            continue
        late = [name for name in table.column_names if name not in known]
        known.update(dict.fromkeys(table.column_names))
        if late and started:
            _read_again_knowing_every_key(chunks, known, key, mode)
        started = True
        yield _conformed(table, list(known), contract, mode.text_added)
    if not started:
        if text.guard.offset == 0:
            raise UnreadableFile("empty_file", f"{key} is empty (0 bytes)")
        raise UnreadableFile("empty_file", f"{key} holds no header and no rows, only blank lines")


def _read_again_knowing_every_key(
    chunks: Iterator[TextChunk], known: dict[str, None], key: str, mode: ReadMode
) -> None:
    """A key first seen after the first batch: the rest of the file is parsed for its keys
    alone, and the read starts over with all of them."""
    for chunk in chunks:
        table = _read_chunk(chunk, key)
        if table is not None:
            known.update(dict.fromkeys(table.column_names))
    raise ReadAgain(replace(mode, columns=tuple(known)), "a key first seen after the first batch")


def _read_chunk(chunk: TextChunk, key: str) -> pa.Table | None:
    if chunk.blank:
        return None
    try:
        return pa_json.read_json(pa.BufferReader(chunk.data))
    except pa.ArrowException:
        # Arrow stops at a bad line without saying which, and at a column whose type
        # changes (a number, then a string). Python reads the lines one by one instead.
        return _read_lines(chunk, key)


def _conformed(table: pa.Table, names: list[str], contract: set[str], text_added: bool) -> pa.Table:
    """Every known column, in the order first seen; absent ones null in this chunk."""
    columns = []
    for name in names:
        if name in table.column_names:
            column = table[name]
            if text_added and name not in contract:
                column = _as_text_column(column)
            columns.append(column)
        else:
            columns.append(pa.nulls(table.num_rows, pa.string() if text_added else pa.null()))
    return pa.table(columns, names=names)


class _RepeatedKey(ValueError):
    pass


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    record = dict(pairs)
    if len(record) != len(pairs):
        names = [name for name, _ in pairs]
        raise _RepeatedKey(sorted({name for name in names if names.count(name) > 1}))
    return record


def _read_lines(chunk: TextChunk, key: str) -> pa.Table:
    records: list[dict[str, Any]] = []
    text = bytes(chunk.data).decode("utf-8")
    for number, line in enumerate(text.split("\n"), start=chunk.first_line):
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


def _as_text_column(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_string(column.type):
        return column
    try:
        return column.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.chunked_array([pa.array([_as_text(v) for v in column.to_pylist()], pa.string())])


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)
