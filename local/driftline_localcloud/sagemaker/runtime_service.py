"""LocalStack glue for endpoints: the ``sagemaker-runtime`` API and the serving host.

LocalStack routes ``POST /endpoints/<name>/invocations`` signed for ``sagemaker`` to the
``sagemaker-runtime`` service (``PROVIDER_OVERRIDE_SAGEMAKER_RUNTIME=driftline``); its
one operation, InvokeEndpoint, is answered by the endpoint service that the SageMaker
provider owns, so both APIs see the same endpoints. ``LocalStackServingHost`` gives the
base-independent serving code S3, CloudWatch Logs and metrics, alarms and folders.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from localstack.aws.api import CommonServiceException
from localstack.aws.connect import connect_to
from localstack.services.plugins import Service, ServiceLifecycleHook

from driftline_localcloud.sagemaker.access import (
    Credentials,
    base_environment,
    role_credentials,
    s3_client,
)
from driftline_localcloud.sagemaker.containers import LogStream, job_root
from driftline_localcloud.sagemaker.endpoint_serving import InvocationError


class LocalStackServingHost:
    """``ServingHost`` over LocalStack's internal clients."""

    def credentials(self, role_arn: str | None, session: str, region: str) -> Credentials | None:
        return role_credentials(role_arn, session, region)

    def s3(self, account: str, region: str, credentials: Credentials | None = None) -> Any:
        return s3_client(account, region, credentials)

    def log_stream(self, account: str, region: str, group: str, stream: str) -> LogStream:
        return LogStream(account, region, group, stream)

    def work_root(self, kind: str, name: str) -> Path:
        return job_root(kind, name)

    def environment(
        self, python: Path, account: str, region: str, credentials: Credentials | None = None
    ) -> dict[str, str]:
        return base_environment(python, account, region, credentials)

    def put_metrics(
        self, account: str, region: str, namespace: str, data: list[dict[str, Any]]
    ) -> None:
        cloudwatch = connect_to(aws_access_key_id=account, region_name=region).cloudwatch
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=data)

    def alarm_states(self, account: str, region: str, names: list[str]) -> dict[str, str]:
        cloudwatch = connect_to(aws_access_key_id=account, region_name=region).cloudwatch
        found = cloudwatch.describe_alarms(AlarmNames=names)
        return {
            alarm["AlarmName"]: alarm["StateValue"]
            for alarm in [*found.get("MetricAlarms", []), *found.get("CompositeAlarms", [])]
        }


class SageMakerRuntime(ServiceLifecycleHook):
    service = "sagemaker-runtime"

    def invoke_endpoint(self, context: Any, request: dict[str, Any]) -> dict[str, Any]:
        from driftline_localcloud.sagemaker.provider import running_provider

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
