"""The local cloud's Distributed Map ResultWriter: its Parameters see the state input.

The module imports nothing of LocalStack at import time, so it is loaded from its file;
a fake environment stands in for LocalStack's (a value stack and the state's input).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "local" / "driftline_localcloud" / "stepfunctions_result_writer.py"


def result_writer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("result_writer_under_test", MODULE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class States:
    state_input: dict[str, Any]

    def get_input(self) -> dict[str, Any]:
        return self.state_input


@dataclass
class Env:
    states: States
    stack: list[Any] = field(default_factory=list)


class Parameters:
    """``{"Bucket.$": "$.resolved.bucket"}`` as LocalStack evaluates it: on the stack's top."""

    def eval(self, env: Env) -> None:
        env.stack.append({"Bucket": env.stack[-1]["resolved"]["bucket"]})


class Handler:
    def __init__(self) -> None:
        self.seen: list[Any] = []

    def eval_resource(self, env: Env) -> None:
        self.seen = list(env.stack)


@dataclass
class Writer:
    parargs: Parameters
    resource_eval: Handler


def test_the_parameters_are_evaluated_against_the_map_states_input() -> None:
    # Given the stack as the Map leaves it after its iterations: their results on top
    module = result_writer()
    env = Env(States({"resolved": {"bucket": "artifacts"}}), stack=["below", [{"job": "j-0"}]])
    writer = Writer(Parameters(), Handler())
    # When the ResultWriter runs
    module.eval_against_state_input(writer, env)
    # Then the handler finds the results and, above them, parameters from the state input
    assert writer.resource_eval.seen == ["below", [{"job": "j-0"}], {"Bucket": "artifacts"}]
