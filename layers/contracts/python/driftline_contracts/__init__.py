"""The datasets driftline accepts: modules here each define ``DATASETS``, DatasetSpecs.

To add a dataset, add a module here with a pydantic contract and a ``DatasetSpec``
(see ``transactions.py``) and deploy: the ingest function finds it by the first
segment of the object key. No Lambda code changes. Modules named with a leading ``_``
are helpers the others import; they declare nothing.

Functions load contracts per dataset (``contract``): a module that does not load
affects only the datasets it declares. Synth checks every module first and writes the
manifest that says which module declares which dataset (see
``driftline_runtime.catalog`` for why); ``driftline contracts check`` runs that check.
"""

from __future__ import annotations

from pathlib import Path

from driftline_runtime.catalog import ContractCatalog, ContractUnavailable, Declaration
from driftline_runtime.contracts import DatasetSpec

CATALOG = ContractCatalog(__name__, Path(__file__).resolve().parent)

__all__ = ["CATALOG", "ContractUnavailable", "contract", "datasets", "declared"]


def declared() -> dict[str, Declaration]:
    """Every declared dataset with its module and kind; imports no contract module."""
    return CATALOG.declarations


def contract(dataset: str) -> DatasetSpec | None:
    """``dataset``'s spec, or None if undeclared; ContractUnavailable if its module fails."""
    return CATALOG.contract(dataset)


def datasets() -> dict[str, DatasetSpec]:
    """Every dataset's spec, for code that needs all of them (synth, the CLI, tests)."""
    return CATALOG.contracts()
