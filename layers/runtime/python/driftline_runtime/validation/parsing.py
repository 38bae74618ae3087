"""Parsing a column into its contract type, vectorised, a bad value costing its row.

Values arrive either already typed (the readers' fast path) or as text (a CSV column
that failed the typed read, JSON with mixed types): text is parsed per value with
regular expressions and Arrow casts over the whole column, never value by value in
Python, and a value that does not parse becomes null with a mark in the failure mask.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from driftline_runtime.validation.contract import ARROW_TYPES, Kind


@dataclass(frozen=True)
class Typed:
    """A column in its contract type, with null where a present value failed to parse."""

    values: pa.ChunkedArray
    type_failures: pa.ChunkedArray | None  # True where a present value did not parse
    failed: int
    present: int  # values that were neither null nor blank


def coerce(column: pa.ChunkedArray, kind: Kind) -> Typed:
    target = ARROW_TYPES[kind]
    if column.type == target:
        return _in_range(column) if kind == "datetime" else _all_parsed(column)
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if is_text(column.type):
        return parse_text(column.cast(pa.string()), kind)
    direct = _cast_directly(column, kind)
    if direct is not None:
        return _in_range(direct) if kind == "datetime" else _all_parsed(direct)
    if kind == "str" or not _castable_to_text(column.type):
        # pydantic does not turn numbers into str either: every present value fails.
        present = column.is_valid()
        return Typed(
            pa.nulls(len(column), target), present, count_true(present), count_true(present)
        )
    return parse_text(column.cast(pa.string()), kind)


def _all_parsed(values: pa.ChunkedArray) -> Typed:
    return Typed(values, None, 0, len(values) - values.null_count)


def _in_range(values: pa.ChunkedArray) -> Typed:
    """Typed datetimes, failed where a Python datetime (pydantic's) cannot hold them."""
    micros = values.cast(pa.int64())
    if _representable(micros):
        return _all_parsed(values)
    outside = pc.or_(pc.less(micros, _EARLIEST), pc.greater(micros, _LATEST)).fill_null(False)
    failed = count_true(outside)
    kept = pc.if_else(outside, pa.scalar(None, values.type), values)
    return Typed(kept, outside, failed, len(values) - values.null_count)


def is_text(arrow_type: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(arrow_type)
        or pa.types.is_large_string(arrow_type)
        or pa.types.is_string_view(arrow_type)
    )


def _castable_to_text(arrow_type: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(arrow_type)
        or pa.types.is_floating(arrow_type)
        or pa.types.is_boolean(arrow_type)
        or pa.types.is_decimal(arrow_type)
        or pa.types.is_temporal(arrow_type)
    )


def _cast_directly(column: pa.ChunkedArray, kind: Kind) -> pa.ChunkedArray | None:
    """A lossless cast between typed columns (Parquet int32 to int64, say), or None."""
    source = column.type
    numeric = pa.types.is_integer(source) or pa.types.is_floating(source)
    allowed = {
        "int": numeric,  # a safe cast refuses 3.5 and overflow; those go value by value
        "float": numeric or pa.types.is_decimal(source),
        "datetime": pa.types.is_timestamp(source) or pa.types.is_date(source),
    }
    if not allowed.get(kind, False):
        return None
    try:
        if pa.types.is_timestamp(source):
            # A naive timestamp is taken as UTC, as naive text is; ns to us truncates.
            return column.cast(pa.timestamp("us", tz=source.tz or "UTC"), safe=False).cast(
                ARROW_TYPES[kind]
            )
        if pa.types.is_date(source):
            return column.cast(pa.timestamp("us")).cast(ARROW_TYPES[kind])
        return column.cast(ARROW_TYPES[kind])
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def parse_text(text: pa.ChunkedArray, kind: Kind) -> Typed:
    if kind == "str":
        return Typed(text, None, 0, len(text) - text.null_count)
    whole = _cast_whole(text, kind)
    if whole is not None:
        return Typed(whole, None, 0, len(whole) - whole.null_count)
    trimmed = pc.utf8_trim_whitespace(text)
    # Blank text is a missing value (as an empty CSV field is), not a bad one.
    trimmed = pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)
    parsed = _PARSERS[kind](trimmed)
    failures = pc.and_(trimmed.is_valid(), parsed.is_null())
    failed = count_true(failures)
    return Typed(parsed, failures if failed else None, failed, len(text) - trimmed.null_count)


def _cast_whole(text: pa.ChunkedArray, kind: Kind) -> pa.ChunkedArray | None:
    """Arrow's cast of the whole column, at C speed; None if any value refuses it.

    Usually only one column of a file holds the values that failed the typed read, yet
    all are read as text then: the others get through here, the one goes value by value.
    Arrow's casts accept what the value-by-value parsers do (booleans: true, false, 1, 0
    in any case; datetimes all zoned or all naive), except hexadecimal integers.
    """
    attempts = [_UTC, pa.timestamp("us")] if kind == "datetime" else [ARROW_TYPES[kind]]
    for attempt in attempts:
        try:
            cast = text.cast(attempt)
        except pa.ArrowInvalid:
            continue
        if kind == "int" and pc.any(pc.match_substring(text, "x", ignore_case=True)).as_py():
            return None  # Arrow reads 0x10 as 16, where pydantic refuses it
        if kind == "datetime" and not _representable(cast.cast(pa.int64())):
            return None  # Arrow reads year 0; the value-by-value parser refuses it
        return cast.cast(ARROW_TYPES[kind])  # naive datetimes are taken as UTC
    return None


_INTEGER = r"^[+-]?\d{1,38}(\.0*)?$"
_FLOAT = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_NON_FINITE = r"(?i)^[+-]?(nan|inf|infinity)$"
_INT64 = pa.decimal128(38, 0)


def _only(matches: pa.ChunkedArray, text: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.if_else(matches, text, pa.scalar(None, pa.string()))


def _parse_int(text: pa.ChunkedArray) -> pa.ChunkedArray:
    """Whole numbers (``3`` or ``3.0``, as pydantic), within int64; others are null.

    Arrow's own cast is not used on raw text: it reads ``0x10`` as 16 and fails the
    whole column on one bad value. The regex picks the integral values; a decimal with
    38 digits holds any of them exactly, so the int64 range check is exact too.
    """
    digits = pc.replace_substring_regex(
        _only(pc.match_substring_regex(text, _INTEGER), text), r"\.0*$|^\+", ""
    )
    exact = digits.cast(_INT64)
    fits = pc.and_(
        pc.greater_equal(exact, pa.scalar(Decimal(-(2**63)), _INT64)),
        pc.less_equal(exact, pa.scalar(Decimal(2**63 - 1), _INT64)),
    )
    return pc.if_else(fits, exact, pa.scalar(None, _INT64)).cast(pa.int64())


def _parse_float(text: pa.ChunkedArray) -> pa.ChunkedArray:
    # NaN and infinities parse, so that the finite rule reports them by name.
    number = pc.or_(
        pc.match_substring_regex(text, _FLOAT), pc.match_substring_regex(text, _NON_FINITE)
    )
    return _only(number, text).cast(pa.float64())


def _parse_bool(text: pa.ChunkedArray) -> pa.ChunkedArray:
    lowered = pc.utf8_lower(text)
    true = pc.is_in(lowered, value_set=pa.array(["true", "1"]))
    false = pc.is_in(lowered, value_set=pa.array(["false", "0"]))
    return pc.if_else(true, True, pc.if_else(false, False, pa.scalar(None, pa.bool_())))


_DATETIME = (
    r"^(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})"
    r"(?:[Tt ](?P<hour>\d{2}):(?P<minute>\d{2})"
    r"(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d{1,9}))?)?)?"
    r"(?P<zone>[Zz]|(?P<sign>[+-])(?P<zone_hour>\d{2}):?(?P<zone_minute>\d{2})?)?$"
)
_UTC = ARROW_TYPES["datetime"]


def _parse_datetime(text: pa.ChunkedArray) -> pa.ChunkedArray:
    """ISO 8601 with ``Z``, an offset or none (taken as UTC); date-only is midnight.

    A column Arrow's cast could not take whole (mixed zoned and naive values, or bad
    ones) goes through the regex: its parts are checked as numbers (month 13 or 30
    February fail that value alone, where Arrow's cast fails the column and ``strptime``
    silently rolls over into March) and assembled with numpy.
    """
    parts = pc.extract_regex(text.combine_chunks(), _DATETIME)
    matched = parts.is_valid().to_numpy(zero_copy_only=False)
    number = {name: _digits(parts.field(name)) for name in _DATETIME_PARTS}
    months = (number["year"] - 1970) * 12 + number["month"] - 1
    days = months.astype("datetime64[M]").astype("datetime64[D]") + (number["day"] - 1)
    valid = (
        matched
        & (number["year"] >= 1)
        & (number["month"] >= 1)
        & (number["month"] <= 12)
        & (number["day"] >= 1)
        & (days.astype("datetime64[M]").astype(np.int64) == months)
        & (number["hour"] <= 23)
        & (number["minute"] <= 59)
        & (number["second"] <= 59)
        & (number["zone_hour"] <= 23)
        & (number["zone_minute"] <= 59)
    )
    sign = np.where(_text(parts.field("sign")) == "-", -1, 1)
    offset = sign * (number["zone_hour"] * 3600 + number["zone_minute"] * 60)
    seconds = days.astype(np.int64) * 86_400 + number["hour"] * 3600 + number["minute"] * 60
    micros = (seconds + number["second"] - offset) * 1_000_000 + _microseconds(parts)
    # An offset can move 0001-01-01 or 9999-12-31 out of the years a datetime holds.
    valid &= (micros >= _EARLIEST) & (micros <= _LATEST)
    return pa.chunked_array([pa.array(micros, type=_UTC, mask=~valid)])


# The instants a Python datetime can hold (what pydantic can parse), in microseconds.
_EARLIEST = -62_135_596_800_000_000  # 0001-01-01T00:00:00Z
_LATEST = 253_402_300_799_999_999  # 9999-12-31T23:59:59.999999Z


def _representable(micros: pa.ChunkedArray) -> bool:
    bounds = pc.min_max(micros).as_py()
    low, high = bounds["min"], bounds["max"]
    return low is None or (low >= _EARLIEST and high <= _LATEST)


_DATETIME_PARTS = ("year", "month", "day", "hour", "minute", "second", "zone_hour", "zone_minute")


def _text(part: pa.Array) -> np.ndarray[Any, Any]:
    return np.asarray(part.fill_null("").to_numpy(zero_copy_only=False), dtype=str)


def _digits(part: pa.Array) -> np.ndarray[Any, Any]:
    """A regex group of digits as int64, 0 where it is empty (an optional part left out)."""
    filled = pc.if_else(pc.equal(part.fill_null(""), ""), "0", part)
    return np.asarray(filled.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)


def _microseconds(parts: pa.StructArray) -> np.ndarray[Any, Any]:
    fraction = parts.field("fraction").fill_null("")
    six = pc.utf8_slice_codeunits(pc.utf8_rpad(fraction, 6, "0"), 0, 6)
    return np.asarray(six.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)


_PARSERS: dict[Kind, Callable[[pa.ChunkedArray], pa.ChunkedArray]] = {
    "int": _parse_int,
    "float": _parse_float,
    "bool": _parse_bool,
    "datetime": _parse_datetime,
}


def count_true(mask: pa.ChunkedArray | pa.Array) -> int:
    return int(pc.sum(mask).as_py() or 0)
