"""``driftline``: the one entry point for users, tests and CI (see README)."""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from driftline import deploy as cdk
from driftline import status as status_of
from driftline.actions import (
    CommandError,
    drop_file,
    start_inference,
    start_training,
)
from driftline.localcloud import ROOT, LocalCloud, LocalCloudError
from driftline.status_view import print_status
from driftline.target import StackNotDeployed, Target

console = Console(stderr=True)
SAMPLES = ROOT / "samples"
SAMPLE = SAMPLES / "transactions.csv"
# What `driftline demo` generates and leaves behind.
DEMO_FOLDER = ROOT / "build" / "demo"
DEMO_REPORT = ROOT / "build" / "demo-report.html"


def _say(message: str) -> None:
    console.print(f"[dim]{datetime.now(UTC):%H:%M:%S}[/dim] {message}")


# -- local -----------------------------------------------------------------------------
def local_up(args: argparse.Namespace) -> int:
    listen = tuple(getattr(args, "listen", None) or ())
    cloud = LocalCloud(extra_listen=listen)
    if listen:
        console.print(
            f"[yellow]warning:[/yellow] the local cloud will also listen on {', '.join(listen)}: "
            "anyone who can reach it there can create functions and run code as you."
        )
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
def drop(args: argparse.Namespace) -> int:
    bucket, key, version = drop_file(args.target, args.file, args.dataset, args.kind)
    print(json.dumps({"bucket": bucket, "key": key, "version_id": version}))
    return 0


# -- train -----------------------------------------------------------------------------
def train(args: argparse.Namespace) -> int:
    print(json.dumps({"execution": start_training(args.target, args.dataset, args.version)}))
    return 0


def infer(args: argparse.Namespace) -> int:
    print(json.dumps({"execution": start_inference(args.target, args.dataset, args.version)}))
    return 0


# -- status --------------------------------------------------------------------------
def status(args: argparse.Namespace) -> int:
    facts = status_of.collect(args.target)
    if args.json:
        print(json.dumps(facts, indent=2))
        return 0
    print_status(facts, Console())
    return 0


# -- contracts -------------------------------------------------------------------------
def contracts_check(args: argparse.Namespace) -> int:
    from driftline_runtime.catalog import ContractsError

    from driftline.contracts import as_json, render
    from infra.contracts_layer import check

    try:
        checked = check(args.extra or ())
    except ContractsError as error:  # an extra folder that is missing or clashes
        problems = error.problems
    else:
        problems = checked.problems
        if args.json:
            print(json.dumps(as_json(checked), indent=2))
        else:
            print("\n".join(render(checked)))
    for problem in problems:
        # Unwrapped: a path split over two lines cannot be copied.
        console.print(f"[red]error:[/red] {escape(problem)}", highlight=False, soft_wrap=True)
    return 1 if problems else 0


# -- report ----------------------------------------------------------------------------
def describe_target(target: Target) -> str:
    if target.name == "local":
        return f"local cloud ({LocalCloud().endpoint}), stage {target.stage}"
    identity = target.client("sts").get_caller_identity()
    region = target.client("sts").meta.region_name
    return f"AWS account {identity['Account']} {region}, stage {target.stage}"


def report(args: argparse.Namespace) -> int:
    """Render the HTML report: from the pipeline, or a saved ``ReportData`` (``--from-json``)."""
    from pydantic import ValidationError

    from driftline.report import ReportData, render_report

    try:
        if args.from_json is None:
            document = status_of.report_document(args.target, describe_target(args.target))
            data = ReportData.model_validate(document)
        else:
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
    from driftline.scenario import completed, run_demo

    local_up(argparse.Namespace(no_deploy=False, listen=None))
    target = Target("local")
    seed = args.seed if args.seed is not None else int(time.time()) % 1_000_000
    succeeded = False
    try:
        succeeded = completed(run_demo(target, console, DEMO_FOLDER, seed))
        if succeeded:
            report(argparse.Namespace(target=target, from_json=None, out=DEMO_REPORT))
            status(argparse.Namespace(target=target, json=False))
    finally:
        if args.keep:
            _say("--keep: the local cloud stays up; stop it with `driftline local down`")
        else:
            local_down(args)
    if not succeeded:
        console.print("[red]The demo did not complete: see the failed stage above.[/red]")
        return 1
    _say(f"open {DEMO_REPORT} to see the story")
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


def ip_address(text: str) -> str:
    """``--listen``: an IPv4 or IPv6 address of this machine (or 0.0.0.0 / ::)."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not an IP address: {text!r}") from error


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
    up.add_argument(
        "--listen",
        action="append",
        type=ip_address,
        metavar="ADDRESS",
        help="also listen on ADDRESS (repeatable); by default only loopback is bound, since "
        "whoever reaches the local cloud can run code as you",
    )
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

    infer_cmd = commands.add_parser("infer", help="start batch inference by hand")
    infer_cmd.add_argument("dataset")
    infer_cmd.add_argument("--version", help="dataset version (default: the latest validated)")
    infer_cmd.set_defaults(run=infer)

    status_cmd = commands.add_parser("status", help="datasets, versions and outcomes")
    status_cmd.add_argument("--json", action="store_true", help="the stable JSON interface")
    status_cmd.set_defaults(run=status)

    contracts = commands.add_parser("contracts", help="the dataset contracts").add_subparsers(
        dest="action", required=True
    )
    check_cmd = contracts.add_parser(
        "check",
        help="check every contract module offline, as synth does, and list each dataset",
    )
    check_cmd.add_argument(
        "--extra",
        action="append",
        type=Path,
        metavar="FOLDER",
        help="also check the contract modules in FOLDER (a stage's extra_contract_folders)",
    )
    check_cmd.add_argument("--json", action="store_true", help="datasets and problems as JSON")
    check_cmd.set_defaults(run=contracts_check)

    report_cmd = commands.add_parser("report", help="write the HTML report")
    report_cmd.add_argument("--out", type=Path, default=Path("report.html"))
    report_cmd.add_argument(
        "--from-json",
        type=Path,
        default=None,
        help="render a saved report document (JSON of driftline.report.ReportData) "
        "instead of the pipeline's current state",
    )
    report_cmd.set_defaults(run=report)

    demo_cmd = commands.add_parser("demo", help="run the scenario on the local cloud")
    demo_cmd.add_argument("--keep", action="store_true", help="leave the local cloud running")
    demo_cmd.add_argument("--seed", type=int, default=None, help="sample data seed (default: time)")
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
