"""The datasets driftline accepts: one module per dataset, each defining ``DATASET``.

To add a dataset, add a module here with a pydantic contract and a ``DatasetSpec``
(see ``transactions.py``) and deploy: the ingest function finds it by the first
segment of the object key. No Lambda code changes.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from driftline_runtime.contracts import DatasetSpec


@cache
def datasets() -> dict[str, DatasetSpec]:
    found: dict[str, DatasetSpec] = {}
    for module_info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for spec in getattr(module, "DATASETS", ()):
            if not isinstance(spec, DatasetSpec):
                raise TypeError(f"{module.__name__}.DATASETS holds {spec!r}, not a DatasetSpec")
            if spec.name in found:
                raise ValueError(f"Dataset {spec.name!r} is declared twice")
            found[spec.name] = spec
    for spec in found.values():
        model = found.get(spec.model_dataset or "")
        if spec.model_dataset and (model is None or model.kind != "training"):
            raise ValueError(
                f"Dataset {spec.name!r} is scored by models of {spec.model_dataset!r}, "
                "which is not a declared training dataset"
            )
    return found
