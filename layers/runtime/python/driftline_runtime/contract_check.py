"""``python -m driftline_runtime.contract_check OUT.json``: every contract module, checked.

Synth and ``driftline contracts check`` run this in a fresh interpreter whose path starts
with the contracts package about to be deployed, so nothing already imported (the
source tree's copy of the package, an earlier module) hides a problem. It imports every
module, checks every spec, and writes a JSON document: each dataset described (kind,
columns with their checks, rules and settings) and each problem with its module and
line. It writes to a file, not stdout, because a module may print when imported.

The description reads the spec's fields generically: a field the spec gains shows up
here without a change.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

from pydantic_core import to_jsonable_python

from driftline_runtime.catalog import inspect_package
from driftline_runtime.contracts import DatasetSpec

PACKAGE = "driftline_contracts"
# Described on their own; every other field of the spec is a setting.
DESCRIBED = ("name", "kind", "contract", "rules")


def describe(spec: DatasetSpec, module: str) -> dict[str, Any]:
    from driftline_runtime.validation import compile_contract

    columns = [
        {
            "name": column.name,
            "type": column.kind,
            "nullable": column.nullable,
            "allowed": [to_jsonable_python(value) for value in column.allowed],
            "checks": [c.description for c in column.constraints],
        }
        for column in compile_contract(spec.contract)
    ]
    rules = getattr(spec, "rules", None)
    settings = {
        name: to_jsonable_python(getattr(spec, name), fallback=repr)
        for name in type(spec).model_fields
        if name not in DESCRIBED
    }
    return {
        "name": spec.name,
        "kind": spec.kind,
        "module": module,
        "contract": spec.contract.__name__,
        "columns": columns,
        "rules": to_jsonable_python(rules, fallback=repr) if rules is not None else {},
        "settings": settings,
    }


def check(package: str = PACKAGE) -> dict[str, Any]:
    inspection = inspect_package(package)
    at_fault = {problem.dataset for problem in inspection.problems}
    return {
        "package_file": importlib.import_module(package).__file__,
        "modules": inspection.modules,
        "datasets": [
            describe(spec, module)
            for module, spec in inspection.specs.values()
            # A dataset with a problem is reported as that problem instead.
            if spec.name not in at_fault
        ],
        "problems": [
            {"module": p.module, "line": p.line, "message": p.message} for p in inspection.problems
        ],
    }


def main(argv: list[str]) -> int:
    (out,) = argv
    Path(out).write_text(json.dumps(check(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
