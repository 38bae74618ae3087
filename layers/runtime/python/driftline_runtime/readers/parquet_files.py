"""Parquet, a batch of rows at a time, fully validated: a damaged page is refused, not read
as bad text."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from driftline_runtime.readers.guards import require_printable_names, require_unique_names
from driftline_runtime.readers.limits import ReaderLimits, UnreadableFile
from driftline_runtime.readers.sources import Source

_DAMAGED = (pa.ArrowException, OSError, UnicodeDecodeError)


def parquet_batches(source: Source, key: str, limits: ReaderLimits) -> Iterator[pa.Table]:
    """Batches of as many rows as inflate to about ``limits.batch_bytes``."""
    try:
        # ParquetFile, not read_table: the dataset layer behind read_table fails on
        # duplicate column names before they can be reported as such.
        parquet = pq.ParquetFile(source.random_access())
        schema = parquet.schema_arrow
    except _DAMAGED as error:
        raise _not_parquet(key, error) from None
    require_unique_names(schema.names, key)
    require_printable_names(schema.names, key)
    metadata = parquet.metadata
    if metadata.num_rows == 0:
        yield schema.empty_table()
        return
    inflated = sum(
        metadata.row_group(index).total_byte_size for index in range(metadata.num_row_groups)
    )
    rows = max(1024, limits.batch_bytes * metadata.num_rows // max(1, inflated))
    batches = parquet.iter_batches(batch_size=rows, use_threads=True)
    while True:
        try:
            batch = next(batches)
            # Parquet readers trust the file: a damaged page can hold text that is not
            # UTF-8. A full validation (about as fast as the read) catches it here.
            batch.validate(full=True)
        except StopIteration:
            return
        except _DAMAGED as error:
            raise _not_parquet(key, error) from None
        yield pa.Table.from_batches([batch])


def _not_parquet(key: str, error: Exception) -> UnreadableFile:
    return UnreadableFile("not_parquet", f"{key} is not a readable Parquet file: {error}")
