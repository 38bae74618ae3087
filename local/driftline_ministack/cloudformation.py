"""What MiniStack's CloudFormation needs to deploy the app as CloudFormation would.

- ``AWS::Backup::BackupSelection``: MiniStack serves AWS Backup (vaults, plans,
  selections) and provisions vaults and plans, but refuses a template with a selection
  ("Unrecognized resource types"). The provisioner added to its resource table creates
  and deletes the selection through MiniStack's own Backup service.
- ``AWS::S3::Bucket`` ``Tags``: MiniStack creates the bucket without them. CDK's
  ``auto_delete_objects`` handler empties a bucket on delete only when it carries
  CDK's ``aws-cdk:auto-delete-objects`` tag, and fails on a bucket with no tags at all
  (``NoSuchTagSet``); the template's tags are now set on create and update.
- ``AWS::IAM::Role`` ``PermissionsBoundary``: MiniStack creates and updates a role
  without it, so a deployment under a boundary (the stage setting
  ``permissions_boundary``) left every role unbounded. The template's boundary is now
  set on create and set, changed or removed on update, as IAM's
  ``PutRolePermissionsBoundary`` does it (a policy that does not exist fails the
  resource with IAM's ``NoSuchEntity`` message).
- Lambda-backed custom resources fail fast: MiniStack waits for the function's
  ResponseURL answer up to ``ServiceTimeout`` (an hour by default), even when the
  function failed without answering. As CloudFormation would surface it, a function
  that raised fails the resource with its own error (after a short grace for an answer
  that was already on its way), and the default wait is five minutes.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from ministack.services import backup, s3
from ministack.services import iam as iam_service
from ministack.services.cloudformation import custom_resource, provisioners

LOG = logging.getLogger(__name__)

# CloudFormation's own default is one hour; a local deployment should fail faster.
DEFAULT_TIMEOUT_SECONDS = 300
# How long a response may trail a function that already returned an error.
LATE_RESPONSE_GRACE_SECONDS = 2.0


# -- AWS::Backup::BackupSelection --------------------------------------------------------
def _selection_create(logical_id: str, props: dict[str, Any], stack_name: str) -> Any:
    status, _, body = backup._create_selection(
        props.get("BackupPlanId", ""), {"BackupSelection": props.get("BackupSelection") or {}}
    )
    answer = json.loads(body)
    if status >= 400:
        raise ValueError(f"AWS::Backup::BackupSelection {logical_id}: {answer}")
    selection = answer["SelectionId"]
    return selection, {"SelectionId": selection, "BackupPlanId": answer["BackupPlanId"]}


def _selection_delete(physical_id: str, props: dict[str, Any]) -> None:
    backup._delete_selection(props.get("BackupPlanId", ""), physical_id)


# -- AWS::S3::Bucket Tags --------------------------------------------------------------
def _tag_map(props: dict[str, Any]) -> dict[str, str]:
    return {str(tag["Key"]): str(tag["Value"]) for tag in props.get("Tags") or []}


def with_bucket_tags(handlers: dict[str, Any]) -> dict[str, Any]:
    create, update = handlers["create"], handlers["update"]

    def create_tagged(logical_id: str, props: dict[str, Any], stack_name: str) -> Any:
        name, attributes = create(logical_id, props, stack_name)
        if props.get("Tags"):
            s3._bucket_tags[name] = _tag_map(props)
        return name, attributes

    def update_tagged(
        physical_id: str, old: dict[str, Any], new: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Any:
        result = update(physical_id, old, new, *args, **kwargs)
        name = result[0] if isinstance(result, tuple) else physical_id
        if new.get("Tags") or old.get("Tags"):
            s3._bucket_tags[name] = _tag_map(new)
        return result

    return {**handlers, "create": create_tagged, "update": update_tagged}


# -- AWS::IAM::Role PermissionsBoundary --------------------------------------------------
def set_role_boundary(name: str, boundary: str | None) -> None:
    """Gives role ``name`` the boundary policy ``boundary`` (None: no boundary)."""
    role = iam_service._roles.get(name)
    if role is None:
        raise ValueError(f"The role with name {name} cannot be found.")
    if boundary:
        refused = iam_service._boundary_policy_error(boundary)
        if refused:
            body = refused[2].decode()
            raise ValueError(body.split("<Message>", 1)[-1].split("</Message>", 1)[0])
    role["PermissionsBoundary"] = boundary or None


def with_role_boundary(handlers: dict[str, Any]) -> dict[str, Any]:
    create, update = handlers["create"], handlers["update"]

    def create_bounded(logical_id: str, props: dict[str, Any], stack_name: str) -> Any:
        name, attributes = create(logical_id, props, stack_name)
        if props.get("PermissionsBoundary"):
            set_role_boundary(name, props["PermissionsBoundary"])
        return name, attributes

    def update_bounded(
        physical_id: str, old: dict[str, Any], new: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Any:
        result = update(physical_id, old, new, *args, **kwargs)
        name = result[0] if isinstance(result, tuple) else physical_id
        # Also after a replacement (a renamed role), which MiniStack creates unbounded.
        if new.get("PermissionsBoundary") or old.get("PermissionsBoundary"):
            set_role_boundary(name, new.get("PermissionsBoundary"))
        return result

    return {**handlers, "create": create_bounded, "update": update_bounded}


# -- custom resources ---------------------------------------------------------------------
def invoke_custom_resource(
    request_type: str,
    logical_id: str,
    props: dict[str, Any],
    stack_name: str,
    stack_id: str,
    resource_type: str,
    physical_id: str | None = None,
    old_props: dict[str, Any] | None = None,
) -> tuple[str, dict[str, Any]]:
    """MiniStack's ``invoke_custom_resource``, failing with the function's own error."""
    from ministack.core.responses import new_uuid
    from ministack.services import lambda_svc
    from ministack.services.cloudformation.custom_resource import (
        _lock,
        _normalise_resource_properties,
        _pending,
        _response_url,
        register_token,
    )

    service_token = props.get("ServiceToken", "")
    record, config, _ = lambda_svc._get_func_record_for_ref(service_token)
    if record is None or config is None:
        raise ValueError(
            f"Custom resource ServiceToken {service_token!r} not found. "
            "Ensure the Lambda function is provisioned before the custom resource."
        )
    try:
        timeout = float(props.get("ServiceTimeout", DEFAULT_TIMEOUT_SECONDS))
    except (TypeError, ValueError):
        timeout = DEFAULT_TIMEOUT_SECONDS
    token, request_id = new_uuid(), new_uuid()
    event: dict[str, Any] = {
        "RequestType": request_type,
        "RequestId": request_id,
        "StackId": stack_id,
        "ResponseURL": _response_url(token),
        "ResourceType": resource_type,
        "LogicalResourceId": logical_id,
        "ResourceProperties": _normalise_resource_properties(props),
    }
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    if old_props is not None:
        event["OldResourceProperties"] = _normalise_resource_properties(old_props)
    answered = register_token(token)
    execution = lambda_svc._execute_function_with_config_scope(
        lambda_svc._execution_record_for_config(record, config), event
    )
    if execution.get("error"):
        timeout = LATE_RESPONSE_GRACE_SECONDS  # an answer may still be on its way
    answered.wait(timeout=timeout)
    with _lock:
        entry = _pending.pop(token, None)
    result = entry["result"] if entry else None
    if result is None:
        if execution.get("error"):
            detail = json.dumps(execution.get("body"))
            raise RuntimeError(f"the function failed without responding: {detail}")
        raise TimeoutError(
            f"Custom resource {logical_id!r}: no response on the ResponseURL within "
            f"{timeout:.0f} seconds"
        )
    if result.get("Status") == "FAILED":
        raise RuntimeError(result.get("Reason") or "the function reported FAILED without a reason")
    if result.get("RequestId") not in (None, request_id):
        raise RuntimeError("the response names another request")
    return result.get("PhysicalResourceId") or physical_id or request_id, result.get("Data") or {}


def register() -> None:
    handlers = provisioners._RESOURCE_HANDLERS
    handlers["AWS::Backup::BackupSelection"] = {
        "create": _selection_create,
        "delete": _selection_delete,
    }
    handlers["AWS::S3::Bucket"] = with_bucket_tags(handlers["AWS::S3::Bucket"])
    handlers["AWS::IAM::Role"] = with_role_boundary(handlers["AWS::IAM::Role"])
    custom_resource.invoke_custom_resource = invoke_custom_resource
