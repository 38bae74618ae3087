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
from localstack_client.session import Session as LocalSession

from driftline.localcloud import REGION, LocalCloud

TargetName = Literal["local", "aws"]


class StackNotDeployed(RuntimeError):
    pass


@dataclass(frozen=True)
class Target:
    name: TargetName = "local"
    stage: str = "dev"

    @classmethod
    def from_environment(cls, name: str | None = None, stage: str | None = None) -> Target:
        chosen = name or os.environ.get("DRIFTLINE_TARGET", "local")
        if chosen not in ("local", "aws"):
            raise ValueError(f"Unknown target {chosen!r}: use 'local' or 'aws'")
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
        return boto3.session.Session()

    def client(self, service: str) -> Any:
        return self._session.client(service)

    def resource(self, service: str) -> Any:
        return self._session.resource(service)

    def stack_name(self, lifecycle: str) -> str:
        return f"driftline-{self.stage}-{lifecycle}"

    def outputs(self, lifecycle: str = "data") -> dict[str, str]:
        name = self.stack_name(lifecycle)
        cloudformation = self.client("cloudformation")
        try:
            stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
        except cloudformation.exceptions.ClientError as error:
            hint = "driftline local up" if self.name == "local" else "make deploy"
            raise StackNotDeployed(
                f"Stack {name} is not deployed on the {self.name} target ({hint})"
            ) from error
        # CDK's cross-stack exports are plumbing, not something a user looks up.
        return {
            o["OutputKey"]: o["OutputValue"]
            for o in stacks[0].get("Outputs", [])
            if not o["OutputKey"].startswith("ExportsOutput")
        }
