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

from driftline import deploy as cdk
from driftline.localcloud import ROOT, LocalCloud, LocalCloudError
from driftline.target import StackNotDeployed, Target

console = Console(stderr=True)
SAMPLE = ROOT / "samples" / "transactions.csv"


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


def wait_for_receipt(target: Target, key: str, version: str, timeout: float = 60) -> dict[str, Any]:
    """Bounded wait for the ingest function's receipt of one dropped object."""
    outputs = target.outputs("data")
    s3 = target.client("s3")
    receipt_key = f"arrivals/{key}/{version or 'unversioned'}.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            body = s3.get_object(Bucket=outputs["CuratedBucketName"], Key=receipt_key)["Body"]
            result: dict[str, Any] = json.loads(body.read())
            return result
        except s3.exceptions.NoSuchKey:
            time.sleep(0.1)
    raise CommandError(f"No receipt for {key} after {timeout:.0f} s")


# -- demo ------------------------------------------------------------------------------
def demo(args: argparse.Namespace) -> int:
    local_up(argparse.Namespace(no_deploy=False))
    try:
        started = time.monotonic()
        _, key, version = drop_file(Target("local"), SAMPLE, "transactions", "training")
        _say(f"dropped {SAMPLE.name} as s3://…/{key}")
        receipt = wait_for_receipt(Target("local"), key, version)
        _say(f"ingest function recorded it in {time.monotonic() - started:.2f} s:")
        print(json.dumps(receipt, indent=2))
    finally:
        if args.keep:
            _say("--keep: the local cloud stays up; stop it with `driftline local down`")
        else:
            local_down(args)
    return 0


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
