"""Live progress (driftline.progress) on a terminal and in a non-interactive run."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from rich.console import Console

from driftline.progress import StageProgress

ANSI = re.compile(r"\x1b\[")


class FakeClock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def console(*, terminal: bool) -> tuple[Console, StringIO]:
    out = StringIO()
    if terminal:
        return Console(file=out, force_terminal=True, width=100, color_system="standard"), out
    return Console(file=out, force_terminal=False, width=100), out


def plain(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


def run_two_stages(progress: StageProgress, clock: FakeClock) -> None:
    with progress.stage("Deploy driftline") as stage:
        clock.now += 33.6
        stage.outcome("3 stacks")
    with progress.stage("Train model v1") as stage:
        clock.now += 7.3
        progress.note("job driftline-dev-transactions-1")
        stage.outcome("Approved, test AUC 0.874")


def test_a_non_interactive_run_prints_one_plain_line_per_stage_and_a_summary() -> None:
    # Given a console that is not a terminal (CI, a pipe)
    out_console, out = console(terminal=False)
    clock = FakeClock()
    # When two stages run
    with StageProgress(out_console, clock=clock) as progress:
        assert not progress.interactive
        run_two_stages(progress, clock)
    text = out.getvalue()
    # Then each finished stage is one plain line, in order, with its latency
    lines = text.splitlines()
    assert lines[0] == "Deploy driftline: 3 stacks (33.6 s)"
    assert lines[1] == "  job driftline-dev-transactions-1"
    assert lines[2] == "Train model v1: Approved, test AUC 0.874 (7.3 s)"
    # ... and the summary table lists stage, outcome and latency, and the total
    assert re.search(r"Deploy driftline\s+│\s+3 stacks\s+│\s+33\.6 s", text)
    assert re.search(r"Train model v1\s+│\s+Approved, test AUC 0.874\s+│\s+7\.3 s", text)
    assert re.search(r"total\s+│\s+│\s+40\.9 s", text)
    # ... with no escape codes at all
    assert not ANSI.search(text)
    assert not progress.failed


def test_an_interactive_run_shows_marks_colours_and_the_summary() -> None:
    # Given a terminal
    out_console, out = console(terminal=True)
    clock = FakeClock()
    with StageProgress(out_console, clock=clock) as progress:
        assert progress.interactive
        run_two_stages(progress, clock)
    text = out.getvalue()
    shown = plain(text)
    # Then finished stages carry a check mark, and the live region drew escape codes
    assert "✓ Deploy driftline: 3 stacks (33.6 s)" in shown
    assert "✓ Train model v1: Approved, test AUC 0.874 (7.3 s)" in shown
    assert ANSI.search(text)
    assert re.search(r"total\s+│\s+│\s+40\.9 s", shown)


def test_the_live_region_shows_each_running_stage_with_its_elapsed_time() -> None:
    # Given a stage that has been running for 12.3 s
    out_console, _ = console(terminal=True)
    clock = FakeClock()
    progress = StageProgress(out_console, interactive=True, clock=clock)
    with progress.stage("Wait for drift"):
        clock.now += 12.34
        # When the live region renders, Then it names the stage and its elapsed time
        with out_console.capture() as captured:
            out_console.print(progress._live_view())
        assert re.search(r"Wait for drift\s+12\.3 s", plain(captured.get()))
    with out_console.capture() as captured:
        out_console.print(progress._live_view())
    assert "Wait for drift" not in captured.get()


def test_a_stage_that_raises_is_marked_failed_and_the_summary_still_prints() -> None:
    out_console, out = console(terminal=False)
    clock = FakeClock()
    with pytest.raises(TimeoutError), StageProgress(out_console, clock=clock) as progress:
        with progress.stage("Train model v1"):
            clock.now += 300
            raise TimeoutError("no model within 300 s")
    text = out.getvalue()
    assert "Train model v1: FAILED: TimeoutError: no model within 300 s (5 min 00 s)" in text
    assert re.search(r"Train model v1\s+│\s+FAILED TimeoutError", text)
    assert progress.failed


def test_a_stage_can_fail_without_raising_and_the_run_goes_on() -> None:
    out_console, out = console(terminal=False)
    clock = FakeClock()
    with StageProgress(out_console, clock=clock) as progress:
        with progress.stage("Detect drift") as stage:
            stage.fail("no DriftDetected event within 60 s")
        with progress.stage("Report"):
            pass
    lines = out.getvalue().splitlines()
    assert lines[0] == "Detect drift: FAILED: no DriftDetected event within 60 s (0.0 s)"
    assert lines[1] == "Report: done (0.0 s)"
    assert progress.failed
    assert [r.failed for r in progress.results] == [True, False]


def test_markup_in_stage_text_is_printed_as_it_is() -> None:
    out_console, out = console(terminal=True)
    with StageProgress(out_console) as progress, progress.stage("Drop [red]x[/red]") as stage:
        stage.outcome("rows [bold]")
    assert "Drop [red]x[/red]: rows [bold]" in plain(out.getvalue())


def test_a_non_interactive_run_stays_plain_even_on_a_console_with_colours() -> None:
    # Given a console with a colour system that is still told the run is not interactive
    out = StringIO()
    coloured = Console(file=out, force_terminal=True, color_system="standard", width=100)
    clock = FakeClock()
    with StageProgress(coloured, interactive=False, clock=clock) as progress:
        run_two_stages(progress, clock)
    # Then neither the stage lines nor the summary carry escape codes
    assert not ANSI.search(out.getvalue())
    assert "Train model v1: Approved, test AUC 0.874 (7.3 s)" in out.getvalue()
