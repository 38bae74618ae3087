"""Applies the Step Functions SageMaker integration when LocalStack imports its interpreter.

``stepfunctions_sagemaker`` imports Step Functions' ASL interpreter, which takes seconds
and is otherwise loaded only when Step Functions is first used. A meta-path finder waits
for the one module that looks the task-service factory up (``state_task_factory``) and
registers the SageMaker service as soon as that module has run, before anything can
parse a state machine with it; if the module is already loaded, it registers at once.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

FACTORY_MODULE = (
    "localstack.services.stepfunctions.asl.component.state.state_execution.state_task."
    "state_task_factory"
)


def _register() -> None:
    from driftline_localcloud.stepfunctions_sagemaker import register

    register()


class _RegisterAfterImport(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != FACTORY_MODULE:
            return None
        sys.meta_path.remove(self)  # once is enough
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        loader: Any = spec.loader
        execute = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            execute(module)
            _register()

        loader.exec_module = exec_module
        return spec


def patch_when_imported() -> None:
    if FACTORY_MODULE in sys.modules:
        _register()
    elif not any(isinstance(finder, _RegisterAfterImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _RegisterAfterImport())
