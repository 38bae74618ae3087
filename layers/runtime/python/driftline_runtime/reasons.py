"""Why a file was rejected, as data: a code to match on, a message to read, the details.

Every rejection reason the pipeline gives (the reader's ``empty_file`` or ``not_utf8``,
ingestion's ``too_large`` or ``undeclared_dataset``, the validator's
``table.max_bad_row_share`` or ``amount.gt``) is a :class:`Reason`. Reports, events,
lineage records and ``driftline status`` carry them structured; the one-line text form
(``code: message``) is derived from them, never stored apart, so a program matches on
``code`` and reads ``details`` instead of parsing the text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

# What a detail may be: JSON's scalars and lists of them (as DynamoDB keeps them too).
Detail = str | int | float | bool | None | list[str] | list[int] | list[float]


class Reason(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    message: str
    details: dict[str, Detail] = {}

    @property
    def text(self) -> str:
        """``code: message``, the reason as one line for people."""
        return f"{self.code}: {self.message}"

    def __str__(self) -> str:
        return self.text

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        """A reason stored as text before reasons were structured (``code: message``)."""
        if isinstance(value, str):
            code, _, message = value.partition(": ")
            return {"code": code, "message": message}
        return value

    @field_validator("details", mode="before")
    @classmethod
    def _plain_numbers(cls, value: Any) -> Any:
        """DynamoDB hands numbers back as Decimal: whole ones become int, others float."""
        if isinstance(value, Mapping):
            return {key: _plain(item) for key, item in value.items()}
        return value


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def texts(reasons: Iterable[Reason]) -> list[str]:
    """The reasons' text forms, in order."""
    return [reason.text for reason in reasons]


def summary(reasons: Iterable[Reason]) -> str:
    """All reasons on one line, ``; ``-separated."""
    return "; ".join(texts(reasons))
