"""Plugin entry points LocalStack discovers (see ``local/pyproject.toml``).

Imports of the implementations are deferred to ``load`` so that LocalStack's start-up
only pays for what it uses.
"""

from __future__ import annotations

from typing import Any

from localstack.runtime import hooks
from localstack.services.cloudformation.resource_provider import (
    CloudFormationResourceProviderPlugin,
)
from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin
from localstack.services.plugins import aws_provider


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


@aws_provider(api="dynamodb", name="driftline")
def dynamodb() -> Any:
    """DynamoDB served by moto's in-memory backend (selected with PROVIDER_OVERRIDE_DYNAMODB).

    LocalStack's own DynamoDB runs DynamoDB Local, a Java server it downloads at run
    time; with no network for that, tables could not even be created. moto's backend
    (installed with LocalStack) covers what driftline uses: tables, keys, conditional
    writes, updates, scans, TTL and point-in-time recovery settings.
    """
    from localstack.aws.api.dynamodb import DynamodbApi
    from localstack.services.moto import MotoFallbackDispatcher
    from localstack.services.plugins import Service

    class InMemoryDynamoDB(DynamodbApi):
        """Every operation falls through to moto."""

    return Service.for_provider(InMemoryDynamoDB(), dispatch_table_factory=MotoFallbackDispatcher)


@aws_provider(api="sagemaker", name="driftline")
def sagemaker() -> Any:
    """SageMaker, which LocalStack's open-source core does not serve at all.

    Training and transform jobs run as host processes under the SageMaker container
    contract, in the framework environments the launcher builds (selected with
    PROVIDER_OVERRIDE_SAGEMAKER).
    """
    from driftline_localcloud.sagemaker.localstack_service import create_service

    return create_service()


@aws_provider(api="sagemaker-runtime", name="driftline")
def sagemaker_runtime() -> Any:
    """InvokeEndpoint on the gateway, answered by the SageMaker provider's endpoints
    (selected with PROVIDER_OVERRIDE_SAGEMAKER_RUNTIME)."""
    from driftline_localcloud.sagemaker.runtime_service import create_runtime_service

    return create_runtime_service()


@hooks.on_infra_start()
def register_sagemaker_task_service() -> None:
    """Teaches Step Functions the ``arn:aws:states:::sagemaker:*`` integrations.

    LocalStack's task factory is a plain function that lists SageMaker as unsupported;
    the plugin wraps it where the state-task factory looks it up. Importing Step
    Functions' interpreter takes seconds, so the wrap waits until LocalStack imports it
    (Step Functions loads on first use) instead of slowing every start.
    """
    from driftline_localcloud.stepfunctions_patch import patch_when_imported

    patch_when_imported()


@hooks.on_infra_start()
def fix_states_targets_with_input_transformers() -> None:
    """Step Functions targets of EventBridge rules that transform their input
    (``driftline_localcloud.events_patch``)."""
    from driftline_localcloud.events_patch import patch_when_imported

    patch_when_imported()


@hooks.on_infra_start()
def associate_kms_keys_with_log_groups() -> None:
    """CloudWatch Logs' AssociateKmsKey (``driftline_localcloud.logs_patch``)."""
    from driftline_localcloud.logs_patch import patch_when_imported

    patch_when_imported()


@hooks.on_infra_start()
def extract_lambda_metrics() -> None:
    """Functions' embedded-metric-format log lines become CloudWatch metrics, as
    CloudWatch Logs makes them on AWS (``driftline_localcloud.lambda_metrics``)."""
    from driftline_localcloud.lambda_metrics import patch_when_imported

    patch_when_imported()


@hooks.on_infra_start()
def update_role_permissions_boundaries() -> None:
    """Stack updates that change a role's permissions boundary
    (``driftline_localcloud.cloudformation.role_boundary``)."""
    from driftline_localcloud.cloudformation.role_boundary import patch_when_imported

    patch_when_imported()


@hooks.on_infra_start()
def register_fault_injection() -> None:
    """Adds the fault-injection route (``/_driftline/faults``); no fault is armed by it."""
    from driftline_localcloud.fault_route import mount_fault_route

    mount_fault_route()


@hooks.on_infra_start()
def register_iam_enforcement() -> None:
    """Checks the calls of functions, state machines and jobs against their roles
    (``driftline_localcloud.iam.enforcer``); ``DRIFTLINE_LOCAL_IAM=0`` turns it off."""
    import logging

    from localstack.aws import handlers

    from driftline_localcloud.iam.enforcer import IamEnforcer, enabled

    if enabled():
        handlers.serve_custom_service_request_handlers.append(IamEnforcer())
    logging.getLogger(__name__).info("IAM enforcement %s", "on" if enabled() else "off")


@hooks.on_infra_ready(priority=100)
def load_saved_state() -> None:
    """Brings back what the last run saved (``driftline_localcloud.persistence``).

    Once the gateway serves, before LocalStack reports itself ready: services reloading
    their state (CloudWatch's alarms, Lambda's functions) call the gateway, which at
    start-up would not answer yet.
    """
    from driftline_localcloud.persistence import load_all

    load_all()


@hooks.on_infra_shutdown(priority=100)
def save_state() -> None:
    """Saves every loaded service's state before the services stop."""
    from driftline_localcloud.persistence import save_all

    save_all()
