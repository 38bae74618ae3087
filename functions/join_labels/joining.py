"""Joining a labels file with the predictions of the batches it labels, by id.

Plain pyarrow, no AWS. Labels may cover part of a batch, arrive late, or cover several
batches at once, so a labels file is joined with every scored run of its inference
dataset. What is never counted twice: an id repeated inside the file counts once (its
first row), and an id an earlier labels file already labelled is reported and left out
(the first label stands; a correction is a new scoring, not a second vote). Ids no
batch scored are reported too; they stay in the ledger, so a batch scored later is
measured with them once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict

ID = "id"
LABEL = "label"
ORDER = "__row"
# How many ids of each problem the report names (the counts are always whole).
EXAMPLES = 5


@dataclass(frozen=True)
class ScoredRun:
    """One batch inference run: the batch version, its model and its predictions."""

    version: str
    run: str
    model_package_arn: str
    data_uri: str
    # ID (string), then the model's output columns (names.prediction_columns)
    predictions: pa.Table

    @property
    def model_version(self) -> str:
        return self.model_package_arn.rsplit("/", 1)[-1]


class Problem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rows: int
    examples: list[str]


class LabelsJoinReport(BaseModel):
    """What became of a labels file's rows: ``accepted + duplicate_in_file.rows +
    already_labelled.rows == rows``; ``never_scored`` is part of ``accepted``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset: str
    labels_dataset: str
    labels_version: str
    rows: int
    accepted: int
    duplicate_in_file: Problem
    already_labelled: Problem
    never_scored: Problem
    # Batch version -> its newly labelled scored rows (per batch, not per run).
    batches: dict[str, int]


def labels_table(table: pa.Table, id_column: str, target: str) -> pa.Table:
    """The file's id as a string and its label as the labels contract types it (what a
    label means depends on the model's problem: ``measuring.py`` reads it)."""
    return pa.table(
        {ID: pc.cast(table.column(id_column), pa.string()), LABEL: table.column(target)}
    )


def first_per_id(labels: pa.Table) -> tuple[pa.Table, list[str]]:
    """One row per id (its first); and the ids of the extra rows, once per extra row."""
    numbered = labels.append_column(ORDER, pa.array(range(labels.num_rows), pa.int64()))
    first = numbered.group_by(ID).aggregate([(ORDER, "min")])
    keep = pc.sort_indices(first.column(f"{ORDER}_min"))
    rows = pc.take(first.column(f"{ORDER}_min"), keep)
    kept = labels.take(rows)
    extra_mask = pc.invert(pc.is_in(numbered.column(ORDER), value_set=rows))
    extra = numbered.filter(extra_mask).column(ID).to_pylist()
    return kept, [str(i) for i in extra]


@dataclass(frozen=True)
class Joined:
    accepted: pa.Table  # the file's new labels: ID, LABEL
    report: LabelsJoinReport
    touched: list[ScoredRun]  # the runs that scored one of the new labels


def join(
    *,
    dataset: str,
    labels_dataset: str,
    labels_version: str,
    labels: pa.Table,
    earlier_ids: set[str],
    runs: Sequence[ScoredRun],
) -> Joined:
    """The new labels of a file (``labels``: ID, LABEL) and what they touch."""
    unique, repeated = first_per_id(labels)
    seen = pc.is_in(unique.column(ID), value_set=pa.array(sorted(earlier_ids), pa.string()))
    already = unique.filter(seen).column(ID).to_pylist()
    accepted = unique.filter(pc.invert(seen))
    accepted_ids = accepted.column(ID)
    scored_ids: set[str] = set()
    touched: list[ScoredRun] = []
    batches: dict[str, int] = {}
    for run in runs:
        hit = pc.is_in(run.predictions.column(ID), value_set=accepted_ids)
        count = pc.sum(hit).as_py() or 0
        if count:
            touched.append(run)
            ids = run.predictions.filter(hit).column(ID).to_pylist()
            new = {str(i) for i in ids}
            batches[run.version] = max(batches.get(run.version, 0), len(new))
            scored_ids |= new
    never = [str(i) for i in accepted_ids.to_pylist() if str(i) not in scored_ids]
    report = LabelsJoinReport(
        dataset=dataset,
        labels_dataset=labels_dataset,
        labels_version=labels_version,
        rows=labels.num_rows,
        accepted=accepted.num_rows,
        duplicate_in_file=Problem(rows=len(repeated), examples=sorted(set(repeated))[:EXAMPLES]),
        already_labelled=Problem(rows=len(already), examples=sorted(map(str, already))[:EXAMPLES]),
        never_scored=Problem(rows=len(never), examples=sorted(never)[:EXAMPLES]),
        batches=batches,
    )
    return Joined(accepted=accepted, report=report, touched=touched)


def labelled_predictions(run: ScoredRun, labels: pa.Table) -> pa.Table:
    """The run's predictions that have a label: ID, the model's outputs, LABEL (one row
    per id)."""
    return run.predictions.join(labels, keys=ID, join_type="inner").select(
        [*run.predictions.column_names, LABEL]
    )
