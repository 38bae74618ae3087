"""Plugin entry points LocalStack discovers (see ``local/pyproject.toml``).

Imports of the implementations are deferred to ``load`` so that LocalStack's start-up
only pays for what it uses.
"""

from __future__ import annotations

from typing import Any

from localstack.services.cloudformation.resource_provider import (
    CloudFormationResourceProviderPlugin,
)
from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin


class ProcessRuntimeExecutorPlugin(RuntimeExecutorPlugin):
    name = "process"

    def load(self, *args: Any, **kwargs: Any) -> type:
        from driftline_localcloud.lambda_runtime.executor import ProcessRuntimeExecutor

        return ProcessRuntimeExecutor


class CustomResourceProviderPlugin(CloudFormationResourceProviderPlugin):
    name = "AWS::CloudFormation::CustomResource"

    def __init__(self) -> None:
        self.factory: type | None = None

    def load(self) -> None:
        from driftline_localcloud.cloudformation.custom_resource import CustomResourceProvider

        self.factory = CustomResourceProvider
