"""Synthetic card transactions for the demo, the tests and ``driftline sample``.

:func:`generate_transactions` draws a seeded, fully vectorised sample that satisfies the
``transactions`` contract (``driftline_contracts.transactions``) field by field, in the
contract's column order. The fraud label comes from a noisy logistic model of the
features, so a classifier can learn it without it being trivial. ``drift`` in [0, 1]
moves the feature distributions (0 is the training distribution, 1 an obvious shift)
for drift detection, while every value stays inside the contract.

The parts: ``parameters`` (the columns and every share the draws use), ``cards`` (the
customers), ``rows`` (the transactions and their label), ``columns`` (the rows as the
contract's columns) and ``files`` (CSV, gzip CSV, Parquet, JSON Lines).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from driftline.samples.cards import card_pool_size, draw_cards
from driftline.samples.columns import columns_of, transaction_ids
from driftline.samples.files import FORMATS, write_table
from driftline.samples.parameters import FEATURES_SCHEMA, SCHEMA, TARGET, as_utc
from driftline.samples.rows import draw_rows, draw_times, fraud_labels

__all__ = [
    "FEATURES_SCHEMA",
    "FORMATS",
    "SCHEMA",
    "TARGET",
    "SampleGenerator",
    "fraud_rate",
    "generate_transactions",
    "generator_for",
    "random_rows",
    "write_table",
    "write_transactions",
]


def generate_transactions(
    rows: int,
    *,
    seed: int = 7,
    drift: float = 0.0,
    labelled: bool = True,
    end: datetime | None = None,
    concept: float = 0.0,
) -> pa.Table:
    """``rows`` transactions ordered by ``event_time`` within the 30 days up to ``end``.

    ``concept`` in [0, 1] changes how fraud follows from the features (a new fraud
    pattern, ``parameters.CONCEPT_*``) without moving the features: only labels show it.

    ``end`` defaults to now (UTC, whole minutes); a naive ``end`` is taken as UTC.
    ``labelled=False`` leaves out ``is_fraud``; the features are the same either way.
    """
    if rows < 0:
        raise ValueError(f"rows must be >= 0, not {rows}")
    if not 0.0 <= drift <= 1.0:
        raise ValueError(f"drift must be within [0, 1], not {drift}")
    if not 0.0 <= concept <= 1.0:
        raise ValueError(f"concept must be within [0, 1], not {concept}")
    end = as_utc(end) if end is not None else datetime.now(UTC).replace(second=0, microsecond=0)
    # Independent streams per concern, so e.g. the label draws never move the features.
    card_rng, row_rng, time_rng, label_rng = (
        np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(4)
    )
    cards = draw_cards(card_rng, card_pool_size(rows), drift)
    rows_ = draw_rows(row_rng, cards, rows, drift)
    seconds = draw_times(time_rng, rows_.hour, end)
    labels = fraud_labels(label_rng, rows_, concept)
    # Rows in time order, as a day's extract would be.
    order = np.argsort(seconds, kind="stable")
    columns = columns_of(rows_.take(order), cards, seconds[order])
    columns["transaction_id"] = transaction_ids(seed, rows, drift)
    columns[TARGET] = pa.array(labels[order])
    schema = SCHEMA if labelled else FEATURES_SCHEMA
    return pa.Table.from_pydict({name: columns[name] for name in schema.names}, schema=schema)


def fraud_rate(table: pa.Table) -> float | None:
    """Share of fraudulent rows, or None for an unlabelled or empty table."""
    if TARGET not in table.column_names or table.num_rows == 0:
        return None
    return float(pc.mean(table[TARGET]).as_py())


class SampleGenerator(Protocol):
    """Rows of one declared training dataset: ``labelled=False`` leaves out the target
    (rows for its inference datasets), ``drift`` in [0, 1] moves the features and
    ``concept`` in [0, 1] the relation between the features and the label."""

    def __call__(
        self,
        rows: int,
        *,
        seed: int = ...,
        drift: float = ...,
        labelled: bool = ...,
        end: datetime | None = ...,
        concept: float = ...,
    ) -> pa.Table: ...


def generator_for(dataset: str) -> SampleGenerator | None:
    """The sample generator of a training dataset, or None when it has none (what
    benchmarks and tests iterate over to cover every dataset that can be sampled)."""
    generators: dict[str, SampleGenerator] = {"transactions": generate_transactions}
    return generators.get(dataset)


def random_rows(table: pa.Table, rows: int, seed: int) -> pa.Table:
    """``rows`` rows of ``table`` drawn at random without replacement, in table order.

    A batch drawn like the training data is random rows of a large sample: one
    generated file of a few thousand rows clusters its rows (about six per card), so its
    card-level columns describe a few hundred customers, a population of its own that a
    row-level drift test rightly tells apart from the training data's.
    """
    if not 0 <= rows <= table.num_rows:
        raise ValueError(f"cannot draw {rows} rows from {table.num_rows}")
    chosen = np.random.default_rng(seed).choice(table.num_rows, size=rows, replace=False)
    return table.take(pa.array(np.sort(chosen)))


def write_transactions(
    path: Path,
    rows: int,
    *,
    seed: int = 7,
    drift: float = 0.0,
    labelled: bool = True,
    end: datetime | None = None,
) -> Path:
    """Generate and write; the format follows the suffix (see :func:`write_table`)."""
    table = generate_transactions(rows, seed=seed, drift=drift, labelled=labelled, end=end)
    return write_table(table, path)
