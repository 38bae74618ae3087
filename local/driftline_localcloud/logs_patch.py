"""CloudWatch Logs' ``AssociateKmsKey``, which LocalStack's open-source provider lacks.

The pipeline stack's SageMaker log-groups resource creates SageMaker's log groups with
the stage's key, or, when SageMaker or an earlier deployment created them first,
associates the key with them. LocalStack answered that second call "not implemented",
so a deployment after ``make destroy`` on a local cloud that kept its state failed.
Here the key is recorded on the group, as ``CreateLogGroup`` records it; a group that
does not exist is ``ResourceNotFoundException``, as on AWS.
"""

from __future__ import annotations

from typing import Any

from driftline_localcloud.import_hooks import after_import

PROVIDER_MODULE = "localstack.services.logs.provider"


def group_name(log_group_name: str | None, resource_identifier: str | None) -> str:
    """The group named by its name or by its ARN (``...:log-group:<name>[:*]``)."""
    if log_group_name:
        return log_group_name
    return (resource_identifier or "").split(":log-group:", 1)[-1].removesuffix(":*")


def _patch() -> None:
    from localstack.aws.api import RequestContext, handler
    from localstack.aws.api.logs import ResourceNotFoundException
    from localstack.services.logs import provider
    from localstack.services.logs.models import get_moto_logs_backend

    logs = provider.LogsProvider
    if getattr(logs, "_driftline_patched", False):
        return

    @handler("AssociateKmsKey")
    def associate_kms_key(
        self: Any,
        context: RequestContext,
        kms_key_id: str,
        log_group_name: str | None = None,
        resource_identifier: str | None = None,
        **kwargs: Any,
    ) -> None:
        backend = get_moto_logs_backend(context.account_id, context.region)
        group = backend.groups.get(group_name(log_group_name, resource_identifier))
        if group is None:
            raise ResourceNotFoundException("The specified log group does not exist.")
        group.kms_key_id = kms_key_id

    logs.associate_kms_key = associate_kms_key
    logs._driftline_patched = True


def patch_when_imported() -> None:
    after_import(PROVIDER_MODULE, _patch)
