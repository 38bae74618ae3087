"""``driftline demo``: the whole story on the local cloud, stage by stage."""

from __future__ import annotations

import os
import time
from dataclasses import asdict
from typing import Annotated

import typer
from rich.console import Console

from driftline import status as status_of
from driftline.cli.base import (
    DEMO_FOLDER,
    DEMO_REPORT,
    JsonOption,
    console,
    dev_stage,
    free_port,
    local_target,
    print_json,
    requires,
    say,
)
from driftline.cli.local import start_and_deploy
from driftline.cli.views import write_report
from driftline.errors import DriftlineError
from driftline.localcloud import LocalCloud
from driftline.status_view import print_status
from driftline.target import Target


class DemoFailed(DriftlineError):
    code = "demo_failed"


@requires(local_target, dev_stage, free_port)
def demo(
    keep: Annotated[
        bool, typer.Option("--keep", help="Leave the local cloud running afterwards.")
    ] = False,
    seed: Annotated[
        int | None, typer.Option(help="Seed of the sample data (default: the time).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Run the whole scenario on the local cloud: train, serve the model on its
    real-time endpoint, score a clean batch, quarantine a bad file, score a drifted
    batch, retrain on drift, canary the next model onto the endpoint and roll a faulty
    one back; then write a report.

    Starts the local cloud and deploys driftline first; exits 0 only when every stage
    happened.

    Example:

    ```
    driftline demo
    driftline demo --keep --seed 4242
    ```
    """
    from driftline.scenario import completed, run_demo

    # The story starts from an empty local cloud and leaves no state behind: what a
    # `driftline local up` session kept stays as it was for the next one.
    os.environ["DRIFTLINE_LOCAL_PERSISTENCE"] = "0"
    start_and_deploy("dev")
    target = Target("local")
    seed = seed if seed is not None else int(time.time()) % 1_000_000
    succeeded = False
    try:
        progress = run_demo(target, console, DEMO_FOLDER, seed)
        succeeded = completed(progress)
        if succeeded:
            write_report(target, DEMO_REPORT)
            say(f"report written to {DEMO_REPORT}")
            if not as_json:
                print_status(status_of.collect(target), Console())
    finally:
        if keep:
            say("--keep: the local cloud stays up; stop it with `driftline local down`")
        elif LocalCloud().stop():
            say("local cloud stopped")
    if as_json:
        print_json(
            {
                "succeeded": succeeded,
                "seed": seed,
                "stages": [asdict(result) for result in progress.results],
                "report": str(DEMO_REPORT) if succeeded else None,
            }
        )
    if not succeeded:
        failed = DemoFailed("The demo did not complete: see the failed stage above")
        failed.result_printed = as_json
        raise failed
    say(f"open {DEMO_REPORT} to see the story")
