"""What every command shares: the session, declared preconditions, output helpers.

A command declares what must hold before it runs with :func:`requires`; the checks run
in the order given, before the command touches anything, and each raises
:class:`~driftline.errors.PreconditionFailed` (exit 2) with the fix::

    @requires(dataset_param(kind="training"), deployed(names.DATA_STACK, names.PIPELINE_STACK))
    def train(dataset: str, ...) -> None: ...

Checks that look at the command's own arguments (a dataset, a file) come first, so a
typo is reported before the cloud is asked anything.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from driftline import preconditions
from driftline.errors import PreconditionFailed
from driftline.localcloud import ROOT, LocalCloud
from driftline.target import Target

console = Console(stderr=True)
SAMPLES = ROOT / "samples"
SAMPLE = SAMPLES / "transactions.csv"
# What `driftline demo` generates and leaves behind.
DEMO_FOLDER = ROOT / "build" / "demo"
DEMO_REPORT = ROOT / "build" / "demo-report.html"

JsonOption = Annotated[
    bool,
    typer.Option(
        "--json", help="Print the result as JSON (a stable interface: keys are only added)."
    ),
]


@dataclass
class Session:
    """The root options of one ``driftline`` run."""

    target_name: str | None
    stage: str | None
    debug: bool = False
    json: bool = False

    @property
    def target_label(self) -> str:
        """``local`` or ``aws``, as the target will be (even when it cannot be built)."""
        return self.target_name or os.environ.get("DRIFTLINE_TARGET", "local")

    @functools.cached_property
    def target(self) -> Target:
        # Built when first needed: a bad DRIFTLINE_TARGET must not stop `local down`.
        return Target.from_environment(self.target_name, self.stage)


_CURRENT: ContextVar[Session | None] = ContextVar("driftline_session", default=None)


def begin(session: Session) -> None:
    """Make ``session`` the running command's (the root callback does)."""
    _CURRENT.set(session)


def session() -> Session:
    """The running command's session."""
    current = _CURRENT.get()
    if current is None:
        current = Session(None, None)
        _CURRENT.set(current)
    return current


def say(message: str) -> None:
    """A progress line on stderr with the time, as the other commands' lines."""
    console.print(f"[dim]{datetime.now(UTC):%H:%M:%S}[/dim] {escape(message)}", soft_wrap=True)


def print_json(document: Any) -> None:
    print(json.dumps(document, indent=2, default=str))


# -- preconditions ---------------------------------------------------------------------
@dataclass(frozen=True)
class Invocation:
    session: Session
    params: dict[str, Any]

    @property
    def target(self) -> Target:
        return self.session.target


Check = Callable[[Invocation], None]


def requires(*checks: Check) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Run ``checks`` before the command (see the module's docstring)."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(command)
        def run(**params: Any) -> Any:
            current = session()
            current.json = bool(params.get("as_json"))
            for check in checks:
                check(Invocation(current, params))
            return command(**params)

        return run

    return decorate


def reachable(invocation: Invocation) -> None:
    """The local cloud runs, or AWS has a region and credentials."""
    preconditions.reachable(invocation.target)


def deployed(*lifecycles: str) -> Check:
    """The app's stacks of ``lifecycles`` (``data``, ``pipeline``) exist on the target."""

    def check(invocation: Invocation) -> None:
        preconditions.deployed(invocation.target, *lifecycles)

    return check


def dataset_param(
    name: str = "dataset", *, kind: str | None = None, kind_param: str | None = None
) -> Check:
    """The argument ``name`` is a declared dataset, of ``kind`` (or the one the
    ``kind_param`` option names, when given)."""

    def check(invocation: Invocation) -> None:
        wanted = kind or (invocation.params.get(kind_param) if kind_param else None)
        preconditions.declared_dataset(invocation.params[name], wanted)

    return check


def file_param(name: str, *, data: bool = True) -> Check:
    """The argument ``name`` is a readable file (with ``data``: in a format driftline reads)."""

    def check(invocation: Invocation) -> None:
        path = invocation.params.get(name)
        if path is not None:
            preconditions.input_file(Path(path), data=data)

    return check


def unless(flag: str, *checks: Check) -> Check:
    """``checks``, except when the option ``flag`` is set (e.g. ``--check``)."""

    def check(invocation: Invocation) -> None:
        if not invocation.params.get(flag):
            for inner in checks:
                inner(invocation)

    return check


def local_target(invocation: Invocation) -> None:
    """Commands that act on the local cloud whatever the target (``local up``, ``demo``)."""
    if invocation.target.name != "local":
        raise PreconditionFailed(
            "This command runs on the local cloud only",
            "Leave out --target aws (and unset DRIFTLINE_TARGET).",
            code="local_only",
        )


def dev_stage(invocation: Invocation) -> None:
    """The demo deploys and tells the story of stage dev."""
    if invocation.target.stage != "dev":
        raise PreconditionFailed(
            f"The demo runs stage dev, not {invocation.target.stage}",
            "Leave out --stage (and unset DRIFTLINE_STAGE).",
            code="demo_stage",
        )


def free_port(invocation: Invocation) -> None:
    """The local cloud's port is free, or this local cloud serves it already."""
    preconditions.port_free(LocalCloud())
