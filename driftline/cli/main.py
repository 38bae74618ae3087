"""The ``driftline`` command: root options, the command table, and exit codes.

Exit codes: 0 done; 1 an operation failed (the message says why); 2 a precondition is
missing or the command line is wrong (the message names the fix); 130 interrupted.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from importlib.metadata import version as package_version
from typing import Annotated, Literal

import typer
from rich.markup import escape

# Typer (pinned) keeps click's parsing errors in its vendored copy of click.
from typer._click.exceptions import NoArgsIsHelpError, UsageError

from driftline.cli import contracts, data, demo, local, logs, pipeline, realtime, views
from driftline.cli.base import Session, begin, console
from driftline.cli.failures import report as report_failure
from driftline.localcloud import LocalCloud

USAGE_ERROR = 2

app = typer.Typer(
    name="driftline",
    help="driftline: drop data files, watch them become models and predictions, and find "
    "out why when something fails, on the local cloud or on AWS.\n\n"
    "Exit codes: 0 done, 1 an operation failed, 2 something to fix first (the message "
    "says what).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
)
app.add_typer(local.local_app, name="local")
app.add_typer(contracts.contracts_app, name="contracts")
for command in (
    data.drop,
    pipeline.train,
    pipeline.infer,
    realtime.score,
    realtime.endpoints,
    views.status,
    logs.logs,
    views.report,
    data.sample,
    demo.demo,
):
    app.command()(command)


def _version(show: bool) -> None:
    if show:
        print(f"driftline {package_version('driftline')}")
        raise typer.Exit()


@app.callback()
def root(
    context: typer.Context,
    target: Annotated[
        Literal["local", "aws"] | None,
        typer.Option(
            help="Where to act: the local cloud (default, or $DRIFTLINE_TARGET) or the AWS "
            "account of your usual AWS settings.",
            show_default=False,
        ),
    ] = None,
    stage: Annotated[
        str | None, typer.Option(help="The stage (default dev, or $DRIFTLINE_STAGE).")
    ] = None,
    debug: Annotated[
        bool,
        typer.Option("--debug", help="Show the traceback of an error (also DRIFTLINE_DEBUG=1)."),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print driftline's version."
        ),
    ] = False,
) -> None:
    session = context.ensure_object(Session)
    session.target_name, session.stage = target, stage
    session.debug = session.debug or debug
    begin(session)


def _debug_from_environment() -> bool:
    return os.environ.get("DRIFTLINE_DEBUG", "").lower() in ("1", "true", "yes")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``driftline`` with ``argv`` (default: the process's arguments); returns the exit
    code. Nothing ends in a traceback unless --debug or DRIFTLINE_DEBUG=1 asks for it."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    session = Session(None, None, debug=_debug_from_environment())
    try:
        return _run(arguments, session)
    except BrokenPipeError:  # the reader went away (`driftline logs ... | head`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _run(arguments: list[str], session: Session) -> int:
    command = typer.main.get_command(app)
    try:
        with command.make_context("driftline", arguments, obj=session) as context:
            command.invoke(context)
        return 0
    except typer.Exit as done:  # --help, --version
        return done.exit_code
    except NoArgsIsHelpError:  # the help is printed already
        return USAGE_ERROR
    except UsageError as error:
        message = error.format_message().rstrip(".")
        hint = f" (see `{error.ctx.command_path} --help`)" if error.ctx else ""
        console.print(f"[red]error:[/red] {escape(message)}{hint}.", soft_wrap=True)
        return USAGE_ERROR
    except typer.Abort:
        return report_failure(KeyboardInterrupt(), session=session, endpoint="")
    except BrokenPipeError:
        raise
    except Exception as error:  # every error ends as one line and an exit code
        return report_failure(error, session=session, endpoint=LocalCloud().endpoint)
    except KeyboardInterrupt as error:
        return report_failure(error, session=session, endpoint="")
