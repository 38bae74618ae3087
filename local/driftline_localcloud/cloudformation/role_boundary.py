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


def boundary_change(previous: dict[str, Any], desired: dict[str, Any]) -> tuple[bool, str | None]:
    """Whether the boundary changed, and the new one (None: removed)."""
    before, after = previous.get("PermissionsBoundary"), desired.get("PermissionsBoundary")
    return before != after, after


def _patch() -> None:
    from localstack.services.cloudformation.resource_provider import OperationStatus, ProgressEvent
    from localstack.services.iam.resource_providers import aws_iam_role

    provider = aws_iam_role.IAMRoleProvider
    if getattr(provider, "_driftline_patched", False):
        return
    update = provider.update

    def update_with_boundary(self: Any, request: Any) -> Any:
        event = update(self, request)
        changed, boundary = boundary_change(request.previous_state, request.desired_state)
        if event.status is not OperationStatus.SUCCESS or not changed:
            return event
        model = dict(event.resource_model or request.previous_state)
        name = model.get("RoleName") or request.previous_state["RoleName"]
        iam = request.aws_client_factory.iam
        if boundary:
            iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=boundary)
            model["PermissionsBoundary"] = boundary
        else:
            iam.delete_role_permissions_boundary(RoleName=name)
            model.pop("PermissionsBoundary", None)
        return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=model)

    provider.update = update_with_boundary
    provider._driftline_patched = True


def patch_when_imported() -> None:
    after_import(PROVIDER_MODULE, _patch)
