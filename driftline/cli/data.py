"""``driftline drop`` and ``driftline sample``: files into the pipeline, and files to try."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from driftline_runtime import names
from rich.console import Console
from rich.markup import escape

from driftline.actions import drop_file, raw_key
from driftline.cli.base import (
    Invocation,
    JsonOption,
    dataset_param,
    deployed,
    file_param,
    print_json,
    requires,
    say,
    session,
    unless,
)
from driftline.errors import DriftlineError, PreconditionFailed


class FileRejected(DriftlineError):
    """``drop --check``: the file breaks its contract (the report says how)."""

    code = "rejected"


@requires(
    dataset_param("dataset", kind_param="kind"),
    file_param("file"),
    unless("check", deployed(names.DATA_STACK)),
)
def drop(
    file: Annotated[
        Path, typer.Argument(help="A .csv, .parquet, .jsonl or .ndjson file (or .gz).")
    ],
    dataset: Annotated[str, typer.Option(help="The declared dataset the file belongs to.")],
    kind: Annotated[
        Literal["training", "inference", "labels"] | None,
        typer.Option(help="The dataset's kind, as a safeguard: refused if it is not."),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Validate the file against its contract here, with the ingest function's "
            "validator and report, and upload nothing.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Upload FILE to the raw bucket as `<dataset>/<UTC time>-<file name>`; the pipeline
    takes it from there (`driftline status` shows what became of it).

    Before anything is uploaded, the dataset must be declared and the file readable, in
    a format driftline reads. With `--check`, the file is judged locally instead: exit 0
    if the ingest function would accept it, 1 with its reasons if not.

    Example:

    ```
    driftline drop samples/transactions.csv --dataset transactions
    driftline drop today.parquet --dataset scoring --check
    ```
    """
    if check:
        _check(file, dataset, as_json)
        return
    target = session().target
    bucket, key, version = drop_file(target, file, dataset, kind)
    if as_json:
        print_json({"bucket": bucket, "key": key, "version_id": version, "dataset": dataset})
        return
    say(f"uploaded {file} to s3://{bucket}/{key}")
    say(f"follow it: driftline logs '{key}', or driftline status")


def _check(path: Path, dataset: str, as_json: bool) -> None:
    # Imported here: pyarrow and the validator slow down every other command's start.
    from driftline_runtime import checking

    from driftline.preconditions import loaded_contract

    data = path.read_bytes()
    now = datetime.now(UTC)
    key = raw_key(dataset, path, now)
    spec = loaded_contract(dataset)
    verdict = checking.check_file(data, key, spec, now)
    validation = verdict.validation
    if verdict.clean is not None and validation is not None:
        # As the ingest function records them: accepted, left out of the curated data.
        validation = {**validation, "dropped_columns": spec.undeclared(verdict.clean)}
    document = checking.report(
        dataset=dataset,
        # The version the ingest function would name: the content's digest.
        version=hashlib.sha256(data).hexdigest()[:16],
        outcome=verdict.outcome,
        reasons=verdict.reasons,
        source={"path": str(path), "key": key},
        checked_at=now,
        validation=validation,
    )
    if as_json:
        print_json(document)
    else:
        _print_verdict(document)
    if verdict.outcome == "rejected":
        rejected = FileRejected(f"{path} would be rejected: {len(verdict.reasons)} reason(s)")
        rejected.result_printed = as_json
        raise rejected


def _print_verdict(document: dict[str, Any]) -> None:
    out = Console()
    validation = document["validation"] or {}
    style = "green" if document["outcome"] == "accepted" else "red"
    rows = f", {validation.get('valid_rows')} of {validation.get('rows')} rows valid"
    out.print(
        f"[{style}]{document['outcome']}[/{style}]: {escape(document['source']['path'])} as "
        f"{escape(document['dataset'])} version {document['version']}"
        + (rows if validation else ""),
        soft_wrap=True,
    )
    for reason in document["reasons"]:
        # The report holds structured reasons; a person reads their text form.
        out.print(
            f"  reason: {escape(reason['code'])}: {escape(reason['message'])}", soft_wrap=True
        )
    for rule in validation.get("rules") or []:
        if rule.get("failed") and rule.get("column"):  # table rules are among the reasons
            examples = ", ".join(
                f"row {e['row']}: {e['value']}" for e in rule.get("examples") or []
            )
            out.print(
                f"  {escape(rule['rule'])}: {rule['failed']} row(s) fail ({escape(examples)})",
                soft_wrap=True,
            )


def iso_datetime(text: str) -> datetime:
    """``--end``: ISO 8601; without an offset it is UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise typer.BadParameter(f"not an ISO 8601 time: {text!r}") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _known_output(invocation: Invocation) -> None:
    from driftline.samples import FORMATS

    out: Path = invocation.params["out"]
    if not any(out.name.lower().endswith(suffix) for suffix in FORMATS):
        raise PreconditionFailed(
            f"{out.name} is not a format `driftline sample` writes (unknown format)",
            f"Name it {', '.join(FORMATS)}.",
            code="unknown_format",
        )


@requires(_known_output)
def sample(
    out: Annotated[
        Path,
        typer.Argument(metavar="OUT", help="Where to write: .csv, .csv.gz, .parquet or .jsonl."),
    ],
    dataset: Annotated[
        str, typer.Option(help="A declared dataset: its contract says the columns.")
    ] = "transactions",
    rows: Annotated[int, typer.Option(min=1, help="How many rows.")] = 2000,
    seed: Annotated[int, typer.Option(help="The same seed writes the same file.")] = 7,
    drift: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="0 = the training distribution, 1 = a strong shift."),
    ] = 0.0,
    concept: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="0 = fraud as the training data has it, 1 = a new fraud pattern (labels only).",
        ),
    ] = 0.0,
    unlabelled: Annotated[
        bool, typer.Option("--unlabelled", help="Leave out the target (a batch to score).")
    ] = False,
    end: Annotated[
        datetime | None,
        typer.Option(
            parser=iso_datetime, metavar="TIME", help="End of the 30-day window (default: now)."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Write seeded sample rows of a declared dataset, to drop or to train on.

    Card transactions come from their own generator; any other dataset's rows are drawn
    from its contract (types, ranges, enums, patterns), with a target its features
    predict (binary, multiclass or regression, as its spec says).

    Example:

    ```
    driftline sample build/train.csv --rows 20000
    driftline sample build/today.parquet --unlabelled --drift 0.5
    driftline sample build/sales.csv --dataset store-sales
    ```
    """
    # Imported here: numpy and pyarrow would slow every other command's start.
    from driftline.samples import fraud_rate, write_table

    table = _sample_rows(dataset, rows, seed, drift, not unlabelled, end, concept)
    path = write_table(table, out)
    summary: dict[str, Any] = {"path": str(path), "dataset": dataset, "rows": table.num_rows}
    rate = fraud_rate(table)
    if rate is not None:
        summary["fraud_rate"] = round(rate, 4)
    if as_json:
        print_json(summary)
        return
    fraud = f", fraud rate {rate:.2%}" if rate is not None else ""
    say(f"wrote {table.num_rows} rows of {dataset} to {path}{fraud}")


def _sample_rows(
    dataset: str,
    rows: int,
    seed: int,
    drift: float,
    labelled: bool,
    end: datetime | None,
    concept: float = 0.0,
) -> Any:
    """Rows from the dataset's own generator (its model dataset's, for a batch to score),
    else drawn from its contract (which knows no concept change)."""
    from driftline.preconditions import loaded_contract
    from driftline.samples import generator_for
    from driftline.samples.contract_rows import UnsampleableContract, generate_rows

    spec = loaded_contract(dataset)
    model = loaded_contract(spec.model_dataset) if spec.model_dataset else None
    own = generator_for((model or spec).name)
    if own is not None:
        labelled = labelled and spec.kind == "training"
        return own(rows, seed=seed, drift=drift, labelled=labelled, end=end, concept=concept)
    if concept:
        raise PreconditionFailed(
            f"{dataset}: --concept needs a sample generator that models the label "
            "(transactions has one); rows drawn from a contract keep one relation",
            "Leave out --concept for this dataset.",
            code="unsampleable_contract",
        )
    try:
        return generate_rows(
            spec, rows, seed=seed, drift=drift, labelled=labelled, end=end, model=model
        )
    except UnsampleableContract as error:
        raise PreconditionFailed(
            f"{dataset}: {error}",
            "Give the column bounds or allowed values, or write the file yourself.",
            code="unsampleable_contract",
        ) from error
