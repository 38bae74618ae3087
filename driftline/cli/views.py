"""``driftline status`` and ``driftline report``: what the pipeline holds and did."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from driftline_runtime import names
from rich.console import Console

from driftline import status as status_of
from driftline.cli.base import JsonOption, deployed, file_param, print_json, requires, say, unless
from driftline.cli.base import session as current_session
from driftline.errors import DriftlineError
from driftline.localcloud import LocalCloud
from driftline.status_view import print_status
from driftline.target import Target


@requires(deployed(names.DATA_STACK, names.PIPELINE_STACK))
def status(as_json: JsonOption = False) -> None:
    """Show dataset versions and their validation, models with approval and metrics,
    inference runs, drift, retrainings and executions, and each failure with the
    `driftline logs` command that explains it.

    `--json` prints the same facts as the stable document described in the README.

    Example:

    ```
    driftline status
    driftline --target aws --stage prod status --json
    ```
    """
    facts = status_of.collect(current_session().target)
    if as_json:
        print_json(facts)
        return
    print_status(facts, Console())


def describe_target(target: Target) -> str:
    if target.name == "local":
        return f"local cloud ({LocalCloud().endpoint}), stage {target.stage}"
    identity = target.client("sts").get_caller_identity()
    region = target.client("sts").meta.region_name
    return f"AWS account {identity['Account']} {region}, stage {target.stage}"


def write_report(target: Target | None, out: Path, from_json: Path | None = None) -> dict[str, str]:
    """Render the HTML report: from the pipeline (``target``), or a saved ``ReportData``
    document (``from_json``)."""
    from pydantic import ValidationError

    from driftline.report import ReportData, render_report

    try:
        if from_json is not None:
            data = ReportData.model_validate_json(from_json.read_bytes())
        elif target is not None:
            document = status_of.report_document(target, describe_target(target))
            data = ReportData.model_validate(document)
        else:
            raise ValueError("write_report needs a target or a saved document")
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'document'}: {e['msg']}"
            for e in error.errors(include_url=False)[:5]
        )
        raise DriftlineError(f"{from_json} is not a report document: {problems}") from error
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(data), encoding="utf-8")
    return {"path": str(out), "target": data.target, "generated_at": str(data.generated_at)}


@requires(
    file_param("from_json", data=False),
    unless("from_json", deployed(names.DATA_STACK, names.PIPELINE_STACK)),
)
def report(
    out: Annotated[Path, typer.Option(metavar="FILE.html", help="Where to write.")] = Path(
        "report.html"
    ),
    from_json: Annotated[
        Path | None,
        typer.Option(
            metavar="DATA.json",
            help="Render a saved report document (JSON of driftline.report.ReportData) "
            "instead of the pipeline's current state.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Write one self-contained HTML page of the pipeline: datasets, models, inference
    runs, drift per feature and lineage. It opens with no network.

    Example:

    ```
    driftline report --out build/report.html
    ```
    """
    target = current_session().target if from_json is None else None
    written = write_report(target, out, from_json)
    if as_json:
        print_json(written)
        return
    say(f"report written to {out}")
