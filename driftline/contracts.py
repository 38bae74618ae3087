"""``driftline contracts check``: every contract module checked offline, as synth does.

It runs the synth's own check (``infra.contracts_layer.check``: each module imported in
a fresh interpreter, each spec validated, names unique, every ``model_dataset`` a
declared training dataset, every contract one the validator can check) and prints each
dataset with its kind, columns and rules. Any problem is an error (exit 1): the same
problem would stop ``cdk synth``, ``make deploy`` and ``driftline local up``.
"""

from __future__ import annotations

import re
from typing import Any

from infra.contracts_layer import ContractsCheck, shown

# Text shown as it is; anything else (a delimiter such as "," or ";", spaces) quoted.
PLAIN = re.compile(r"[\w.:/@+-]+")


def _value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(_value(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key} {_value(item)}" for key, item in value.items())
    if isinstance(value, str) and not PLAIN.fullmatch(value):
        return repr(value)
    return str(value)


def _settings(values: dict[str, Any]) -> str:
    shown_values = [
        f"{name} {_value(value)}" for name, value in values.items() if value not in (None, [], {})
    ]
    return "; ".join(shown_values) or "none"


def _column(column: dict[str, Any], width: int) -> str:
    name = column["name"]
    checks = [check.removeprefix(f"{name} ") for check in column["checks"]]
    if column["allowed"]:
        checks.insert(0, "one of " + ", ".join(str(value) for value in column["allowed"]))
    presence = "nullable" if column["nullable"] else "required"
    return f"    {name:<{width}}  {column['type']:<8}  {presence:<8}  {'; '.join(checks)}".rstrip()


def render(checked: ContractsCheck) -> list[str]:
    """Each dataset that loads: kind, module, columns with their checks, rules, settings."""
    lines = []
    for dataset in checked.datasets:
        source = checked.sources.get(dataset["module"])
        where = shown(source) if source else dataset["module"]
        columns = dataset["columns"]
        width = max((len(c["name"]) for c in columns), default=0)
        lines += [
            f"{dataset['name']}: {dataset['kind']}, declared in {where}",
            f"  columns ({len(columns)}, contract {dataset['contract']}):",
            *(_column(column, width) for column in columns),
            f"  rules: {_settings(dataset['rules'])}",
            f"  settings: {_settings(dataset['settings'])}",
        ]
    modules = {d["module"] for d in checked.datasets}
    summary = f"{len(checked.datasets)} dataset(s) in {len(modules)} module(s)"
    if checked.problems:
        lines.append(f"{summary} load; {len(checked.problems)} problem(s), listed below")
    else:
        lines.append(f"{summary}: every contract loads and can be checked")
    return lines


def as_json(checked: ContractsCheck) -> dict[str, Any]:
    return {
        "datasets": [
            {**d, "source": shown(checked.sources[d["module"]])}
            if d["module"] in checked.sources
            else d
            for d in checked.datasets
        ],
        "problems": checked.problems,
    }
