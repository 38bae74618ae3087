"""``driftline contracts``: the dataset contracts, checked offline as synth checks them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from driftline.cli.base import Invocation, JsonOption, console, requires
from driftline.errors import DriftlineError, PreconditionFailed

contracts_app = typer.Typer(
    help="The dataset contracts: the modules of layers/contracts/ that declare each "
    "dataset's columns, rules and ML settings.",
    no_args_is_help=True,
)


class ContractsBroken(DriftlineError):
    """A contract module would stop synth; the problems are printed one a line."""

    code = "contracts_broken"


def _extra_folders(invocation: Invocation) -> None:
    from infra.contracts_layer import folder_of, shown

    for folder in invocation.params.get("extra") or ():
        if not folder_of(folder).is_dir():
            raise PreconditionFailed(
                f"extra_contract_folders: {shown(folder_of(folder))} is not a folder",
                "Check the path (a relative one starts at the project's folder).",
                code="file_missing",
            )


@contracts_app.command("check")
@requires(_extra_folders)
def check(
    extra: Annotated[
        list[Path] | None,
        typer.Option(
            metavar="FOLDER",
            help="Also check the contract modules in FOLDER (a stage's "
            "extra_contract_folders); repeatable.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check every contract module offline, as synth does, and list each dataset with its
    kind, columns and rules. Any problem exits 1: it would stop `cdk synth`, `make
    deploy` and `driftline local up` too.

    Example:

    ```
    driftline contracts check
    driftline contracts check --extra ../team-contracts --json
    ```
    """
    from driftline_runtime.catalog import ContractsError

    from driftline.contracts import as_json as document_of
    from driftline.contracts import render
    from infra.contracts_layer import check as check_contracts

    printed = False
    try:
        checked = check_contracts(extra or ())
    except ContractsError as error:  # an extra module that clashes with a project module
        problems = error.problems
    else:
        problems = checked.problems
        if as_json:
            print(json.dumps(document_of(checked), indent=2))
        else:
            print("\n".join(render(checked)))
        printed = as_json
    for problem in problems:
        # Unwrapped: a path split over two lines cannot be copied.
        console.print(f"[red]error:[/red] {escape(problem)}", highlight=False, soft_wrap=True)
    if problems:
        broken = ContractsBroken(f"The dataset contracts have {len(problems)} problem(s)")
        broken.result_printed = printed
        raise broken
