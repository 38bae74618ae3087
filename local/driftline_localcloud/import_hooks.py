"""Run a patch right after LocalStack imports one of its modules (or at once if it has).

LocalStack loads a service's modules on first use; patching them at start would import
them early and slow every start. A meta-path finder waits for the named module and
runs the callback as soon as the module has executed, before anything can use it.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any


class _AfterImport(importlib.abc.MetaPathFinder):
    def __init__(self, module: str, callback: Callable[[], None]) -> None:
        self.module, self.callback = module, callback

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.module:
            return None
        sys.meta_path.remove(self)  # once is enough
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        loader: Any = spec.loader
        execute = loader.exec_module
        callback = self.callback

        def exec_module(module: ModuleType) -> None:
            execute(module)
            callback()

        loader.exec_module = exec_module
        return spec


def after_import(module: str, callback: Callable[[], None]) -> None:
    """Call ``callback`` once ``module`` is imported (now, if it already is)."""
    if module in sys.modules:
        callback()
    elif not any(isinstance(f, _AfterImport) and f.module == module for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport(module, callback))
