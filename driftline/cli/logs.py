"""``driftline logs``: the log lines that explain a function, an execution or a job."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Annotated

import typer
from driftline_runtime import names
from rich.console import Console
from rich.text import Text

from driftline import loglines
from driftline import logs as log_sources
from driftline.cli.base import JsonOption, deployed, requires, say
from driftline.cli.base import session as current_session
from driftline.loglines import LogLine

LEVEL_STYLES = {"ERROR": "red", "CRITICAL": "red", "WARNING": "yellow", "METRIC": "dim"}
POLL_SECONDS = 1.0


def parse_since(text: str) -> datetime:
    try:
        return loglines.since(text)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error


@requires(deployed(names.DATA_STACK, names.PIPELINE_STACK))
def logs(
    target: Annotated[
        str,
        typer.Argument(
            metavar="TARGET",
            help="A function (ingest, prepare-training, ...), `train` or `infer` (their "
            "newest run), an execution's name or ARN, a SageMaker job's name, or a dropped "
            "object's key.",
        ),
    ],
    since: Annotated[
        datetime | None,
        typer.Option(
            parser=parse_since,
            metavar="WHEN",
            help="Lines from this long ago (30s, 10m, 2h, 1d) or this ISO time on. Default: "
            "10m for a function, the whole run for an execution or job.",
        ),
    ] = None,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            "-f",
            help="Keep printing new lines: until the execution or job ends, for a function "
            "until Ctrl-C.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Show log lines with their request id and correlation id (the object key or the
    execution they served), from CloudWatch Logs, on the local cloud or on AWS.

    For an execution, that is its history (each state, each failure with its cause), the
    lines of the function invocations that served it, and the logs of its SageMaker jobs.
    `driftline status` names the command for each failure it shows.

    Example:

    ```
    driftline logs ingest --since 1h
    driftline logs train --follow
    driftline logs dl-dev-transactions-96181080-20261129133114
    driftline logs 'transactions/20261129T133112141851Z-today.csv'
    ```
    """
    source = log_sources.resolve(current_session().target, target)
    start = since or source.default_start()
    console = Console(soft_wrap=True)
    printed = 0
    if follow:
        lines = loglines.follow(
            source.fetch, start, source.finished, lambda: time.sleep(POLL_SECONDS)
        )
    else:
        lines = iter(source.fetch(start))
    try:
        for line in lines:
            printed += 1
            if as_json:
                print(json.dumps(line.as_json(), default=str), flush=True)
            else:
                console.print(render(line))
    except KeyboardInterrupt:
        return  # the way to end --follow on a function
    if not printed and not as_json:
        say(f"no log lines of {source.title} since {start:%Y-%m-%d %H:%M:%S} UTC (--since widens)")


def render(line: LogLine) -> Text:
    """``time source [request id] (correlation id) LEVEL message``, never read as markup."""
    text = Text(f"{line.time:%Y-%m-%d %H:%M:%S}.{line.time.microsecond // 1000:03d} ", "dim")
    text.append(line.source, "cyan")
    if line.request_id:
        text.append(f" [{line.request_id}]", "magenta")
    if line.correlation_id:
        text.append(f" ({line.correlation_id})", "blue")
    if line.level:
        text.append(f" {line.level}", LEVEL_STYLES.get(line.level, "bold"))
    text.append(f" {loglines.describe(line)}")
    return text
