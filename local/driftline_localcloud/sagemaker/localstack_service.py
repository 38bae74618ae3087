"""The SageMaker provider on LocalStack's gateway (``PROVIDER_OVERRIDE_SAGEMAKER=driftline``).

LocalStack ships no generated API module for SageMaker, so the provider's table
(operation name -> handler) becomes the dispatch table of a ``Skeleton`` built on
botocore's service model: LocalStack's parser and serializer do the wire format, and a
``SageMakerError`` is raised again as ``CommonServiceException`` so that clients get
AWS's codes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from localstack import config
from localstack.aws.api import CommonServiceException
from localstack.services.plugins import Service, ServiceLifecycleHook

from driftline_localcloud.sagemaker.access import LocalStackJobHost
from driftline_localcloud.sagemaker.provider import SageMakerProvider
from driftline_localcloud.sagemaker.shapes import Handler
from driftline_localcloud.sagemaker.store import SageMakerError


def answered_in_localstack_terms(handler: Handler) -> Handler:
    def handle(context: Any, request: dict[str, Any]) -> dict[str, Any]:
        try:
            return handler(context, request)
        except SageMakerError as error:
            raise CommonServiceException(
                error.code, error.message, status_code=error.status
            ) from None

    return handle


class LocalStackSageMaker(ServiceLifecycleHook):
    service = "sagemaker"

    def __init__(self) -> None:
        host = LocalStackJobHost(
            endpoint=f"http://127.0.0.1:{config.GATEWAY_LISTEN[0].port}",
            work_root=Path(config.dirs.tmp, "driftline-sagemaker"),
        )
        self.provider = SageMakerProvider(host)

    def dispatch_table(self) -> dict[str, Handler]:
        return {
            operation: answered_in_localstack_terms(handler)
            for operation, handler in self.provider.dispatch_table().items()
        }

    def on_before_stop(self) -> None:
        self.provider.shutdown()

    def accept_state_visitor(self, visitor: Any) -> None:
        """Jobs, models and the registry are kept across restarts (``persistence``)."""
        visitor.visit(self.provider.stores.regions)

    def on_after_state_load(self) -> None:
        # Kept endpoints are described InService; serve them again, as SageMaker would.
        self.provider.endpoints.restore()


_RUNNING: list[SageMakerProvider] = []


def running_provider() -> SageMakerProvider | None:
    """The provider serving the SageMaker API, whose endpoints InvokeEndpoint reaches."""
    return _RUNNING[-1] if _RUNNING else None


def create_service() -> Any:
    glue = LocalStackSageMaker()
    _RUNNING.append(glue.provider)
    return Service.for_provider(glue, dispatch_table_factory=lambda g: g.dispatch_table())
