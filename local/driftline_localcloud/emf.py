"""CloudWatch embedded metric format (EMF): the metric data a log line's document asks for.

On AWS, CloudWatch Logs reads every log event of a Lambda function that is an EMF
document (a JSON object with ``_aws.CloudWatchMetrics``) and publishes its metrics; the
functions' Powertools ``Metrics`` rely on it and need no ``cloudwatch:PutMetricData``.
This module follows the specification: each metric directive names a ``Namespace``,
``Dimensions`` (a list of dimension sets, each a list of member names whose string
values sit at the document's root) and ``Metrics`` (``Name``, optional ``Unit`` and
``StorageResolution``) whose values are root members holding a number or an array of
numbers; ``_aws.Timestamp`` is in milliseconds. A document that breaks the
specification yields no metric at all, as on AWS, and the reason is logged at debug
level. The result is PutMetricData's ``MetricData``, one list per namespace.

Nothing here imports MiniStack, so the rules are unit-tested on their own.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

LOG = logging.getLogger(__name__)

MARKER = '"_aws"'
# The specification's limits.
MAX_DIMENSIONS = 30
MAX_METRICS = 100
MAX_VALUES = 100
MAX_NAME = 255
MAX_NAMESPACE = 255
UNITS = frozenset(
    {
        "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes",
        "Gigabytes", "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits",
        "Percent", "Count", "Bytes/Second", "Kilobytes/Second", "Megabytes/Second",
        "Gigabytes/Second", "Terabytes/Second", "Bits/Second", "Kilobits/Second",
        "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
    }
)  # fmt: skip


class InvalidDocument(ValueError):
    """An EMF document that breaks the specification (no metric is taken from it)."""


@dataclass
class Extracted:
    """Metric data per namespace, in PutMetricData's ``MetricData`` shape."""

    by_namespace: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, namespace: str, data: list[dict[str, Any]]) -> None:
        self.by_namespace.setdefault(namespace, []).extend(data)

    def __bool__(self) -> bool:
        return bool(self.by_namespace)


def extract_lines(text: str) -> Extracted:
    """The metrics of every EMF document among ``text``'s lines (a function's log).

    Only lines that start with ``{`` and contain ``"_aws"`` are parsed, so plain log
    lines cost a string scan. Invalid documents are skipped with a debug log.
    """
    extracted = Extracted()
    if MARKER not in text:
        return extracted
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("{") or MARKER not in stripped:
            continue
        try:
            for namespace, data in metric_data(stripped).items():
                extracted.add(namespace, data)
        except InvalidDocument as error:
            LOG.debug("Ignored an invalid EMF document (%s): %.200s", error, stripped)
    return extracted


def metric_data(line: str) -> dict[str, list[dict[str, Any]]]:
    """One EMF document's metric data per namespace; ``InvalidDocument`` says what is wrong."""
    try:
        document = json.loads(line)
    except ValueError as error:
        raise InvalidDocument(f"not JSON: {error}") from error
    if not isinstance(document, dict):
        raise InvalidDocument("the root is not an object")
    metadata = document.get("_aws")
    if not isinstance(metadata, dict):
        raise InvalidDocument("_aws is not an object")
    moment = _timestamp(metadata.get("Timestamp"))
    directives = metadata.get("CloudWatchMetrics")
    if not isinstance(directives, list):
        raise InvalidDocument("_aws.CloudWatchMetrics is not an array")
    result: dict[str, list[dict[str, Any]]] = {}
    for index, directive in enumerate(directives):
        where = f"_aws.CloudWatchMetrics[{index}]"
        if not isinstance(directive, dict):
            raise InvalidDocument(f"{where} is not an object")
        namespace = _namespace(directive.get("Namespace"), where)
        dimension_sets = _dimension_sets(directive.get("Dimensions"), document, where)
        metrics = _metrics(directive.get("Metrics"), document, where)
        data = result.setdefault(namespace, [])
        for dimensions in dimension_sets:
            for name, unit, resolution, values in metrics:
                datum: dict[str, Any] = {
                    "MetricName": name,
                    "Dimensions": dimensions,
                    "Timestamp": moment,
                    "Unit": unit,
                    "StorageResolution": resolution,
                }
                if len(values) == 1:
                    datum["Value"] = values[0]
                else:
                    datum["Values"] = values
                data.append(datum)
    return result


def _timestamp(value: Any) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidDocument("_aws.Timestamp is not a number of milliseconds")
    try:
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError) as error:
        raise InvalidDocument(f"_aws.Timestamp {value} is out of range") from error


def _namespace(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAMESPACE:
        raise InvalidDocument(f"{where}.Namespace is not a name of 1 to 255 characters")
    return value


def _dimension_sets(value: Any, document: dict[str, Any], where: str) -> list[list[dict[str, str]]]:
    if not isinstance(value, list):
        raise InvalidDocument(f"{where}.Dimensions is not an array of dimension sets")
    if not value:
        return [[]]  # no dimension set: the metrics are published without dimensions
    sets = []
    for index, members in enumerate(value):
        if not isinstance(members, list) or len(members) > MAX_DIMENSIONS:
            raise InvalidDocument(
                f"{where}.Dimensions[{index}] is not an array of at most 30 member names"
            )
        dimensions = []
        for member in members:
            if not isinstance(member, str):
                raise InvalidDocument(f"{where}.Dimensions[{index}] names a non-string member")
            dimension_value = document.get(member)
            if not isinstance(dimension_value, str) or not dimension_value:
                raise InvalidDocument(f"dimension {member!r} has no string value at the root")
            dimensions.append({"Name": member, "Value": dimension_value})
        sets.append(dimensions)
    return sets


def _metrics(
    value: Any, document: dict[str, Any], where: str
) -> list[tuple[str, str, int, list[float]]]:
    if not isinstance(value, list) or len(value) > MAX_METRICS:
        raise InvalidDocument(f"{where}.Metrics is not an array of at most 100 definitions")
    metrics = []
    for index, definition in enumerate(value):
        at = f"{where}.Metrics[{index}]"
        if not isinstance(definition, dict):
            raise InvalidDocument(f"{at} is not an object")
        name = definition.get("Name")
        if not isinstance(name, str) or not name or len(name) > MAX_NAME:
            raise InvalidDocument(f"{at}.Name is not a name of 1 to 255 characters")
        unit = definition.get("Unit", "None")
        if unit not in UNITS:
            raise InvalidDocument(f"{at}.Unit {unit!r} is not a CloudWatch unit")
        resolution = definition.get("StorageResolution", 60)
        if isinstance(resolution, bool) or resolution not in (1, 60):
            raise InvalidDocument(f"{at}.StorageResolution is neither 1 nor 60")
        metrics.append((name, str(unit), int(resolution), _values(document.get(name), name)))
    return metrics


def _values(value: Any, name: str) -> list[float]:
    values = value if isinstance(value, list) else [value]
    if not values or len(values) > MAX_VALUES:
        raise InvalidDocument(f"metric {name!r} has no value or more than 100 values")
    numbers = []
    for item in values:
        if isinstance(item, bool) or not isinstance(item, int | float) or not math.isfinite(item):
            raise InvalidDocument(f"metric {name!r} has a value that is not a number")
        numbers.append(float(item))
    return numbers
