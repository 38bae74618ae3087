"""The training window: which validated versions a run learns from, and their rows.

A retraining that learns from the single newest version mostly relearns the champion's
own data; learning from a window (by default the champion's versions plus everything
validated since) lets new data, labelled feedback among it, change the model while what
the champion knew is kept. The choice is plain logic over the versions' manifests
(:func:`choose`); :func:`combine` stacks their rows and keeps one row per id, the newest
version's, so a row that arrives again (a corrected label) is not counted twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
from driftline_runtime.contracts import TrainingWindow

ORDER_COLUMN = "__window_row"


@dataclass(frozen=True)
class ValidatedVersion:
    version: str
    ingested_at: datetime
    data_uri: str
    rows: int


def choose(
    versions: Sequence[ValidatedVersion],
    requested: str,
    window: TrainingWindow,
    champion_versions: Sequence[str] | None,
    now: datetime,
) -> list[ValidatedVersion]:
    """The window's versions, oldest first; ``requested`` is always one of them."""
    ordered = sorted(versions, key=lambda v: (v.ingested_at, v.version))
    by_name = {v.version: v for v in ordered}
    if requested not in by_name:
        raise KeyError(requested)
    if window.last_versions is None and window.last_days is None:
        chosen = _champion_and_since(ordered, champion_versions or [])
    else:
        chosen = ordered
        if window.last_versions is not None:
            chosen = chosen[-window.last_versions :]
        if window.last_days is not None:
            since = now - timedelta(days=window.last_days)
            chosen = [v for v in chosen if v.ingested_at >= since]
    names = {v.version for v in chosen} | {requested}
    return [v for v in ordered if v.version in names]


class UnknownWindowVersion(ValueError):
    pass


def explicit(
    versions: Sequence[ValidatedVersion], requested: str, named: Sequence[str]
) -> list[ValidatedVersion]:
    """The versions a request names (``requested`` added), oldest first; each validated."""
    known = {v.version for v in versions}
    missing = sorted(set(named) - known)
    if missing:
        raise UnknownWindowVersion(
            f"The training window names versions that are not validated: {', '.join(missing)}"
        )
    wanted = {*named, requested}
    return sorted((v for v in versions if v.version in wanted), key=lambda v: v.ingested_at)


def _champion_and_since(
    ordered: Sequence[ValidatedVersion], champion_versions: Sequence[str]
) -> list[ValidatedVersion]:
    known = [v for v in ordered if v.version in set(champion_versions)]
    if not known:
        return []  # no champion (or none of its versions remain): the requested one only
    newest = max(v.ingested_at for v in known)
    return [v for v in ordered if v.version in set(champion_versions) or v.ingested_at > newest]


def combine(tables: Sequence[pa.Table], id_column: str) -> tuple[pa.Table, int]:
    """The tables (oldest first) stacked, one row per id (the last one); and how many
    rows an id seen again replaced."""
    if not tables:
        raise ValueError("a training window holds at least one version")
    stacked = pa.concat_tables(list(tables), promote_options="permissive")
    stacked = stacked.append_column(ORDER_COLUMN, pa.array(range(stacked.num_rows), pa.int64()))
    newest = stacked.group_by(id_column).aggregate([(ORDER_COLUMN, "max")])
    keep = pc.sort_indices(newest.column(f"{ORDER_COLUMN}_max"))
    rows = pc.take(newest.column(f"{ORDER_COLUMN}_max"), keep)
    combined = stacked.take(rows).drop_columns([ORDER_COLUMN])
    return combined, stacked.num_rows - combined.num_rows
