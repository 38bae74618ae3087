"""``driftline train`` and ``driftline infer``: start the state machines by hand."""

from __future__ import annotations

from typing import Annotated

import typer
from driftline_runtime import names

from driftline import preconditions
from driftline.actions import start_inference, start_training
from driftline.cli.base import JsonOption, dataset_param, deployed, print_json, requires, say
from driftline.cli.base import session as current_session
from driftline.status import logs_command

Version = Annotated[
    str | None,
    typer.Option(help="The validated dataset version, or its first digits (default: the newest)."),
]


def _started(dataset: str, version: str, execution: str, as_json: bool) -> None:
    name = execution.rsplit(":", 1)[-1]
    if as_json:
        print_json({"execution": execution, "name": name, "dataset": dataset, "version": version})
        return
    say(f"started execution {name} on {dataset} version {version}")
    say(f"follow it: {logs_command(current_session().target, name)} --follow")


@requires(dataset_param(kind="training"), deployed(names.DATA_STACK, names.PIPELINE_STACK))
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
    driftline train transactions --version 3f2a9c0d
    ```
    """
    target = current_session().target
    version = preconditions.validated_version(target, dataset, version)
    _started(dataset, version, start_training(target, dataset, version), as_json)


@requires(dataset_param(kind="inference"), deployed(names.DATA_STACK, names.PIPELINE_STACK))
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
    target = current_session().target
    version = preconditions.validated_version(target, dataset, version)
    _started(dataset, version, start_inference(target, dataset, version), as_json)
