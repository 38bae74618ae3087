"""Shared test helpers: loading a function's handler the way Lambda does."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ROOT / "functions"


@pytest.fixture
def load_function() -> Iterator[Callable[..., ModuleType]]:
    """Import ``functions/<name>/handler.py`` with its folder first on sys.path.

    Lambda puts the function's code root on the path, so its modules import each other
    by bare name; each test gets fresh modules (cold start) and the path is restored.
    """
    added: list[str] = []

    def load(name: str, module: str = "handler") -> ModuleType:
        code_root = FUNCTIONS / name
        sys.path.insert(0, str(code_root))
        added.append(str(code_root))
        for loaded in list(sys.modules):
            origin = getattr(sys.modules[loaded], "__file__", None) or ""
            if origin.startswith(str(code_root)):
                del sys.modules[loaded]
        # Another function's handler may be loaded already: each name is one Lambda.
        sys.modules.pop("handler", None)
        return importlib.import_module(module)

    yield load
    for path in added:
        sys.path.remove(path)
    sys.modules.pop("handler", None)


@pytest.fixture
def load_logic(load_function: Callable[..., ModuleType]) -> Callable[[str, str], ModuleType]:
    """Import a function's logic module, ``functions/<name>/<module>.py``, by itself.

    Logic modules read no environment variables and create no clients when imported:
    a test builds the logic class with settings and adapters of its own (moto's clients).
    """

    def load(name: str, module: str) -> ModuleType:
        return load_function(name, module)

    return load
