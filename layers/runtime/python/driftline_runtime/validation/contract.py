"""The contract, compiled: each pydantic field of a dataset's contract as column checks.

Each field's annotation gives the column's Arrow type and nullability (``X | None``),
``Literal`` or an ``Enum`` its allowed values, and its constraints (``ge``, ``gt``,
``le``, ``lt``, ``min_length``, ``max_length``, ``pattern``) become ``pyarrow.compute``
expressions over whole columns. A constraint the validator cannot check is refused here,
when the contract is loaded, rather than skipped.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from functools import cache
from typing import Any, Literal

import annotated_types
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from driftline_runtime.validation.fixed_width import (
    fixed_width_bytes,
    fixed_width_classes,
    matches_positions,
)

Kind = Literal["str", "int", "float", "bool", "datetime"]

ARROW_TYPES: dict[Kind, pa.DataType] = {
    "str": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "datetime": pa.timestamp("us", tz="UTC"),
}
# Constraint metadata that changes how pydantic parses, not what it accepts from text:
# the validator always parses text leniently and always rejects NaN and infinities.
_NO_CHECK = ("Strict", "AllowInfNan")
_COMPARISONS: dict[type[Any], tuple[str, str, Callable[..., Any]]] = {
    annotated_types.Ge: ("ge", ">=", pc.less),
    annotated_types.Gt: ("gt", ">", pc.less_equal),
    annotated_types.Le: ("le", "<=", pc.greater),
    annotated_types.Lt: ("lt", "<", pc.greater_equal),
}


@dataclass(frozen=True)
class Constraint:
    """One field constraint; ``failing`` marks the values that break it (null: n/a).

    ``check`` (``ge``, ``gt``, ``le``, ``lt``, ``min_length``, ``max_length``, ``pattern``)
    and ``value`` (the bound, length or pattern) let other tools read the rule.
    """

    check: str
    value: Any
    rule: str
    description: str
    failing: Callable[[pa.ChunkedArray], pa.ChunkedArray]


@dataclass(frozen=True)
class ColumnContract:
    name: str
    kind: Kind
    nullable: bool
    allowed: tuple[Any, ...] = ()
    constraints: tuple[Constraint, ...] = ()

    @property
    def arrow_type(self) -> pa.DataType:
        return ARROW_TYPES[self.kind]


@cache
def compile_contract(contract: type[BaseModel]) -> tuple[ColumnContract, ...]:
    """The columns of ``contract`` with the checks its fields imply, in field order.

    Raises ``TypeError`` for an annotation or constraint the validator cannot check:
    a contract rule that is silently skipped would be worse than no contract.
    """
    return tuple(
        _compile_field(f"{contract.__name__}.{name}", name, field)
        for name, field in contract.model_fields.items()
    )


def _compile_field(where: str, name: str, field: FieldInfo) -> ColumnContract:
    annotation, nullable, extra = _unwrap(field.annotation, where)
    kind, allowed = _kind_of(annotation, where)
    constraints = tuple(
        constraint
        for item in [*field.metadata, *extra]
        if (constraint := _constraint(where, name, kind, item)) is not None
    )
    return ColumnContract(name, kind, nullable, allowed, constraints)


def _unwrap(annotation: Any, where: str) -> tuple[Any, bool, list[Any]]:
    """(base annotation, nullable, constraint metadata nested in ``Annotated``)."""
    nullable = False
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(members) != 1:
            raise TypeError(f"{where}: a column holds one type, not {annotation}")
        nullable = len(members) < len(typing.get_args(annotation))
        annotation = members[0]
    extra: list[Any] = []
    if typing.get_origin(annotation) is typing.Annotated:
        annotation, *metadata = typing.get_args(annotation)
        for item in metadata:
            extra.extend(item.metadata if isinstance(item, FieldInfo) else [item])
    return annotation, nullable, extra


def _kind_of(annotation: Any, where: str) -> tuple[Kind, tuple[Any, ...]]:
    """The column's kind, and its allowed values when the annotation enumerates them."""
    allowed: tuple[Any, ...] = ()
    if typing.get_origin(annotation) is Literal:
        allowed = typing.get_args(annotation)
    elif isinstance(annotation, type) and issubclass(annotation, Enum):
        allowed = tuple(member.value for member in annotation)
    if allowed:
        kinds = {_base_kind(type(value), where) for value in allowed}
        if len(kinds) != 1:
            raise TypeError(f"{where}: allowed values of mixed types {allowed}")
        return kinds.pop(), allowed
    return _base_kind(annotation, where), allowed


def _base_kind(annotation: Any, where: str) -> Kind:
    # bool before int: bool is a subclass of int.
    for python_type, kind in ((bool, "bool"), (int, "int"), (float, "float"), (str, "str")):
        if annotation is python_type:
            return typing.cast(Kind, kind)
    if annotation is datetime:
        return "datetime"
    raise TypeError(f"{where}: the validator has no column type for {annotation!r}")


def _constraint(where: str, name: str, kind: Kind, item: Any) -> Constraint | None:
    if type(item) in _COMPARISONS:
        rule, symbol, breaks = _COMPARISONS[type(item)]
        bound = getattr(item, rule)
        scalar = pa.scalar(bound, type=ARROW_TYPES[kind])
        return Constraint(
            rule, bound, f"{name}.{rule}", f"{name} {symbol} {bound}", lambda a: breaks(a, scalar)
        )
    if isinstance(item, annotated_types.MinLen):
        least = item.min_length
        return Constraint(
            "min_length",
            least,
            f"{name}.min_length",
            f"length of {name} >= {least}",
            lambda a: pc.less(pc.utf8_length(a), least),
        )
    if isinstance(item, annotated_types.MaxLen):
        most = item.max_length
        return Constraint(
            "max_length",
            most,
            f"{name}.max_length",
            f"length of {name} <= {most}",
            lambda a: pc.greater(pc.utf8_length(a), most),
        )
    if isinstance(getattr(item, "pattern", None), str):
        return _pattern(where, name, item.pattern)
    if type(item).__name__ in _NO_CHECK:
        return None
    raise TypeError(f"{where}: the validator cannot check the constraint {item!r}")


def _pattern(where: str, name: str, pattern: str) -> Constraint:
    try:  # RE2 (Arrow's engine) compiles the pattern here, so a bad one fails early.
        pc.match_substring_regex(pa.array([], pa.string()), pattern)
    except pa.ArrowInvalid as error:
        raise TypeError(f"{where}: pattern {pattern!r} is not valid RE2: {error}") from None
    positions = fixed_width_classes(pattern)

    def failing(values: pa.ChunkedArray) -> pa.ChunkedArray:
        if positions is not None and (matrix := fixed_width_bytes(values)) is not None:
            return pa.chunked_array([pa.array(~matches_positions(matrix, positions))])
        # Search semantics, as pydantic's: contracts anchor with ^ and $ themselves.
        return pc.invert(pc.match_substring_regex(values, pattern))

    return Constraint("pattern", pattern, f"{name}.pattern", f"{name} matches {pattern}", failing)
