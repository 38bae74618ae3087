"""``driftline local``: install, start and stop the local cloud."""

from __future__ import annotations

import ipaddress
import time
from typing import Annotated, Any

import typer
from driftline_runtime import names

from driftline import deploy as cdk
from driftline import localcloud_state as kept
from driftline import preconditions
from driftline.cli.base import (
    Invocation,
    JsonOption,
    free_port,
    local_target,
    print_json,
    requires,
    say,
    session,
)
from driftline.localcloud import LocalCloud
from driftline.target import Target

LIFECYCLES = (names.DATA_STACK, names.PIPELINE_STACK, names.MONITORING_STACK)

local_app = typer.Typer(
    help="The local cloud: MiniStack on this machine, with driftline's additions (SageMaker "
    "among them). It listens on loopback, port 4566 or $DRIFTLINE_LOCAL_PORT.",
    no_args_is_help=True,
)


def ip_address(text: str) -> str:
    """``--listen``: an IPv4 or IPv6 address of this machine (or 0.0.0.0 / ::)."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError as error:
        raise typer.BadParameter(f"not an IP address: {text!r}") from error


@local_app.command("install")
@requires()
def install() -> None:
    """Create MiniStack's own environment under `.localcloud/` (`up` does it when needed).

    Example:

    ```
    driftline local install
    ```
    """
    started = time.monotonic()
    if LocalCloud().install(progress=lambda step: say(f"setup: {step}")):
        say(f"local cloud installed in {time.monotonic() - started:.1f} s")
    else:
        say("local cloud already installed")


def start_and_deploy(
    stage: str, listen: tuple[str, ...] = (), deploy: bool = True
) -> dict[str, Any]:
    """Start the local cloud (if it is not running) and deploy ``stage`` into it."""
    cloud = LocalCloud(extra_listen=listen)
    if listen:
        say(
            f"warning: the local cloud will also listen on {', '.join(listen)}: anyone who can "
            "reach it there can create functions and run code as you."
        )
    if cloud.install(progress=lambda step: say(f"setup: {step}")):
        say("setup: local cloud installed")
    started = time.monotonic()
    if cloud.start():
        say(f"local cloud ready on {cloud.endpoint} in {time.monotonic() - started:.1f} s")
    else:
        say(f"local cloud already running on {cloud.endpoint}")
    facts: dict[str, Any] = {"endpoint": cloud.endpoint, "stage": stage, "deployed": False}
    if not deploy:
        return facts
    target = Target("local", stage)
    started = time.monotonic()
    if cdk.deploy_local(cloud, stage):
        say(f"driftline deployed in {time.monotonic() - started:.1f} s")
    else:
        say("driftline is deployed and unchanged since its last deploy (state kept): no deploy")
    return facts | {"deployed": True, "outputs": {s: target.outputs(s) for s in LIFECYCLES}}


def _known_stage(invocation: Invocation) -> None:
    if not invocation.params.get("no_deploy"):
        preconditions.known_stage(invocation.session.target.stage)


@local_app.command("up")
@requires(local_target, free_port, _known_stage)
def up(
    no_deploy: Annotated[
        bool, typer.Option("--no-deploy", help="Only start the local cloud.")
    ] = False,
    listen: Annotated[
        list[str] | None,
        typer.Option(
            metavar="ADDRESS",
            parser=ip_address,
            help="Also listen on ADDRESS (repeatable). By default only loopback is bound, "
            "since whoever reaches the local cloud can run code as you.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Start the local cloud and deploy driftline into it; does nothing that is done already.

    Prints the deployed stacks' outputs (bucket, table and state machine names).

    Example:

    ```
    driftline local up
    DRIFTLINE_LOCAL_PORT=4600 driftline local up --no-deploy
    ```
    """
    facts = start_and_deploy(session().target.stage, tuple(listen or ()), not no_deploy)
    if as_json:
        print_json(facts)
        return
    for lifecycle, outputs in facts.get("outputs", {}).items():
        for key, value in outputs.items():
            print(f"{lifecycle:<10} {key:<32} {value}")


@local_app.command("down")
@requires()
def down(
    forget: Annotated[
        bool,
        typer.Option(
            "--forget", help="Also drop the kept state: the next `up` starts empty and deploys."
        ),
    ] = False,
) -> None:
    """Stop the local cloud and every function and job process it started.

    Its state (buckets and objects, tables, functions, state machines, the registry and
    its models) is saved and comes back with the next `up`, unless
    DRIFTLINE_LOCAL_PERSISTENCE=0 or `--forget`.

    Example:

    ```
    driftline local down
    driftline local down --forget
    ```
    """
    cloud = LocalCloud()
    if cloud.stop():
        say("local cloud stopped" + ("" if forget or not kept.enabled() else "; its state is kept"))
    else:
        say("local cloud was not running")
    if forget and kept.forget(cloud.state):
        say("kept state dropped")
