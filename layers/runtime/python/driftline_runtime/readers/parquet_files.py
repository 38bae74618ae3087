"""Parquet, fully validated: a damaged page is refused, not read as bad text."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from driftline_runtime.contracts import DatasetSpec
from driftline_runtime.readers.limits import Data, UnreadableFile


def read_parquet(data: Data, key: str, spec: DatasetSpec) -> pa.Table:
    try:
        # ParquetFile, not read_table: the dataset layer behind read_table fails on
        # duplicate column names before they can be reported as such.
        table = pq.ParquetFile(pa.BufferReader(data)).read()
        # Parquet readers trust the file: a damaged page can hold text that is not
        # UTF-8. A full validation (about as fast as the read) catches it here.
        table.validate(full=True)
        return table
    except (pa.ArrowException, OSError, UnicodeDecodeError) as error:
        raise UnreadableFile(
            "not_parquet", f"{key} is not a readable Parquet file: {error}"
        ) from None
