"""Where the CLI's commands act: the local cloud (default) or a real AWS account.

Both are reached with boto3; only the session differs. Names of buckets and functions
are never guessed: they come from the deployed stacks' outputs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import boto3
from driftline_runtime import names
from localstack_client.session import Session as LocalSession

from driftline.errors import PreconditionFailed
from driftline.localcloud import REGION, LocalCloud

TargetName = Literal["local", "aws"]
TARGETS = ("local", "aws")


class StackNotDeployed(PreconditionFailed):
    """A stack of the app is not deployed where the target points."""


def aws_session() -> Any:
    """The user's own AWS session (profile, credentials, region), as the AWS CLI finds it:
    AWS_REGION counts too (boto3 alone reads only AWS_DEFAULT_REGION)."""
    return boto3.session.Session(region_name=os.environ.get("AWS_REGION") or None)


@dataclass(frozen=True)
class Target:
    name: TargetName = "local"
    stage: str = "dev"

    @classmethod
    def from_environment(cls, name: str | None = None, stage: str | None = None) -> Target:
        chosen = name or os.environ.get("DRIFTLINE_TARGET", "local")
        if chosen not in TARGETS:
            raise PreconditionFailed(
                f"Unknown target {chosen!r} (from DRIFTLINE_TARGET)",
                "Use `local` or `aws`.",
                code="unknown_target",
            )
        return cls(name=chosen, stage=stage or os.environ.get("DRIFTLINE_STAGE", "dev"))  # type: ignore[arg-type]

    @cached_property
    def _session(self) -> Any:
        if self.name == "local":
            cloud = LocalCloud()
            return LocalSession(
                aws_access_key_id="test",
                aws_secret_access_key="test",
                region_name=REGION,
                localstack_host=f"{cloud.host}:{cloud.port}",
            )
        return aws_session()

    def client(self, service: str) -> Any:
        return self._session.client(service)

    def resource(self, service: str) -> Any:
        return self._session.resource(service)

    def stack_name(self, lifecycle: str) -> str:
        return names.stack_name(self.stage, lifecycle)

    def outputs(self, lifecycle: str = names.DATA_STACK) -> dict[str, str]:
        name = self.stack_name(lifecycle)
        cloudformation = self.client("cloudformation")
        try:
            stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
        except cloudformation.exceptions.ClientError as error:
            # CloudFormation answers ValidationError for a stack that does not exist; any
            # other error (expired credentials, throttling) is not "not deployed".
            if error.response.get("Error", {}).get("Code") != "ValidationError":
                raise
            raise self._not_deployed(name) from error
        # CDK's cross-stack exports are plumbing, not something a user looks up.
        return {
            o["OutputKey"]: o["OutputValue"]
            for o in stacks[0].get("Outputs", [])
            if not o["OutputKey"].startswith("ExportsOutput")
        }

    def _not_deployed(self, stack: str) -> StackNotDeployed:
        if self.name == "local":
            stage = "" if self.stage == "dev" else f" --stage {self.stage}"
            return StackNotDeployed(
                f"driftline (stage {self.stage}) is not deployed on the local cloud: "
                f"stack {stack} is missing",
                f"Deploy it with `driftline{stage} local up`.",
                code="not_deployed",
            )
        account = self.client("sts").get_caller_identity()["Account"]
        region = self.client("cloudformation").meta.region_name
        return StackNotDeployed(
            f"Stack {stack} does not exist in AWS account {account}, region {region}",
            "Deploy with `make deploy` (`-c stage=...` for another stage), or point AWS_REGION, "
            "AWS_PROFILE and --stage at where it is deployed.",
            code="stacks_missing",
        )
