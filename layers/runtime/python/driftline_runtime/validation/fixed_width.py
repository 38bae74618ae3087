"""Fast paths for fixed-width text: a pattern subset checked, and rows hashed, with numpy.

Identifiers are mostly fixed-width ASCII (``t-`` and 12 hex digits), and so are many
enums (currencies, countries). Such a column is an n-by-width byte matrix inside Arrow's
buffer, and numpy checks a pattern on it position by position, hashes its rows, or
compares short rows as numbers with an enum's values, 2-4 times faster than RE2 or
Arrow's string hash table. :func:`fixed_width_classes` compiles the subset of regular
expressions that only match fixed-width ASCII into the bytes allowed at each position;
anything else takes the general path, with the same results.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import pyarrow as pa

_DIGITS = frozenset(b"0123456789")
_SPECIAL = frozenset(".^$*+?()[]{}|\\")


def fixed_width_classes(pattern: str) -> tuple[frozenset[int], ...] | None:
    """The bytes allowed at each position if ``pattern`` only matches fixed-width ASCII.

    That is ``^``, then ASCII literals, ``\\d`` or ``[...]`` classes (no negation), each
    optionally repeated ``{n}`` times, then ``$``. A string matches such a pattern exactly
    when it has one byte per position and each byte is in its position's set. Any other
    pattern returns None and is left to RE2.
    """
    if len(pattern) < 2 or pattern[0] != "^" or pattern[-1] != "$" or pattern.endswith("\\$"):
        return None
    body, index, positions = pattern[1:-1], 0, []
    while index < len(body):
        allowed, index = _atom(body, index)
        count, index = _repeat(body, index)
        if allowed is None or count is None:
            return None
        positions += [allowed] * count
    return tuple(positions)


def _atom(body: str, index: int) -> tuple[frozenset[int] | None, int]:
    char = body[index]
    if char == "\\":
        return _escape(body[index + 1 : index + 2]), index + 2
    if char == "[":
        end = body.find("]", index + 1)
        return (_class(body[index + 1 : end]) if end > index + 1 else None), max(end, index) + 1
    if char in _SPECIAL or not char.isascii():
        return None, index + 1
    return frozenset(char.encode()), index + 1


def _escape(char: str) -> frozenset[int] | None:
    if char == "d":
        return _DIGITS  # RE2's \d is ASCII digits
    if len(char) == 1 and char.isascii() and not char.isalnum():
        return frozenset(char.encode())
    return None  # \w, \s, \b and the like: left to RE2


def _class(inside: str) -> frozenset[int] | None:
    if inside.startswith("^") or not inside.isascii():
        return None  # a negated class also matches multi-byte characters
    allowed: set[int] = set()
    index = 0
    while index < len(inside):
        if inside[index] == "\\":
            escaped = _escape(inside[index + 1 : index + 2])
            if escaped is None:
                return None
            allowed |= escaped
            index += 2
        elif index + 2 < len(inside) and inside[index + 1] == "-":
            allowed |= set(range(ord(inside[index]), ord(inside[index + 2]) + 1))
            index += 3
        else:
            allowed.add(ord(inside[index]))
            index += 1
    return frozenset(allowed)


def _repeat(body: str, index: int) -> tuple[int | None, int]:
    if index < len(body) and body[index] in "*+?":
        return None, index + 1
    if index < len(body) and body[index] == "{":
        end = body.find("}", index)
        count = body[index + 1 : end]
        return (int(count) if count.isdigit() else None), max(end, index) + 1
    return 1, index


def fixed_width_bytes(values: pa.ChunkedArray) -> np.ndarray[Any, Any] | None:
    """The column as an n-by-width uint8 matrix (no copy), if every value is that wide.

    None when the column holds nulls, is not ``string``, or its widths differ.
    """
    if values.null_count or values.type != pa.string() or len(values) == 0:
        return None
    array = values.combine_chunks()
    _, offsets_buffer, data_buffer = array.buffers()
    count = len(array)
    offsets = np.frombuffer(offsets_buffer, np.int32, count + 1, array.offset * 4)
    width = int(offsets[1] - offsets[0])
    if int(offsets[-1] - offsets[0]) != width * count or np.any(np.diff(offsets) != width):
        return None
    if width == 0 or data_buffer is None:
        return np.empty((count, 0), dtype=np.uint8)
    data = np.frombuffer(data_buffer, np.uint8)[offsets[0] : offsets[-1]]
    return data.reshape(count, width)


def matches_positions(
    matrix: np.ndarray[Any, Any], positions: tuple[frozenset[int], ...]
) -> np.ndarray[Any, Any]:
    if matrix.shape[1] != len(positions):
        return np.zeros(len(matrix), dtype=bool)  # a byte too many or too few
    matched = np.ones(len(matrix), dtype=bool)
    for position, allowed in enumerate(positions):
        column = matrix[:, position]
        found = np.zeros(len(matrix), dtype=bool)
        for low, span in _byte_ranges(allowed):
            # One subtraction and compare per range: uint8 wraps below ``low``. That is
            # 3-4 times faster than a 256-entry lookup table, a gather per byte.
            found |= (column - np.uint8(low)) < np.uint8(span)
        matched &= found
    return matched


@cache
def _byte_ranges(allowed: frozenset[int]) -> tuple[tuple[int, int], ...]:
    """``allowed`` as runs of consecutive bytes: (first byte, length of the run)."""
    runs: list[tuple[int, int]] = []
    for byte in sorted(allowed):
        if runs and runs[-1][0] + runs[-1][1] == byte:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((byte, 1))
    return tuple(runs)


def rows_among(
    matrix: np.ndarray[Any, Any], allowed: tuple[str, ...]
) -> np.ndarray[Any, Any] | None:
    """Whether each row of a byte matrix is one of ``allowed``, or None (width over 8).

    Rows of up to 8 bytes are compared as whole numbers, not as strings through a hash
    table: an enum's few values checked 3-4 times faster than Arrow's ``is_in``.
    """
    width = matrix.shape[1]
    size = next((size for size in (1, 2, 4, 8) if size >= width), None)
    if width == 0 or size is None:
        return None
    same = [encoded for value in allowed if len(encoded := value.encode()) == width]
    if not same:
        return np.zeros(len(matrix), dtype=bool)
    number = np.dtype(f"<u{size}")
    if size == width:
        rows = np.ascontiguousarray(matrix).view(number)[:, 0]
    else:  # each byte shifted into place: twice as fast as copying into a padded matrix
        rows = np.zeros(len(matrix), dtype=number)
        for position in range(width):
            rows |= matrix[:, position].astype(number) << number.type(8 * position)
    targets = np.frombuffer(b"".join(value.ljust(size, b"\0") for value in same), number)
    return np.isin(rows, targets)


def row_hashes(matrix: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """A 64-bit hash of each row of a byte matrix: equal rows, equal hashes."""
    count, width = matrix.shape
    padded = np.zeros((count, (width + 7) // 8 * 8), dtype=np.uint8)
    padded[:, :width] = matrix
    hashes = np.zeros(count, dtype=np.uint64)
    for word in padded.view(np.uint64).T:
        hashes = (hashes ^ word) * np.uint64(0x9E3779B97F4A7C15)
        hashes ^= hashes >> np.uint64(29)
    return hashes
