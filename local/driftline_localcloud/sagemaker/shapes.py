"""Helpers shared by the SageMaker handlers: names, echoed fields, listing and paging."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

from botocore.model import ServiceModel
from botocore.session import get_session

from driftline_localcloud.sagemaker.store import Description, validation

Handler = Callable[[Any, dict[str, Any]], dict[str, Any]]

NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
MAX_JOBS_VARIABLE = "DRIFTLINE_SAGEMAKER_MAX_CONCURRENT_JOBS"


@cache
def service_model() -> ServiceModel:
    """SageMaker's API as botocore describes it (MiniStack's environment ships botocore)."""
    return get_session().get_service_model("sagemaker")


@cache
def output_members(operation: str) -> frozenset[str]:
    shape = service_model().operation_model(operation).output_shape
    return frozenset(shape.members) if shape is not None else frozenset()


def echo(request: dict[str, Any], operation: str) -> Description:
    """The request's fields that ``operation``'s response also has."""
    members = output_members(operation)
    return {key: value for key, value in request.items() if key in members}


def describe(description: Description, operation: str) -> Description:
    """A stored description as ``operation`` answers it (internal fields left out)."""
    members = output_members(operation)
    return {key: value for key, value in description.items() if key in members}


def check_name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not NAME.fullmatch(value):
        raise validation(
            f"1 validation error detected: Value {value!r} at '{what}' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: "
            "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
        )
    return value


def page(items: list[dict[str, Any]], request: dict[str, Any]) -> tuple[list[Any], str | None]:
    """One page of a list, with the NextToken of the next (an offset: opaque to clients)."""
    try:
        start = int(request.get("NextToken") or 0)
    except ValueError:
        raise validation("Invalid pagination token.") from None
    size = int(request.get("MaxResults") or 10)
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


# List* time filters: (request field, item field, whether the item must come after it)
TIME_BOUNDS = (
    ("CreationTimeAfter", "CreationTime", True),
    ("CreationTimeBefore", "CreationTime", False),
    ("LastModifiedTimeAfter", "LastModifiedTime", True),
    ("LastModifiedTimeBefore", "LastModifiedTime", False),
)


def within_times(item: Description, request: dict[str, Any]) -> bool:
    for bound, key, after in TIME_BOUNDS:
        limit = request.get(bound)
        value = item.get(key) or item["CreationTime"]
        if limit is not None and (value <= limit if after else value >= limit):
            return False
    return True


def sort_and_filter(
    items: Iterable[Description],
    request: dict[str, Any],
    name_key: str,
    status_key: str | None = None,
) -> list[Description]:
    """The List* filters SageMaker shares: name, status, creation and change times."""
    chosen = [
        item
        for item in items
        if request.get("NameContains", "").lower() in item[name_key].lower()
        and (status_key is None or request.get("StatusEquals") in (None, item[status_key]))
        and within_times(item, request)
    ]
    sort_by = request.get("SortBy") or "CreationTime"
    key = {"Name": name_key, "Status": status_key or name_key}.get(sort_by, "CreationTime")
    descending = request.get("SortOrder", "Ascending") == "Descending"
    return sorted(chosen, key=lambda item: item[key], reverse=descending)


def summary(item: Description, fields: Iterable[str]) -> dict[str, Any]:
    return {key: item[key] for key in fields if key in item}
