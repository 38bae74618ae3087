"""Sample rows for any declared dataset, drawn from its contract, with a learnable target.

Each column follows its contract (``driftline_runtime.validation.compile_contract``):
numbers within their bounds, enumerations by uneven shares, booleans, times within the
30 days up to ``end`` (and within the freshness rule's age), text matching its pattern
(drawn by ``rstr``) or its length limits, and a few nulls where a column is nullable.
The id column is unique.

How each column is distributed depends only on the column's name and the training
dataset the model learns (never on ``seed``), so a training file and a scoring batch of
the same columns come from one population, and ``drift`` in [0, 1] moves every feature
away from it (bounded numbers toward their upper end, unbounded ones by up to a standard
deviation, booleans and categories toward rarer values) while staying inside the contract.

The target is a noisy function of the spec's features, with weights fixed per training
dataset: binary (about a third positive), multiclass (the class with the largest noisy
score) or regression (a linear score, skewed and clipped into the target's bounds).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import rstr
from driftline_runtime.contracts import DatasetSpec
from driftline_runtime.validation import compile_contract
from driftline_runtime.validation.contract import ColumnContract

Floats = np.ndarray[Any, np.dtype[np.float64]]
NULL_SHARE = 0.03
WINDOW = timedelta(days=30)
# Distinct ids drawn from a pattern: tries before the pattern is called too narrow.
ID_ATTEMPTS = 20


class UnsampleableContract(ValueError):
    """A contract column the generator cannot draw values for (named in the message)."""


def _stream(*parts: object) -> np.random.Generator:
    """A generator seeded by the parts' text, the same on every run and machine."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


@dataclass(frozen=True)
class Bounds:
    low: float | None
    high: float | None

    @classmethod
    def of(cls, column: ColumnContract) -> Bounds:
        found = {constraint.check: float(constraint.value) for constraint in column.constraints}
        step = 1.0 if column.kind == "int" else 1e-6
        low = found.get("ge", found["gt"] + step if "gt" in found else None)
        high = found.get("le", found["lt"] - step if "lt" in found else None)
        return cls(low, high)


def _numbers(
    column: ColumnContract, world: str, rng: np.random.Generator, rows: int, drift: float
) -> Floats:
    """A column of numbers in its bounds: Beta between two bounds, log-normal above a
    lower one, normal without; ``drift`` shifts it within the bounds."""
    shape = _stream(world, column.name, "shape")
    bounds = Bounds.of(column)
    if bounds.low is not None and bounds.high is not None:
        a, b = shape.uniform(1.5, 4.0, size=2)
        unit = rng.beta(a, b, size=rows) ** (1.0 / (1.0 + 1.5 * drift))
        values = bounds.low + (bounds.high - bounds.low) * unit
    elif bounds.low is not None:
        median = 10 ** shape.uniform(0.5, 2.0)
        values = bounds.low + median * np.exp(rng.normal(0.7 * drift, 0.6, size=rows))
    else:
        centre, spread = shape.normal(0, 50), shape.uniform(1, 20)
        values = rng.normal(centre + drift * spread, spread, size=rows)
        if bounds.high is not None:
            values = np.minimum(values, bounds.high)
    if column.kind == "int":
        values = np.round(values)
    low = -np.inf if bounds.low is None else bounds.low
    high = np.inf if bounds.high is None else bounds.high
    clipped: Floats = np.clip(values, low, high)
    return clipped


def _choice_shares(column: ColumnContract, world: str, count: int, drift: float) -> Floats:
    shares = _stream(world, column.name, "shares").dirichlet(np.full(count, 2.0))
    moved: Floats = (1 - 0.7 * drift) * shares + 0.7 * drift * shares[::-1]
    return moved / moved.sum()


def _texts(column: ColumnContract, seed: int, rows: int, unique: bool) -> list[str]:
    """Text that matches the column's pattern (or its length limits); distinct if asked."""
    found = {constraint.check: constraint.value for constraint in column.constraints}
    draw = rstr.Rstr(random.Random(f"{seed}|{column.name}"))
    if "pattern" in found:
        pattern = str(found["pattern"])

        def one() -> str:
            return str(draw.xeger(pattern))
    else:
        least, most = int(found.get("min_length", 4)), int(found.get("max_length", 12))

        def one() -> str:
            return str(draw.rstr("abcdefghijklmnopqrstuvwxyz", least, max(least, min(most, 12))))

    values = [one() for _ in range(rows)]
    if not unique:
        return values
    seen: set[str] = set()
    for index, value in enumerate(values):
        for _ in range(ID_ATTEMPTS):
            if value not in seen:
                break
            value = one()
        else:
            raise UnsampleableContract(
                f"{column.name}: its pattern gives too few distinct values for {rows} rows"
            )
        seen.add(value)
        values[index] = value
    return values


def _times(
    column: ColumnContract, spec: DatasetSpec, rng: np.random.Generator, rows: int, end: datetime
) -> pa.Array:
    window = WINDOW
    if spec.rules.freshness_column == column.name and spec.rules.max_age is not None:
        window = min(window, spec.rules.max_age * 0.9)
    seconds = rng.uniform(0, window.total_seconds(), size=rows)
    start = int((end - window).timestamp())
    micros = ((start + np.sort(seconds)).astype(np.int64)) * 1_000_000
    return pa.array(micros, type=pa.timestamp("us", tz="UTC"))


def draw_column(
    column: ColumnContract,
    spec: DatasetSpec,
    world: str,
    rows: int,
    *,
    seed: int,
    drift: float,
    end: datetime,
) -> pa.Array:
    """One column of ``rows`` values as its contract and ``drift`` say."""
    rng = _stream(world, column.name, "rows", seed, drift)
    is_id = column.name == spec.id_column
    if column.allowed:
        shares = _choice_shares(column, world, len(column.allowed), drift)
        picked = rng.choice(len(column.allowed), size=rows, p=shares)
        values: Any = [column.allowed[index] for index in picked]
    elif column.kind == "bool":
        share = _stream(world, column.name, "share").uniform(0.2, 0.8)
        values = rng.random(rows) < share + (1 - share) * 0.5 * drift
    elif column.kind == "datetime":
        values = _times(column, spec, rng, rows, end)
    elif column.kind == "str":
        values = _texts(column, seed, rows, unique=is_id)
    elif is_id:
        offset = (seed % 1_000_000) * 10_000_000 + int(drift * 1_000_000)
        low = Bounds.of(column).low or 0
        values = np.arange(rows, dtype=np.int64) + int(low) + offset
    else:
        values = _numbers(column, world, rng, rows, drift)
    array = pa.array(values, type=column.arrow_type) if not isinstance(values, pa.Array) else values
    nullable = column.nullable and not is_id and column.name not in spec.rules.unique_key
    if nullable:
        missing = pa.array(rng.random(rows) < NULL_SHARE)
        array = pc.if_else(missing, pa.scalar(None, column.arrow_type), array)
    return array


# -- the target ---------------------------------------------------------------------------
def _signal(
    table: pa.Table, features: list[str], world: str, contract: dict[str, ColumnContract]
) -> Floats:
    """Each row's standardised score: a weighted sum of its features' scaled values."""
    score = np.zeros(table.num_rows)
    for name in features:
        column = contract[name]
        weights = _stream(world, name, "weight")
        weight = weights.normal(0, 1.0)
        values = table.column(name)
        if column.allowed:
            effects = weights.normal(0, 1.0, size=len(column.allowed))
            index = {value: position for position, value in enumerate(column.allowed)}
            part = np.asarray([0.0 if v is None else effects[index[v]] for v in values.to_pylist()])
        elif column.kind in ("int", "float", "bool"):
            numbers = np.asarray(values.cast(pa.float64()).to_numpy(zero_copy_only=False))
            numbers = np.where(np.isnan(numbers), np.nanmedian(numbers), numbers)
            spread = float(np.std(numbers)) or 1.0
            part = weight * (numbers - float(np.mean(numbers))) / spread
        else:
            continue  # text and times carry no signal
        score += part
    spread = float(np.std(score)) or 1.0
    standardised: Floats = (score - float(np.mean(score))) / spread
    return standardised


def draw_target(
    table: pa.Table,
    spec: DatasetSpec,
    target: ColumnContract,
    seed: int,
    contract: dict[str, ColumnContract],
) -> pa.Array:
    world = spec.name
    rng = _stream(world, target.name, "labels", seed)
    rows = table.num_rows
    problem = spec.problem or "binary"
    if problem == "multiclass":
        classes: list[Any] = list(target.allowed)
        if not classes:
            bounds = Bounds.of(target)
            if target.kind != "int" or bounds.low is None or bounds.high is None:
                raise UnsampleableContract(
                    f"{target.name}: a multiclass target needs Literal values or int bounds"
                )
            classes = list(range(int(bounds.low), int(bounds.high) + 1))
        scores = np.column_stack(
            [
                2.0 * _signal(table, spec.feature_columns, f"{world}:{label}", contract)
                for label in classes
            ]
        )
        chosen = np.argmax(scores + rng.gumbel(size=scores.shape), axis=1)
        return pa.array([classes[index] for index in chosen], type=target.arrow_type)
    signal = _signal(table, spec.feature_columns, world, contract)
    if problem == "binary":
        positive = rng.random(rows) < 1 / (1 + np.exp(-(2.5 * signal - 1.0)))
        if target.allowed:
            labels = sorted(target.allowed, key=str)
            return pa.array([labels[int(flag)] for flag in positive], type=target.arrow_type)
        if target.kind == "bool":
            return pa.array(positive, type=pa.bool_())
        return pa.array(positive.astype(np.int64), type=target.arrow_type)
    noisy = signal + rng.normal(0, 0.35, size=rows)
    bounds = Bounds.of(target)
    if bounds.low is not None and bounds.high is not None:
        values = (bounds.low + bounds.high) / 2 + noisy * (bounds.high - bounds.low) / 8
    elif bounds.low is not None:
        values = bounds.low + 20.0 * np.exp(0.5 * noisy)
    else:
        values = 100.0 + 15.0 * noisy
    if target.kind == "int":
        values = np.round(values)
    low = -np.inf if bounds.low is None else bounds.low
    high = np.inf if bounds.high is None else bounds.high
    return pa.array(np.clip(values, low, high), type=target.arrow_type)


def generate_rows(
    spec: DatasetSpec,
    rows: int,
    *,
    seed: int = 7,
    drift: float = 0.0,
    labelled: bool = True,
    end: datetime | None = None,
    model: DatasetSpec | None = None,
) -> pa.Table:
    """``rows`` rows of ``spec``'s contract (see the module docstring).

    ``model`` is the training dataset an inference dataset's batches are scored by: its
    name fixes the distributions, so a batch comes from the training data's population.
    A training dataset's rows carry the target unless ``labelled`` is False.
    """
    if rows < 1:
        raise ValueError(f"rows must be >= 1, not {rows}")
    if not 0.0 <= drift <= 1.0:
        raise ValueError(f"drift must be within [0, 1], not {drift}")
    end = end or datetime.now(UTC).replace(second=0, microsecond=0)
    world = (model or spec).name
    contract = {column.name: column for column in compile_contract(spec.contract)}
    columns = {
        name: draw_column(column, spec, world, rows, seed=seed, drift=drift, end=end)
        for name, column in contract.items()
        if name != spec.target
    }
    table = pa.table(columns)
    if spec.target and labelled:
        table = table.append_column(
            spec.target, draw_target(table, spec, contract[spec.target], seed, contract)
        )
    return table.select([name for name in contract if name in table.column_names])
