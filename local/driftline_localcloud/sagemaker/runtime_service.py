"""LocalStack glue for endpoints: the ``sagemaker-runtime`` API.

LocalStack routes ``POST /endpoints/<name>/invocations`` signed for ``sagemaker`` to the
``sagemaker-runtime`` service (``PROVIDER_OVERRIDE_SAGEMAKER_RUNTIME=driftline``); its
one operation, InvokeEndpoint, is answered by the endpoint service that the SageMaker
provider owns, so both APIs see the same endpoints (the serving code reaches S3,
CloudWatch and alarms through ``serving_host``, as on any base).
"""

from __future__ import annotations

from typing import Any

from localstack.aws.api import CommonServiceException
from localstack.services.plugins import Service, ServiceLifecycleHook

from driftline_localcloud.sagemaker.endpoint_serving import InvocationError


class SageMakerRuntime(ServiceLifecycleHook):
    service = "sagemaker-runtime"

    def invoke_endpoint(self, context: Any, request: dict[str, Any]) -> dict[str, Any]:
        from driftline_localcloud.sagemaker.localstack_service import running_provider

        provider = running_provider()
        try:
            if provider is None:  # no endpoint can exist before the SageMaker API started
                raise InvocationError(
                    "ValidationError",
                    f"Endpoint {request.get('EndpointName')} of account "
                    f"{context.account_id} not found.",
                )
            body = request.get("Body")
            if body is not None and hasattr(
                body, "read"
            ):  # LocalStack hands a streaming blob over as a stream
                request = {**request, "Body": body.read()}
            return provider.endpoints.invoke(context.account_id, context.region, request)
        except InvocationError as error:
            exception = CommonServiceException(error.code, error.message, status_code=error.status)
            for key, value in error.fields.items():  # ModelError's members, serialised by name
                setattr(exception, key, value)
            raise exception from None


def create_runtime_service() -> Any:
    runtime = SageMakerRuntime()
    return Service.for_provider(
        runtime, dispatch_table_factory=lambda r: {"InvokeEndpoint": r.invoke_endpoint}
    )
