"""Live progress for long waits (``driftline demo``): stages, spinners, elapsed time.

::

    with StageProgress(console) as progress:
        with progress.stage("Train model v1") as stage:
            model = wait_for_model(...)
            stage.outcome(f"{model['approval']}, test AUC {auc:.3f}")

On a terminal, running stages show a spinner and their elapsed time in a live region,
and each finished stage is printed above it. Elsewhere (CI, a pipe) nothing moves: one
plain line per finished stage, no escape codes. Either way a summary table (stage,
outcome, latency, failed stages marked) closes the run, even when a stage raised.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

Clock = Callable[[], float]


@dataclass
class StageResult:
    """A finished stage: what it was, what came of it and how long it took."""

    name: str
    outcome: str
    seconds: float
    failed: bool


@dataclass
class Stage:
    """The handle a running stage's body reports through."""

    name: str
    started: float
    spinner: Spinner = field(default_factory=lambda: Spinner("dots", style="cyan"))
    result: str = ""
    failed: bool = False

    def outcome(self, text: str) -> None:
        """What the stage achieved, e.g. ``Approved, test AUC 0.874``."""
        self.result = text

    def fail(self, text: str) -> None:
        """Mark the stage failed without raising (the run goes on; see ``failed``)."""
        self.result = text
        self.failed = True


class StageProgress:
    """Stages with live progress on a terminal, plain lines elsewhere, and a summary."""

    def __init__(
        self,
        console: Console,
        *,
        interactive: bool | None = None,
        title: str = "Summary",
        clock: Clock = time.monotonic,
    ) -> None:
        self.console = console
        self.interactive = console.is_interactive if interactive is None else interactive
        self.title = title
        self.results: list[StageResult] = []
        self._clock = clock
        self._running: list[Stage] = []
        self._live: Live | None = None

    # -- the run ------------------------------------------------------------------------
    def __enter__(self) -> Self:
        if self.interactive:
            self._live = Live(
                self._live_view(),
                console=self.console,
                refresh_per_second=8,
                transient=True,
            )
            self._live.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
        if self.results:
            self._print_summary()

    @property
    def failed(self) -> bool:
        """Whether any stage failed so far."""
        return any(result.failed for result in self.results)

    @contextmanager
    def stage(self, name: str) -> Iterator[Stage]:
        """Time the body as one stage; an exception marks it failed and propagates."""
        stage = Stage(name, self._clock())
        self._running.append(stage)
        try:
            yield stage
        except BaseException as error:
            if not stage.failed:
                stage.fail(stage.result or f"{type(error).__name__}: {error}")
            raise
        finally:
            self._running.remove(stage)
            self._finish(stage)

    def note(self, text: str) -> None:
        """A line of detail (a rejection reason, a URL) printed as it happens."""
        if self.interactive:
            self.console.print(f"  [dim]{escape(text)}[/dim]")
        else:
            self.console.print(f"  {text}", markup=False, highlight=False)

    # -- output -------------------------------------------------------------------------
    def _live_view(self) -> _Running:
        """What the live region redraws: the stages running now."""
        return _Running(self._running, self._clock)

    def _finish(self, stage: Stage) -> None:
        result = StageResult(
            stage.name, stage.result or "done", self._clock() - stage.started, stage.failed
        )
        self.results.append(result)
        latency = _seconds(result.seconds)
        if self.interactive:
            mark = "[red]✗[/red]" if result.failed else "[green]✓[/green]"
            self.console.print(
                f"{mark} [bold]{escape(result.name)}[/bold]: {escape(result.outcome)} "
                f"[dim]({latency})[/dim]"
            )
        else:
            verdict = "FAILED: " if result.failed else ""
            self.console.print(
                f"{result.name}: {verdict}{result.outcome} ({latency})",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )

    def _print_summary(self) -> None:
        if self.interactive:
            self.console.print(self.summary())
            return
        # Rendered without a colour system: a log file or CI gets no escape codes, even
        # from a console that would colour.
        rendered = io.StringIO()
        plain = Console(
            file=rendered, width=self.console.width, color_system=None, force_terminal=False
        )
        plain.print(self.summary())
        self.console.print(Text(rendered.getvalue()), end="", soft_wrap=True)

    def summary(self) -> Table:
        """Stage, outcome and latency of every finished stage; failed ones marked."""
        table = Table(title=self.title, title_justify="left")
        table.add_column("stage")
        table.add_column("outcome", overflow="fold")
        table.add_column("latency", justify="right")
        for result in self.results:
            style = "red" if result.failed else ""
            mark = "FAILED " if result.failed else ""
            table.add_row(
                Text(result.name, style=style),
                Text(mark + result.outcome, style=style),
                _seconds(result.seconds),
            )
        total = sum(result.seconds for result in self.results)
        table.add_section()
        table.add_row(Text("total", style="bold"), "", Text(_seconds(total), style="bold"))
        return table


class _Running:
    """The live region: a spinner, the name and the elapsed time of each running stage."""

    def __init__(self, running: list[Stage], clock: Clock) -> None:
        self.running = running
        self.clock = clock

    def __rich__(self) -> RenderableType:
        grid = Table.grid(padding=(0, 1))
        for stage in list(self.running):
            grid.add_row(
                stage.spinner,
                Text(stage.name, style="bold"),
                Text(_seconds(self.clock() - stage.started), style="dim"),
            )
        return Group(grid)


def _seconds(value: float) -> str:
    if value < 60:
        return f"{value:.1f} s"
    minutes, seconds = divmod(value, 60)
    return f"{minutes:.0f} min {seconds:02.0f} s"
