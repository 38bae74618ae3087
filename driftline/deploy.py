"""Runs the project's pinned CDK CLI, against the local cloud or a real account.

The same ``cdk`` CLI and the same app deploy both: for the local cloud only the
environment differs (service endpoints on loopback, path-style S3, test credentials),
so asset publishing needs neither DNS tricks nor a hosts-file edit, and the app is told
its target (``-c driftline:target=local``), so that it builds the layers for this
host's platform, which the local cloud's functions run on, rather than Lambda's.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from driftline.errors import DriftlineError
from driftline.localcloud import ACCOUNT_ID, REGION, ROOT, LocalCloud
from infra.platforms import TARGET_CONTEXT_KEY

if TYPE_CHECKING:
    from driftline.target import Target

CDK = ROOT / "node_modules" / ".bin" / "cdk"


class DeployError(DriftlineError):
    """The CDK CLI failed; the message holds its own output."""

    code = "deploy_failed"


def ensure_cdk_cli() -> Path:
    """Install the pinned CDK CLI from package-lock.json when it is missing."""
    if not CDK.exists():
        result = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise DeployError(f"Installing the CDK CLI (npm ci) failed:\n{result.stderr}")
    return CDK


def cdk_environment(cloud: LocalCloud | None) -> dict[str, str]:
    environment = {
        **os.environ,
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
    }
    if cloud is not None:
        environment.update(
            {
                "AWS_ENDPOINT_URL": cloud.endpoint,
                "AWS_ENDPOINT_URL_S3": cloud.endpoint,
                "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test",
                "AWS_REGION": REGION,
                "AWS_DEFAULT_REGION": REGION,
                "CDK_DEFAULT_ACCOUNT": ACCOUNT_ID,
                "CDK_DEFAULT_REGION": REGION,
            }
        )
        environment.pop("AWS_PROFILE", None)
        environment.pop("AWS_SESSION_TOKEN", None)
    return environment


def run_cdk(arguments: list[str], cloud: LocalCloud | None, app_dir: Path = ROOT) -> str:
    """Run ``cdk <arguments>``; raise with the CLI's own output when it fails."""
    command = [str(ensure_cdk_cli()), *arguments, "--no-notices"]
    result = subprocess.run(
        command,
        cwd=app_dir,
        env=cdk_environment(cloud),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise DeployError(
            f"`cdk {' '.join(arguments)}` failed (exit {result.returncode}):\n"
            f"{result.stdout[-4000:]}\n{result.stderr[-8000:]}"
        )
    return result.stdout + result.stderr


def bootstrap_local(cloud: LocalCloud) -> bool:
    """Bootstrap the local account once per local cloud start; False if already done."""
    from driftline.target import Target

    cloudformation = Target("local").client("cloudformation")
    stacks = cloudformation.list_stacks(StackStatusFilter=["CREATE_COMPLETE", "UPDATE_COMPLETE"])
    if any(s["StackName"] == "CDKToolkit" for s in stacks["StackSummaries"]):
        return False
    run_cdk(["bootstrap", f"aws://{ACCOUNT_ID}/{REGION}"], cloud)
    return True


def target_context(cloud: LocalCloud | None) -> dict[str, str]:
    """The CDK context that names the target: the local cloud, or AWS (no cloud)."""
    return {TARGET_CONTEXT_KEY: "local" if cloud is not None else "aws"}


def deploy(cloud: LocalCloud | None, context: dict[str, str] | None = None) -> str:
    """``cdk deploy --all`` to the local cloud, or to AWS when ``cloud`` is None."""
    if cloud is not None:
        from driftline import localcloud_state

        if localcloud_state.enabled():
            localcloud_state.forget_deploys(cloud.state)
    arguments = ["deploy", "--all", "--require-approval", "never"]
    for key, value in {**target_context(cloud), **(context or {})}.items():
        arguments += ["-c", f"{key}={value}"]
    return run_cdk(arguments, cloud)


def deploy_local(cloud: LocalCloud, stage: str = "dev") -> bool:
    """Bootstrap and deploy ``stage`` into the local cloud; False when nothing was to do.

    With state kept across restarts (``driftline.localcloud_state``), the stacks that are
    there and were deployed from the very sources of now are not deployed again.
    """
    from driftline import localcloud_state as kept
    from driftline.target import Target

    digest = kept.app_digest(stage)
    if (
        kept.enabled()
        and kept.deployed_digest(cloud.state, stage) == digest
        and stacks_complete(Target("local", stage))
    ):
        return False
    bootstrap_local(cloud)
    deploy(cloud, {"stage": stage} if stage != "dev" else None)
    if kept.enabled():  # a local cloud that keeps nothing leaves the kept record alone
        kept.record_deploy(cloud.state, stage, digest)
    return True


def stacks_complete(target: Target) -> bool:
    """Every stack of the target's stage is deployed (created or updated, not failed)."""
    from driftline_runtime import names

    cloudformation = target.client("cloudformation")
    stacks = (names.DATA_STACK, names.PIPELINE_STACK, names.MONITORING_STACK)
    try:
        return all(
            cloudformation.describe_stacks(StackName=target.stack_name(stack))["Stacks"][0][
                "StackStatus"
            ]
            in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
            for stack in stacks
        )
    except cloudformation.exceptions.ClientError:  # a stack that is not there
        return False
