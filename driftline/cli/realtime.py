"""``driftline score`` and ``driftline endpoints``: the real-time endpoints."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from driftline_runtime import names
from rich.console import Console

from driftline import endpoints as realtime
from driftline import status as status_of
from driftline.cli.base import JsonOption, dataset_param, deployed, print_json, requires, say
from driftline.cli.base import session as current_session
from driftline.errors import PreconditionFailed
from driftline.status_view import endpoints_table


def _read(source: str) -> tuple[bytes, str]:
    if source == "-":
        return sys.stdin.buffer.read(), "-"
    path = Path(source)
    if not path.is_file():
        raise PreconditionFailed(
            f"{source} is not a readable file", "Name a CSV or JSON Lines file, or - for stdin.",
            code="missing_file",
        )  # fmt: skip
    return path.read_bytes(), path.name


@requires(dataset_param(), deployed(names.DATA_STACK, names.PIPELINE_STACK))
def score(
    dataset: Annotated[
        str,
        typer.Argument(help="A training dataset with realtime settings, or a dataset it scores."),
    ],
    source: Annotated[
        str,
        typer.Argument(metavar="FILE|-", help="CSV with a header, or JSON Lines; - reads stdin."),
    ],
    as_json: JsonOption = False,
) -> None:
    """Score rows on the dataset's real-time endpoint and print one prediction per row.

    The rows are what you would drop for batch scoring: CSV with a header line or JSON
    Lines, in the dataset's own columns (others, such as the label, are ignored).
    Prints the id column and the model's prediction columns (binary: probability;
    multiclass: prediction and probability:<class>; regression: prediction) as CSV, or
    with `--json` the predictions and which variant answered how many.

    Example:

    ```
    driftline score scoring batch.csv
    head -n 11 batch.csv | driftline score transactions -
    ```
    """
    body, name = _read(source)
    scored = realtime.score(current_session().target, dataset, body, name)
    if as_json:
        print_json(
            {
                "endpoint": scored.endpoint,
                "dataset": dataset,
                "rows": len(scored.predictions),
                "variants": dict(scored.variants),
                "predictions": scored.predictions,
            }
        )
        return
    sys.stdout.write(scored.as_csv())
    say(f"{len(scored.predictions)} prediction(s) from {scored.endpoint}")


@requires(deployed(names.DATA_STACK, names.PIPELINE_STACK))
def endpoints(as_json: JsonOption = False) -> None:
    """Show the real-time endpoints: status, the model version each variant serves,
    its traffic weight, and how the last deployment ended.

    Example:

    ```
    driftline endpoints
    driftline endpoints --json
    ```
    """
    target = current_session().target
    pipeline = target.outputs(names.PIPELINE_STACK)
    deployments = status_of.executions(
        target, pipeline[names.DEPLOYMENT_STATE_MACHINE_OUTPUT], "deployment", described=True
    )
    models = status_of.models(target, pipeline[names.MODEL_PACKAGE_GROUP_PREFIX_OUTPUT])
    facts = {"endpoints": realtime.endpoints(target, deployments, models)}
    if as_json:
        print_json(facts)
        return
    if not facts["endpoints"]:
        say("No real-time endpoint yet: one is created when a model of a dataset with "
            "realtime settings is approved.")  # fmt: skip
        return
    Console().print(endpoints_table(facts))
