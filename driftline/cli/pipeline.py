"""``driftline train`` and ``driftline infer``: start the state machines by hand."""

from __future__ import annotations

from typing import Annotated

import typer

from driftline.actions import start_inference, start_training
from driftline.cli.base import JsonOption, dataset_param, deployed, print_json, requires, say
from driftline.cli.base import session as current_session
from driftline.status import logs_command

Version = Annotated[
    str | None,
    typer.Option(help="The dataset version (default: the newest validated one)."),
]


def _started(dataset: str, execution: str, as_json: bool) -> None:
    name = execution.rsplit(":", 1)[-1]
    if as_json:
        print_json({"execution": execution, "name": name, "dataset": dataset})
        return
    say(f"started execution {name}")
    say(f"follow it: {logs_command(current_session().target, name)} --follow")


@requires(dataset_param(kind="training"), deployed("data", "pipeline"))
def train(
    dataset: Annotated[str, typer.Argument(help="A declared training dataset.")],
    version: Version = None,
    as_json: JsonOption = False,
) -> None:
    """Start the training state machine on a dataset version, as a validated training
    file does by itself.

    Example:

    ```
    driftline train transactions
    driftline train transactions --version 3f2a9c0d41b7e6a5
    ```
    """
    _started(dataset, start_training(current_session().target, dataset, version), as_json)


@requires(dataset_param(kind="inference"), deployed("data", "pipeline"))
def infer(
    dataset: Annotated[str, typer.Argument(help="A declared inference dataset.")],
    version: Version = None,
    as_json: JsonOption = False,
) -> None:
    """Start batch inference on a dataset version with the newest approved model, as a
    validated file to score does by itself.

    Example:

    ```
    driftline infer scoring
    ```
    """
    _started(dataset, start_inference(current_session().target, dataset, version), as_json)
