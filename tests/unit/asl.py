"""A small interpreter of the ASL this project writes, for the step contract tests.

It walks a state machine definition the way Step Functions moves state data: paths
(``$.a.b``, ``$$.Execution.Id``, ``$$.Map.Item.Value.Key``), ``Parameters`` and
``ItemSelector`` templates (``"key.$"`` entries and ``States.Format``), ``InputPath``,
``ResultSelector``, ``ResultPath``, ``Choice`` rules (``StringEquals``,
``StringEqualsPath``, ``StringMatches``, ``NumericGreaterThan``, ``NumericLessThan``,
``IsPresent``, ``And``, ``Or``), ``Catch`` (the first handler naming the error, or
``States.ALL``) into ``ResultPath``, ``Pass`` (with ``Result`` or ``Parameters``,
``States.JsonToString``, ``States.MathAdd``), ``Wait`` (which
waits for nothing here), ``Map`` and the terminal states. What a ``Task`` returns is
asked of a ``Responder``, which is where the tests check each payload against the step
model it must satisfy. A path that names something the state data does not hold fails
as Step Functions would fail the execution (``States.Runtime``).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Responder = Callable[[str, dict[str, Any], Any], Any]
"""(state name, state, the task's effective input) -> the service's answer."""


class PathError(LookupError):
    """A path selects nothing: on AWS the execution would fail with States.Runtime."""


class TaskFailure(Exception):
    """Raised by a responder: the task fails with this error, which its Catch handles."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}")
        self.error, self.cause = error, cause


@dataclass
class Trace:
    """What a walk did: the states it entered, the events it put, where it stopped."""

    states: list[str] = field(default_factory=list)
    inputs: dict[str, Any] = field(default_factory=dict)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    output: Any = None
    failed: bool = False
    # What a Distributed Map's ResultWriter wrote: (bucket, key) -> the object's body.
    objects: dict[tuple[str, str], bytes] = field(default_factory=dict)


def select(path: str, data: Any, context: dict[str, Any]) -> Any:
    if path == "$":
        return data
    if path == "$$":
        return context
    if path.startswith("$$."):
        value, rest = context, path[3:]
    elif path.startswith("$."):
        value, rest = data, path[2:]
    else:
        raise PathError(f"{path!r} is not a path")
    for part in rest.split("."):
        if not isinstance(value, dict) or part not in value:
            raise PathError(f"{path}: nothing at {part!r}")
        value = value[part]
    return value


_FORMAT = re.compile(r"^States\.Format\('((?:[^'\\]|\\.)*)'((?:\s*,\s*[^,)]+)*)\)$")


_TO_STRING = re.compile(r"^States\.JsonToString\(([^)]+)\)$")
_MATH_ADD = re.compile(r"^States\.MathAdd\(([^,]+),\s*(-?\d+)\)$")


def evaluate(expression: str, data: Any, context: dict[str, Any]) -> Any:
    to_string = _TO_STRING.match(expression)
    if to_string is not None:
        return json.dumps(select(to_string.group(1).strip(), data, context))
    add = _MATH_ADD.match(expression)
    if add is not None:
        value = select(add.group(1).strip(), data, context)
        if not isinstance(value, int) or isinstance(value, bool):
            raise PathError(f"{expression}: {value!r} is not an integer")
        return value + int(add.group(2))
    match = _FORMAT.match(expression)
    if match is None:
        return select(expression, data, context)
    template = match.group(1)
    arguments = [a.strip() for a in match.group(2).split(",") if a.strip()]
    values = [str(select(argument, data, context)) for argument in arguments]
    if template.count("{}") != len(values):
        raise PathError(f"{expression}: {template.count('{}')} slots, {len(values)} values")
    return template.replace("{}", "%s") % tuple(values)


def build(template: Any, data: Any, context: dict[str, Any]) -> Any:
    """A ``Parameters``/``ItemSelector``/``ResultSelector`` template filled from ``data``."""
    if isinstance(template, dict):
        built: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$"):
                built[key[:-2]] = copy.deepcopy(evaluate(value, data, context))
            else:
                built[key] = build(value, data, context)
        return built
    if isinstance(template, list):
        return [build(item, data, context) for item in template]
    return template


def place(data: Any, path: str | None, value: Any) -> Any:
    """The state data after ``ResultPath`` put ``value`` at ``path`` (None: discarded)."""
    if path is None:
        return data
    if path == "$":
        return value
    if not path.startswith("$."):
        raise PathError(f"ResultPath {path!r} is not a path")
    result = copy.deepcopy(data)
    target = result
    parts = path[2:].split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value
    return result


@dataclass
class Walker:
    """Runs one definition; ``failing`` names the task states that fail when entered."""

    respond: Responder
    failing: frozenset[str] = frozenset()
    error: dict[str, str] = field(
        default_factory=lambda: {"Error": "States.TaskFailed", "Cause": "the step failed"}
    )

    def run(self, definition: dict[str, Any], data: Any, context: dict[str, Any]) -> Trace:
        trace = Trace()
        name = definition["StartAt"]
        while True:
            state = definition["States"][name]
            trace.states.append(name)
            kind = state["Type"]
            if kind in ("Succeed", "Fail"):
                trace.output, trace.failed = data, kind == "Fail"
                return trace
            if kind == "Choice":
                name = self._choose(state, data, context)
                continue
            if kind == "Wait":
                name = state["Next"]
                continue
            try:
                data = self._enter(name, state, data, context, trace)
            except _Caught as caught:
                data = place(data, caught.handler.get("ResultPath", "$"), caught.error)
                name = caught.handler["Next"]
                continue
            if state.get("End"):
                trace.output = data
                return trace
            name = state["Next"]

    def _enter(
        self,
        name: str,
        state: dict[str, Any],
        data: Any,
        context: dict[str, Any],
        trace: Trace,
    ) -> Any:
        effective = select(state.get("InputPath", "$"), data, context)
        if "Parameters" in state:
            effective = build(state["Parameters"], effective, context)
        trace.inputs[name] = effective
        if state["Type"] == "Pass":
            result = copy.deepcopy(state["Result"]) if "Result" in state else effective
        elif state["Type"] == "Map":
            result = self._map(name, state, data, context, trace)
        else:
            if name in self.failing:
                raise _Caught(self._catch(name, state, self.error["Error"]), self.error)
            try:
                result = self.respond(name, state, effective)
            except TaskFailure as failure:
                error = {"Error": failure.error, "Cause": failure.cause}
                raise _Caught(self._catch(name, state, failure.error), error) from failure
            if state["Resource"].startswith("arn:aws:states:::events:putEvents"):
                trace.events += [(name, entry) for entry in effective["Entries"]]
        if "ResultSelector" in state:
            result = build(state["ResultSelector"], result, context)
        return place(data, state.get("ResultPath", "$"), result)

    def _map(
        self,
        name: str,
        state: dict[str, Any],
        data: Any,
        context: dict[str, Any],
        trace: Trace,
    ) -> Any:
        if name in self.failing:
            raise _Caught(self._catch(name, state, self.error["Error"]), self.error)
        reader = build(state["ItemReader"].get("Parameters", {}), data, context)
        items = self.respond(name, state, reader)
        outputs = []
        for index, item in enumerate(items):
            item_context = {**context, "Map": {"Item": {"Value": item, "Index": index}}}
            selected = build(state["ItemSelector"], data, item_context)
            inner = self.run(state["ItemProcessor"], selected, item_context)
            trace.states += [f"{name}/{state_name}" for state_name in inner.states]
            trace.inputs.update({f"{name}/{k}": v for k, v in inner.inputs.items()})
            outputs.append(inner.output)
        select(state["MaxConcurrencyPath"], data, context)
        if "ResultWriter" in state:
            return self._write_results(name, state, data, context, outputs, trace)
        return outputs

    def _write_results(
        self,
        name: str,
        state: dict[str, Any],
        data: Any,
        context: dict[str, Any],
        outputs: list[Any],
        trace: Trace,
    ) -> dict[str, Any]:
        """A ResultWriter as AWS runs it: the iterations' results in ``SUCCEEDED_0.json``
        under ``<Prefix><map run id>/`` with a ``manifest.json`` naming it; the state's
        result says where the manifest is."""
        target = build(state["ResultWriter"]["Parameters"], data, context)
        bucket, prefix = target["Bucket"], target["Prefix"]
        map_run = f"{context['Execution']['Id']}/{name}:run-1".replace(":execution:", ":mapRun:")
        folder = f"{prefix}run-1/"
        executions = [
            {"Name": f"item-{i}", "Status": "SUCCEEDED", "Output": json.dumps(output)}
            for i, output in enumerate(outputs)
        ]
        results_key = f"{folder}SUCCEEDED_0.json"
        body = json.dumps(executions).encode()
        trace.objects[(bucket, results_key)] = body
        manifest = {
            "DestinationBucket": bucket,
            "MapRunArn": map_run,
            "ResultFiles": {
                "FAILED": [],
                "PENDING": [],
                "SUCCEEDED": [
                    {"Key": results_key, "Size": len(trace.objects[(bucket, results_key)])}
                ],
            },
        }
        trace.objects[(bucket, f"{folder}manifest.json")] = json.dumps(manifest).encode()
        return {
            "MapRunArn": map_run,
            "ResultWriterDetails": {"Bucket": bucket, "Key": f"{folder}manifest.json"},
        }

    def _catch(self, name: str, state: dict[str, Any], error: str) -> dict[str, Any]:
        for handler in state.get("Catch", []):
            if error in handler["ErrorEquals"] or "States.ALL" in handler["ErrorEquals"]:
                return dict(handler)
        raise AssertionError(f"{name} fails with {error} and catches nothing")

    def _choose(self, state: dict[str, Any], data: Any, context: dict[str, Any]) -> str:
        for choice in state["Choices"]:
            if matches(choice, data, context):
                return str(choice["Next"])
        return str(state["Default"])


def matches(rule: dict[str, Any], data: Any, context: dict[str, Any]) -> bool:
    """One Choice rule: a comparison of its Variable, or And/Or of rules."""
    if "And" in rule:
        return all(matches(part, data, context) for part in rule["And"])
    if "Or" in rule:
        return any(matches(part, data, context) for part in rule["Or"])
    if "IsPresent" in rule:
        try:
            select(rule["Variable"], data, context)
        except PathError:
            return not rule["IsPresent"]
        return bool(rule["IsPresent"])
    value = select(rule["Variable"], data, context)
    if "StringEqualsPath" in rule:
        return bool(value == select(rule["StringEqualsPath"], data, context))
    if "StringMatches" in rule:  # ``*`` matches any run of characters, nothing else is special
        pattern = ".*".join(re.escape(part) for part in rule["StringMatches"].split("*"))
        return isinstance(value, str) and re.fullmatch(pattern, value, re.S) is not None
    if "NumericGreaterThan" in rule:
        return isinstance(value, int | float) and value > rule["NumericGreaterThan"]
    if "NumericLessThan" in rule:
        return isinstance(value, int | float) and value < rule["NumericLessThan"]
    return bool(value == rule["StringEquals"])


class _Caught(Exception):
    def __init__(self, handler: dict[str, Any], error: dict[str, str]) -> None:
        super().__init__(handler["Next"])
        self.handler, self.error = handler, error
