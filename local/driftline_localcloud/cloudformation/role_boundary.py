"""A stack update that sets, changes or removes a role's ``PermissionsBoundary``.

LocalStack's ``AWS::IAM::Role`` provider replaces a role whose name, trust policy or
managed policies changed and otherwise reports an update as done without calling IAM,
so a redeployment with a permissions boundary left every existing role unbounded. AWS
updates the boundary in place (``PutRolePermissionsBoundary`` /
``DeleteRolePermissionsBoundary``); so does this wrapper, after the provider's update.
"""

from __future__ import annotations

from typing import Any

from driftline_localcloud.import_hooks import after_import

PROVIDER_MODULE = "localstack.services.iam.resource_providers.aws_iam_role"


def apply_boundary_change(
    iam: Any, previous: dict[str, Any], desired: dict[str, Any], model: dict[str, Any]
) -> dict[str, Any] | None:
    """Put or delete the role's boundary when it changed; the resource model to record
    then, or None when the boundary is as it was."""
    before, after = previous.get("PermissionsBoundary"), desired.get("PermissionsBoundary")
    if before == after:
        return None
    updated = dict(model)
    name = updated.get("RoleName") or previous["RoleName"]
    if after:
        iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=after)
        updated["PermissionsBoundary"] = after
    else:
        iam.delete_role_permissions_boundary(RoleName=name)
        updated.pop("PermissionsBoundary", None)
    return updated


def _patch() -> None:
    from localstack.services.cloudformation.resource_provider import OperationStatus, ProgressEvent
    from localstack.services.iam.resource_providers import aws_iam_role

    provider = aws_iam_role.IAMRoleProvider
    if getattr(provider, "_driftline_patched", False):
        return
    update = provider.update

    def update_with_boundary(self: Any, request: Any) -> Any:
        event = update(self, request)
        if event.status is not OperationStatus.SUCCESS:
            return event
        model = apply_boundary_change(
            request.aws_client_factory.iam,
            request.previous_state,
            request.desired_state,
            event.resource_model or request.previous_state,
        )
        if model is None:
            return event
        return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=model)

    provider.update = update_with_boundary
    provider._driftline_patched = True


def patch_when_imported() -> None:
    after_import(PROVIDER_MODULE, _patch)
