"""``driftline``: the one entry point for users, tests and CI (see README)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from driftline import deploy as cdk
from driftline import status as status_of
from driftline.localcloud import ROOT, LocalCloud, LocalCloudError
from driftline.target import StackNotDeployed, Target

console = Console(stderr=True)
SAMPLES = ROOT / "samples"
SAMPLE = SAMPLES / "transactions.csv"
# The demo's drops: a training file, a batch to score, and a file that breaks its contract.
DEMO_DROPS = (
    (SAMPLE, "transactions", "training"),
    (SAMPLES / "scoring.csv", "scoring", "inference"),
    (SAMPLES / "transactions-bad.csv", "transactions", "training"),
)
STATE_STYLE = {"validated": "green", "rejected": "red"}


class CommandError(RuntimeError):
    pass


def _say(message: str) -> None:
    console.print(f"[dim]{datetime.now(UTC):%H:%M:%S}[/dim] {message}")


# -- local -----------------------------------------------------------------------------
def local_up(args: argparse.Namespace) -> int:
    cloud = LocalCloud()
    if cloud.install(progress=lambda step: _say(f"setup: {step}")):
        _say("setup: local cloud installed")
    started = time.monotonic()
    if cloud.start():
        _say(f"local cloud ready on {cloud.endpoint} in {time.monotonic() - started:.1f} s")
    else:
        _say(f"local cloud already running on {cloud.endpoint}")
    if args.no_deploy:
        return 0
    if cdk.bootstrap_local(cloud):
        _say("CDK bootstrap done")
    started = time.monotonic()
    cdk.deploy(cloud)
    _say(f"driftline deployed in {time.monotonic() - started:.1f} s")
    outputs = Target("local").outputs("data")
    print(json.dumps(outputs, indent=2))
    return 0


def local_install(args: argparse.Namespace) -> int:
    started = time.monotonic()
    if LocalCloud().install(progress=lambda step: _say(f"setup: {step}")):
        _say(f"local cloud installed in {time.monotonic() - started:.1f} s")
    else:
        _say("local cloud already installed")
    return 0


def local_down(args: argparse.Namespace) -> int:
    if LocalCloud().stop():
        _say("local cloud stopped")
    else:
        _say("local cloud was not running")
    return 0


# -- drop ------------------------------------------------------------------------------
def drop_file(target: Target, path: Path, dataset: str, kind: str | None) -> tuple[str, str, str]:
    """Upload ``path`` to the raw bucket under ``<dataset>/``; returns bucket, key, version."""
    if not path.is_file():
        raise CommandError(f"{path} is not a file")
    if not dataset or "/" in dataset:
        raise CommandError(f"Dataset name {dataset!r} must be non-empty and contain no '/'")
    bucket = target.outputs("data")["RawBucketName"]
    key = f"{dataset}/{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{path.name}"
    metadata = {"driftline-kind": kind} if kind else {}
    with path.open("rb") as body:
        response = target.client("s3").put_object(
            Bucket=bucket, Key=key, Body=body, Metadata=metadata
        )
    return bucket, key, response.get("VersionId", "")


def drop(args: argparse.Namespace) -> int:
    bucket, key, version = drop_file(args.target, args.file, args.dataset, args.kind)
    print(json.dumps({"bucket": bucket, "key": key, "version_id": version}))
    return 0


def wait_for_version(target: Target, key: str, timeout: float = 120) -> dict[str, Any]:
    """Bounded wait until the dropped object ``key`` became a dataset version."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for dataset in status_of.datasets(target):
            if dataset["source_key"] == key:
                return dict(dataset)
        time.sleep(0.2)
    raise CommandError(f"{key} was not ingested within {timeout:.0f} s")


# -- train -----------------------------------------------------------------------------
def start_training(target: Target, dataset: str, version: str | None) -> str:
    """Start the training state machine by hand; the latest validated version by default."""
    if version is None:
        versions = [
            d
            for d in status_of.datasets(target)
            if d["dataset"] == dataset and d["state"] == "validated"
        ]
        if not versions:
            raise CommandError(f"No validated version of {dataset!r} to train on")
        version = versions[-1]["version"]
    arn = target.outputs("pipeline")["TrainingStateMachineArn"]
    execution = target.client("stepfunctions").start_execution(
        stateMachineArn=arn, input=json.dumps({"dataset": dataset, "version": version})
    )
    return str(execution["executionArn"])


def train(args: argparse.Namespace) -> int:
    print(json.dumps({"execution": start_training(args.target, args.dataset, args.version)}))
    return 0


def wait_for_model(target: Target, dataset_version: str, timeout: float = 300) -> dict[str, Any]:
    """Bounded wait until a model trained on ``dataset_version`` is in the registry."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pipeline = target.outputs("pipeline")
        for model in status_of.models(target, pipeline["ModelPackageGroupPrefix"]):
            if model["dataset_version"] == dataset_version:
                return dict(model)
        time.sleep(1)
    raise CommandError(f"No model trained on version {dataset_version} within {timeout:.0f} s")


# -- status --------------------------------------------------------------------------
def status(args: argparse.Namespace) -> int:
    facts = status_of.collect(args.target)
    if args.json:
        print(json.dumps(facts, indent=2))
        return 0
    out = Console()
    table = Table(title="Dataset versions", title_justify="left")
    for column in ("dataset", "kind", "version", "state", "rows", "file"):
        table.add_column(column, overflow="fold")
    for d in facts["datasets"]:
        table.add_row(
            d["dataset"],
            d["kind"] or "-",
            d["version"][:8],
            f"[{STATE_STYLE[d['state']]}]{d['state']}[/]",
            str(d["rows"]),
            d["source_key"].rsplit("/", 1)[-1],
        )
    out.print(table)
    if facts["models"]:
        models = Table(title="Models", title_justify="left")
        for column in ("group", "version", "approval", "test AUC", "dataset version", "reason"):
            models.add_column(column, overflow="fold")
        for m in facts["models"]:
            auc = m["metrics"].get("test:auc")
            models.add_row(
                m["group"],
                str(m["version"]),
                m["approval"],
                f"{auc:.3f}" if auc is not None else "-",
                (m["dataset_version"] or "-")[:8],
                m["reason"] or "",
            )
        out.print(models)
    for d in facts["datasets"]:
        for reason in d["reasons"]:
            out.print(f"[red]{d['dataset']} {d['version'][:8]}[/red]: {reason}")
    return 0


# -- report ----------------------------------------------------------------------------
def report(args: argparse.Namespace) -> int:
    """Render the HTML report from a saved ``ReportData`` document (``--from-json``)."""
    from pydantic import ValidationError

    from driftline.report import ReportData, render_report

    try:
        data = ReportData.model_validate_json(args.from_json.read_bytes())
    except OSError as error:
        raise CommandError(f"cannot read {args.from_json}: {error.strerror}") from error
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'document'}: {e['msg']}"
            for e in error.errors(include_url=False)[:5]
        )
        raise CommandError(f"{args.from_json} is not a report document: {problems}") from error
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render_report(data), encoding="utf-8")
    _say(f"report written to {args.out}")
    return 0


# -- demo ------------------------------------------------------------------------------
def demo(args: argparse.Namespace) -> int:
    local_up(argparse.Namespace(no_deploy=False))
    target = Target("local")
    try:
        for path, dataset, kind in DEMO_DROPS:
            started = time.monotonic()
            _, key, _ = drop_file(target, path, dataset, kind)
            version = wait_for_version(target, key)
            _say(
                f"{path.name} -> {dataset} version {version['version']}: "
                f"{version['state']} ({version['rows']} rows) in "
                f"{time.monotonic() - started:.2f} s"
            )
            for reason in version["reasons"]:
                _say(f"  reason: {reason}")
            if kind == "training" and version["state"] == "validated":
                model = wait_for_model(target, version["version"])
                _say(
                    f"  -> model {model['group']} v{model['version']}: {model['approval']}, "
                    f"test AUC {model['metrics'].get('test:auc', float('nan')):.3f} "
                    f"({time.monotonic() - started:.1f} s after the drop)"
                )
        status(argparse.Namespace(target=target, json=False))
    finally:
        if args.keep:
            _say("--keep: the local cloud stays up; stop it with `driftline local down`")
        else:
            local_down(args)
    return 0


# -- sample ----------------------------------------------------------------------------
def sample(args: argparse.Namespace) -> int:
    # Imported here: numpy and pyarrow would slow every other command's start.
    from driftline.samples import fraud_rate, generate_transactions, write_table

    if args.rows < 1:
        raise CommandError(f"--rows must be at least 1, not {args.rows}")
    try:
        table = generate_transactions(
            args.rows, seed=args.seed, drift=args.drift, labelled=not args.unlabelled, end=args.end
        )
        path = write_table(table, args.out)
    except ValueError as error:
        raise CommandError(str(error)) from error
    summary: dict[str, Any] = {"path": str(path), "rows": table.num_rows}
    rate = fraud_rate(table)
    if rate is not None:
        summary["fraud_rate"] = round(rate, 4)
    print(json.dumps(summary))
    return 0


def iso_datetime(text: str) -> datetime:
    """``--end``: ISO 8601; without an offset it is UTC."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- wiring ----------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="driftline", description=__doc__)
    parser.add_argument(
        "--target",
        choices=["local", "aws"],
        default=None,
        help="where to act: the local cloud (default, or $DRIFTLINE_TARGET) or AWS",
    )
    parser.add_argument("--stage", default=None, help="stage name (default dev)")
    commands = parser.add_subparsers(dest="command", required=True)

    local = commands.add_parser("local", help="the local cloud").add_subparsers(
        dest="action", required=True
    )
    local.add_parser(
        "install", help="create LocalStack's environment (done by `up` when needed)"
    ).set_defaults(run=local_install)
    up = local.add_parser("up", help="start the local cloud and deploy driftline into it")
    up.add_argument("--no-deploy", action="store_true", help="only start the local cloud")
    up.set_defaults(run=local_up)
    local.add_parser("down", help="stop the local cloud").set_defaults(run=local_down)

    drop_cmd = commands.add_parser("drop", help="upload a file to the raw bucket")
    drop_cmd.add_argument("file", type=Path)
    drop_cmd.add_argument("--dataset", required=True)
    drop_cmd.add_argument("--kind", choices=["training", "inference"])
    drop_cmd.set_defaults(run=drop)

    sample_cmd = commands.add_parser("sample", help="write synthetic card transactions")
    sample_cmd.add_argument("out", type=Path, help=".csv, .csv.gz, .parquet or .jsonl")
    sample_cmd.add_argument("--rows", type=int, default=2000)
    sample_cmd.add_argument("--seed", type=int, default=7)
    sample_cmd.add_argument(
        "--drift", type=float, default=0.0, help="0 = training distribution, 1 = strong shift"
    )
    sample_cmd.add_argument("--unlabelled", action="store_true", help="leave out is_fraud")
    sample_cmd.add_argument(
        "--end", type=iso_datetime, default=None, help="end of the 30-day window (default now)"
    )
    sample_cmd.set_defaults(run=sample)

    train_cmd = commands.add_parser("train", help="start the training state machine by hand")
    train_cmd.add_argument("dataset")
    train_cmd.add_argument("--version", help="dataset version (default: the latest validated)")
    train_cmd.set_defaults(run=train)

    status_cmd = commands.add_parser("status", help="datasets, versions and outcomes")
    status_cmd.add_argument("--json", action="store_true", help="the stable JSON interface")
    status_cmd.set_defaults(run=status)

    report_cmd = commands.add_parser("report", help="write the HTML report")
    report_cmd.add_argument("--out", type=Path, default=Path("report.html"))
    report_cmd.add_argument(
        "--from-json",
        type=Path,
        required=True,
        help="the report document to render (JSON of driftline.report.ReportData)",
    )
    report_cmd.set_defaults(run=report)

    demo_cmd = commands.add_parser("demo", help="run the scenario on the local cloud")
    demo_cmd.add_argument("--keep", action="store_true", help="leave the local cloud running")
    demo_cmd.set_defaults(run=demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    args.target = Target.from_environment(args.target, args.stage)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except (CommandError, LocalCloudError, cdk.DeployError, StackNotDeployed) as error:
        console.print(f"[red]error:[/red] {error}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
