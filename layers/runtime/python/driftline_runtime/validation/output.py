"""Where the clean rows of each batch go while the file is still being read.

The verdict on a file is known only at its end, so the clean rows wait in a spool: a
Parquet file in the working folder (a row group per batch, written as the batch is
checked), or a list in memory for a table that fits there. When the end of the file
drops rows the batches had kept (a key that repeats an earlier row's), the spool is
rewritten without them, a row group at a time.

Encoding and compressing a row group costs about as much as parsing its text, so the
Parquet spool writes on a thread of its own while the next batch is read and checked
(Arrow releases the GIL for both); one write at most is in flight, so memory holds one
batch more, not a queue.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import pyarrow as pa
import pyarrow.parquet as pq

# Which rows of a spooled batch to keep: (batch number, its clean rows) -> a mask.
Keep = Callable[[int, pa.Table], pa.Array]


class Spool(Protocol):
    def start(self, schema: pa.Schema) -> None:
        """The schema of every batch to come; a spool started again starts empty (a file
        read again from its first byte)."""
        ...

    def write(self, batch: int, table: pa.Table) -> None: ...

    def tables(self) -> Iterator[tuple[int, pa.Table]]:
        """What was written, batch by batch, in order."""
        ...

    def rewrite(self, keep: Keep) -> None: ...

    def discard(self) -> None:
        """The file is rejected: nothing more is kept."""
        ...


class MemorySpool:
    def __init__(self) -> None:
        self.schema: pa.Schema | None = None
        self.parts: list[tuple[int, pa.Table]] = []
        self.discarded = False

    def start(self, schema: pa.Schema) -> None:
        self.schema, self.parts, self.discarded = schema, [], False

    def write(self, batch: int, table: pa.Table) -> None:
        if not self.discarded and table.num_rows:
            self.parts.append((batch, table))

    def tables(self) -> Iterator[tuple[int, pa.Table]]:
        yield from self.parts

    def rewrite(self, keep: Keep) -> None:
        self.parts = [(batch, table.filter(keep(batch, table))) for batch, table in self.parts]

    def discard(self) -> None:
        self.discarded, self.parts = True, []

    def table(self) -> pa.Table:
        if self.schema is None:
            raise ValueError("no batch was spooled")
        tables = [table for _, table in self.parts]
        return pa.concat_tables(tables) if tables else self.schema.empty_table()


class ParquetSpool:
    """Clean rows in a zstd Parquet file at ``path``, a row group per batch."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.schema: pa.Schema | None = None
        self._writer: pq.ParquetWriter | None = None
        self._groups: list[int] = []  # the batch of each row group
        self.discarded = False
        self.rows = 0
        self._thread: ThreadPoolExecutor | None = None
        self._pending: Future[None] | None = None

    def start(self, schema: pa.Schema) -> None:
        self.close()
        self.schema, self._groups, self.rows, self.discarded = schema, [], 0, False
        self._writer = pq.ParquetWriter(self.path, schema, compression="zstd")
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="spool")

    def write(self, batch: int, table: pa.Table) -> None:
        if self.discarded or not table.num_rows or self._writer is None:
            return
        self._wait()
        assert self._thread is not None
        self._pending = self._thread.submit(
            self._writer.write_table, table, row_group_size=table.num_rows
        )
        self._groups.append(batch)
        self.rows += table.num_rows

    def _wait(self) -> None:
        """The write in flight finished (its error, if any, raised here)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        try:
            self._wait()
        finally:
            if self._thread is not None:
                self._thread.shutdown()
                self._thread = None
            if self._writer is not None:
                self._writer.close()
                self._writer = None

    def tables(self) -> Iterator[tuple[int, pa.Table]]:
        self.close()
        if self.discarded:
            return
        reader = pq.ParquetFile(self.path)
        for group, batch in enumerate(self._groups):
            yield batch, reader.read_row_group(group)

    def rewrite(self, keep: Keep) -> None:
        if self.schema is None or self.discarded:
            return
        staged = self.path.with_suffix(".rewritten")
        groups: list[int] = []
        rows = 0
        with pq.ParquetWriter(staged, self.schema, compression="zstd") as writer:
            for batch, table in self.tables():
                kept = table.filter(keep(batch, table))
                if kept.num_rows:
                    writer.write_table(kept, row_group_size=kept.num_rows)
                    groups.append(batch)
                    rows += kept.num_rows
        staged.replace(self.path)
        self._groups, self.rows = groups, rows

    def discard(self) -> None:
        self.close()
        self.discarded = True
        self._groups = []
        self.path.unlink(missing_ok=True)


class DeclaredOnly:
    """Spools only the columns the contract declares.

    A column the contract does not declare is accepted (schema evolution, recorded as an
    added column) but left out of the curated data, so a copy of the label or another
    model's score in the file never reaches a model; ``dropped`` names them.
    """

    def __init__(self, inner: Spool, declared: Iterable[str]) -> None:
        self.inner = inner
        self.declared = set(declared)
        self.dropped: list[str] = []

    def start(self, schema: pa.Schema) -> None:
        self.dropped = [name for name in schema.names if name not in self.declared]
        kept = [found for found in schema if found.name in self.declared]
        self.inner.start(pa.schema(kept, metadata=schema.metadata))

    def write(self, batch: int, table: pa.Table) -> None:
        self.inner.write(batch, table.drop_columns(self.dropped) if self.dropped else table)

    def tables(self) -> Iterator[tuple[int, pa.Table]]:
        return self.inner.tables()

    def rewrite(self, keep: Keep) -> None:
        self.inner.rewrite(keep)

    def discard(self) -> None:
        self.inner.discard()
