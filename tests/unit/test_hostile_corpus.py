"""Every file of the hostile-input corpus, judged by the ingestion's own logic (fast).

Content cases go through the reader and validator; key cases (``..``, undeclared
datasets, zero bytes) through the refusal on key and size. The reliability suite drops
the same corpus on the local cloud.
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest
from driftline_contracts import datasets
from driftline_runtime.readers import ReaderLimits, UnreadableFile, read_table
from driftline_runtime.reasons import Reason, summary
from driftline_runtime.validation import validate

from tests.reliability.corpus import HostileFile, corpus

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "functions" / "ingest"))
from objects import dataset_of, unsafe_key_reason  # noqa: E402

SALT = "c0de"
CORPUS = corpus(SALT)
LIMITS = ReaderLimits()


def verdict(item: HostileFile) -> list[Reason]:
    """The reasons the ingestion gives for ``item`` (empty if it would be accepted)."""
    unsafe: Reason | None = unsafe_key_reason(item.key)
    if unsafe is not None:
        return [unsafe]
    dataset = dataset_of(item.key)
    spec = datasets().get(dataset)
    if spec is None:
        code = "undeclared_dataset" if "/" in item.key else "no_dataset"
        return [Reason(code=code, message=repr(dataset))]
    try:
        table = read_table(item.body, item.key, spec, LIMITS)
    except UnreadableFile as error:
        return [error.as_reason()]
    return list(validate(table, spec, datetime.now(UTC)).report.reasons)


def test_the_corpus_has_at_least_30_distinct_bad_files() -> None:
    assert len({item.case for item in CORPUS}) == len(CORPUS) >= 30
    assert len({item.key for item in CORPUS}) == len(CORPUS)
    # Files that are read must differ in content, or they would be one dataset version.
    refused_unread = ("unsafe_key", "undeclared_dataset", "no_dataset")
    read = [
        item.body for item in CORPUS if item.body and verdict(item)[0].code not in refused_unread
    ]
    assert len(set(read)) == len(read)
    assert len({item.reason for item in CORPUS}) >= 15


@pytest.mark.parametrize("item", CORPUS, ids=[item.case for item in CORPUS])
def test_each_hostile_file_gets_its_specific_reason(item: HostileFile) -> None:
    # Given a hostile file; When the ingestion judges it
    tracemalloc.start()
    started = time.perf_counter()
    reasons = verdict(item)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # Then it is rejected with the reason the corpus names, and the detail it names
    assert reasons, f"{item.case} was accepted"
    assert reasons[0].code == item.reason, reasons
    assert item.mentions in summary(reasons)
    # And what it costs is bounded by the limits, not by the file (printed with -s)
    print(f"{item.case}: {elapsed * 1000:.0f} ms, peak {peak / 2**20:.0f} MiB traced")
    assert peak < LIMITS.max_decompressed_bytes + 64 * 2**20


def test_the_gzip_bomb_stops_at_the_limit_not_at_its_size() -> None:
    bomb = next(item for item in CORPUS if item.case == "gzip_bomb")
    small = ReaderLimits(max_decompressed_bytes=4 * 2**20)
    tracemalloc.start()
    with pytest.raises(UnreadableFile) as raised:
        read_table(bomb.body, bomb.key, datasets()["scoring"], small)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert raised.value.reason == "decompression_limit"
    # The bomb holds 2 GiB; inflating stopped one chunk past the 4 MiB limit.
    assert peak < 32 * 2**20
