"""The unique key over a file read in batches, in bounded memory, exactly.

Each batch's complete keys (no part null), in their contract types, are kept with their
0-based row numbers. While they fit in ``budget`` bytes they stay in memory; past it
they are spilled to the working folder, split by a hash of the key into partitions, so
that equal keys always meet in one partition and each partition fits in memory again
(one that does not is split once more with another seed). At the end each part is
grouped exactly with Arrow (no hash is trusted to tell keys apart): a row whose key came
on an earlier row repeats it.

The usual file has no repeats: a single fixed-width or integer key column is first
hashed with numpy, and distinct hashes (told apart by counting them into buckets) prove
distinct keys without grouping.
"""

from __future__ import annotations

import heapq
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from driftline_runtime.validation.fixed_width import fixed_width_bytes, row_hashes

ROW = "__row"
_PARTITIONS = 64
_DEPTH = 3
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
# The bucket counts of ``_distinct``: 2**20 of them take 8 MiB, and more are slower to
# count into than they save in sorting (measured on 0.3 and 1 million keys).
_BUCKET_PASSES = 2
_MOST_BUCKET_BITS = 20


@dataclass
class Repeats:
    """The rows whose key repeats an earlier row's: how many, the first ones with their
    keys, and all their row numbers, in memory or, past ``budget`` of them, in one file
    per range of ``budget`` rows (so each range fits in memory when read in order)."""

    budget: int
    workdir: Path | None
    count: int = 0
    first: list[tuple[int, list[object]]] = field(default_factory=list)
    rows: list[np.ndarray] = field(default_factory=list)
    held: int = 0
    ranges: Path | None = None

    def add(self, rows: np.ndarray) -> None:
        self.count += len(rows)
        if self.ranges is None:
            self.rows.append(rows)
            self.held += len(rows)
            if self.held <= self.budget or self.workdir is None:
                return
            self.ranges = Path(tempfile.mkdtemp(dir=self.workdir, prefix="repeats-"))
            rows, self.rows, self.held = np.concatenate(self.rows), [], 0
        buckets = rows // self.budget
        for bucket in np.unique(buckets):
            with (self.ranges / f"{int(bucket):012d}.rows").open("ab") as out:
                out.write(rows[buckets == bucket].astype(np.int64).tobytes())

    def in_order(self) -> Iterator[np.ndarray]:
        """The repeating rows, sorted, a range at a time."""
        if self.ranges is None:
            if self.rows:
                yield np.sort(np.concatenate(self.rows))
            return
        for path in sorted(self.ranges.iterdir()):
            yield np.sort(np.fromfile(path, dtype=np.int64))


class KeyIndex:
    def __init__(self, names: tuple[str, ...], budget: int, workdir: Path | None) -> None:
        self.names = names
        self.budget = budget
        self.workdir = workdir
        self._tables: list[pa.Table] = []
        self._bytes = 0
        self._spill: _Partitions | None = None
        # A single key column's fast hashes, batch by batch, while every batch had them.
        self._hashes: list[np.ndarray] | None = [] if len(names) == 1 else None

    def add(
        self, columns: list[pa.ChunkedArray], offset: int, hashes: np.ndarray | None = None
    ) -> None:
        """The batch's key columns (contract types) for rows starting at ``offset``, and
        for a single key column its :func:`fast_hashes`, when the caller computed them
        alongside the batch's other checks (else the end of the file hashes the key)."""
        rows = pa.array(np.arange(offset, offset + len(columns[0]), dtype=np.int64))
        table = pa.table([*columns, rows], names=[*self.names, ROW])
        complete = None
        for column in columns:
            if column.null_count:
                valid = column.is_valid()
                complete = valid if complete is None else pc.and_(complete, valid)
        if complete is not None:
            table = table.filter(complete)  # a row with a null key part repeats nothing
        if self._spill is not None:
            self._spill.write(table)
            return
        self._tables.append(table)
        self._bytes += table.nbytes
        if self._hashes is not None:
            if hashes is None or len(hashes) != table.num_rows:
                self._hashes = None
            else:
                self._hashes.append(hashes)
                self._bytes += hashes.nbytes
        if self._bytes > self.budget and self.workdir is not None:
            self._spill = _Partitions(self.workdir, self.names, seed=1)
            for kept in self._tables:
                self._spill.write(kept)
            self._tables, self._bytes, self._hashes = [], 0, None

    def repeats(self) -> Repeats:
        found = Repeats(budget=max(1, self.budget // 8), workdir=self.workdir)
        parts: Iterator[pa.Table]
        hashed = self._spill is None and bool(self._hashes)
        if hashed and self._hashes and _distinct(np.concatenate(self._hashes)):
            return found  # distinct hashes: distinct keys
        if self._spill is None:
            parts = iter([pa.concat_tables(self._tables)] if self._tables else [])
        else:
            parts = self._spill.parts(self.budget)  # one partition in memory at a time
        for part in parts:
            _collect(found, _repeating(part, self.names, hashed=hashed))
        return found


def _collect(found: Repeats, repeating: pa.Table) -> None:
    if not repeating.num_rows:
        return
    rows = repeating[ROW].to_numpy()
    found.add(rows)
    smallest = np.argsort(rows)[:5]
    keys = repeating.select(list(repeating.column_names[:-1])).take(pa.array(smallest))
    values = [list(values) for values in zip(*keys.to_pydict().values(), strict=True)]
    found.first = heapq.nsmallest(
        5, found.first + list(zip(rows[smallest].tolist(), values, strict=True))
    )


def _repeating(table: pa.Table, names: tuple[str, ...], *, hashed: bool = False) -> pa.Table:
    """The rows of ``table`` whose key is on a row with a smaller number (``hashed``: the
    fast hashes already told that some may repeat)."""
    if table.num_rows < 2 or (len(names) == 1 and not hashed and _surely_unique(table[names[0]])):
        return table.slice(0, 0)
    firsts = table.group_by(list(names)).aggregate([(ROW, "min")])[f"{ROW}_min"]
    return table.filter(pc.invert(pc.is_in(table[ROW], value_set=firsts)))


def _surely_unique(column: pa.ChunkedArray) -> bool:
    """Whether the values are all distinct, settled cheaply for the usual, clean file:
    distinct :func:`fast_hashes` prove distinct values. Equal hashes may be a collision,
    so they answer False and the exact grouping decides."""
    keys = fast_hashes(column)
    if keys is None:
        return bool(pc.count_distinct(column).as_py() == len(column))
    return _distinct(keys)


def fast_hashes(column: pa.ChunkedArray) -> np.ndarray | None:
    """A 64-bit number per value, equal for equal values, where one is cheap: fixed-width
    text hashed, integers (datetimes too) mixed one to one; None otherwise (nulls, text
    of varying width). Batches of one column may be hashed apart and their hashes joined:
    equal values have equal widths, so they always meet the same hash."""
    matrix = fixed_width_bytes(column)
    if matrix is not None:
        return row_hashes(matrix)
    if column.null_count or not (
        pa.types.is_integer(column.type) or pa.types.is_timestamp(column.type)
    ):
        return None
    # splitmix's finaliser is a bijection: distinct integers stay distinct, and the
    # buckets of _distinct get well-spread top bits even from consecutive ids.
    return _mix(column.cast(pa.int64()).to_numpy().view(np.uint64))


def _distinct(keys: np.ndarray) -> bool:
    """Whether the 64-bit ``keys`` are all distinct.

    Sorting a million keys costs 50 ms; counting them into about as many buckets by a
    window of their bits costs a few, and a key alone in its bucket cannot equal
    another. Two windows leave about a quarter of the keys, which are sorted and
    compared with their neighbours: measured in a fresh process (its counts' pages
    touched for the first time), 60-80% of the time of sorting them all.
    """
    candidates, shift = keys, 64
    for _ in range(_BUCKET_PASSES):
        bits = min(max(len(candidates).bit_length(), 8), _MOST_BUCKET_BITS)
        shift -= bits
        window = (candidates >> np.uint64(shift)) & np.uint64((1 << bits) - 1)
        buckets = window.astype(np.intp)
        crowded = np.bincount(buckets, minlength=1 << bits)[buckets] > 1
        candidates = candidates[crowded]
    candidates = np.sort(candidates)
    return not bool(np.any(candidates[1:] == candidates[:-1]))


class _Partitions:
    """Key rows spilled to Arrow IPC files, one per hash partition."""

    def __init__(self, workdir: Path, names: tuple[str, ...], seed: int) -> None:
        self.folder = Path(tempfile.mkdtemp(dir=workdir, prefix="keys-"))
        self.names, self.seed = names, seed
        self.writers: dict[int, pa.ipc.RecordBatchStreamWriter] = {}
        self.paths: dict[int, Path] = {}
        self.sizes: dict[int, int] = {}

    def write(self, table: pa.Table) -> None:
        if not table.num_rows:
            return
        partition = key_hashes([table[name] for name in self.names], self.seed) % np.uint64(
            _PARTITIONS
        )
        order = np.argsort(partition, kind="stable")
        sorted_parts = partition[order]
        bounds = np.flatnonzero(np.diff(sorted_parts)) + 1
        table = table.take(pa.array(order))
        for start, end in zip(
            np.concatenate(([0], bounds)), np.concatenate((bounds, [len(order)])), strict=True
        ):
            number = int(sorted_parts[start])
            piece = table.slice(int(start), int(end - start))
            if number not in self.writers:
                self.paths[number] = self.folder / f"part-{number:02d}.arrows"
                sink = pa.OSFile(str(self.paths[number]), "wb")
                self.writers[number] = pa.ipc.new_stream(sink, piece.schema)
            self.writers[number].write_table(piece)
            self.sizes[number] = self.sizes.get(number, 0) + piece.nbytes

    def parts(self, budget: int, depth: int = 1) -> Iterator[pa.Table]:
        """Each partition's rows, one table at a time (each fits in ``budget`` where
        hashing allows): together they are the whole file's keys, which memory need not
        hold."""
        for writer in self.writers.values():
            writer.close()
        for number, path in sorted(self.paths.items()):
            with pa.OSFile(str(path)) as source:
                table = pa.ipc.open_stream(source).read_all()
            path.unlink()
            if self.sizes[number] > budget and depth < _DEPTH:
                finer = _Partitions(self.folder, self.names, seed=self.seed + 1)
                finer.write(table)
                del table
                yield from finer.parts(budget, depth + 1)
            else:
                yield table
                del table


def key_hashes(columns: list[pa.ChunkedArray], seed: int) -> np.ndarray:
    """A 64-bit hash of each row's key (no nulls): equal keys, equal hashes."""
    with np.errstate(over="ignore"):
        hashes = np.full(len(columns[0]), np.uint64(seed) * _GOLDEN, dtype=np.uint64)
        for column in columns:
            hashes = _mix((hashes * np.uint64(31)) ^ _column_hashes(column))
    return hashes


def _column_hashes(column: pa.ChunkedArray) -> np.ndarray:
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        # One hash for every batch: a batch whose values happen to share a width must not
        # hash them another way (fixed_width's) than a batch where widths vary, or equal
        # keys would land in different partitions and never meet.
        return _text_hashes(column.combine_chunks())
    if pa.types.is_floating(column.type):
        values = np.asarray(column.to_numpy(), dtype=np.float64) + 0.0  # -0.0 == 0.0
        return _mix(values.view(np.uint64))
    if pa.types.is_boolean(column.type):
        return _mix(np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.uint64))
    return _mix(column.cast(pa.int64()).to_numpy().view(np.uint64))


def _text_hashes(array: pa.Array) -> np.ndarray:
    """Variable-width text: each value's bytes folded into a polynomial hash, vectorised."""
    array = array.cast(pa.large_string())
    count = len(array)
    _, offsets_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(offsets_buffer, np.int64, count + 1, array.offset * 8)
    lengths = np.diff(offsets)
    base = int(offsets[0])
    total = int(offsets[-1]) - base
    if total == 0 or data_buffer is None:
        return _mix(lengths.astype(np.uint64))
    data = np.frombuffer(data_buffer, np.uint8)[base : base + total].astype(np.uint64)
    starts = offsets[:-1] - base
    position = np.arange(total) - np.repeat(starts, lengths)
    weights = _powers(int(lengths.max()))[position]
    sums = np.zeros(count, dtype=np.uint64)
    filled = np.flatnonzero(lengths)  # empty values add no bytes: reduceat skips them
    sums[filled] = np.add.reduceat(data * weights, starts[filled])
    return _mix(sums ^ (lengths.astype(np.uint64) * _GOLDEN))


_POWERS = np.ones(1, dtype=np.uint64)


def _powers(length: int) -> np.ndarray:
    global _POWERS
    if len(_POWERS) < length:
        multiplier = np.uint64(0x100000001B3)
        powers = np.empty(length, dtype=np.uint64)
        powers[0] = 1
        with np.errstate(over="ignore"):
            for index in range(1, length):  # once, up to the longest key seen
                powers[index] = powers[index - 1] * multiplier
        _POWERS = powers
    return _POWERS


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every input bit moves every output bit."""
    with np.errstate(over="ignore"):
        mixed = (values ^ (values >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        mixed = (mixed ^ (mixed >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        mixed = mixed ^ (mixed >> np.uint64(31))
    return np.asarray(mixed, dtype=np.uint64)
