"""CloudWatch Logs' ``AssociateKmsKey``, which MiniStack's Logs service lacks.

The pipeline stack's SageMaker log-groups resource creates SageMaker's log groups with
the stage's key, or, when SageMaker or an earlier deployment created them first,
associates the key with them; MiniStack answers that call "Unknown action".
``install`` answers it (and ``DisassociateKmsKey``) in front of MiniStack's handler:
the key is recorded on the group, where ``CreateLogGroup`` records one and
``DescribeLogGroups`` reports it; a group that does not exist is
``ResourceNotFoundException``, as on AWS.
"""

from __future__ import annotations

import json
from typing import Any

from ministack.core.responses import error_response_json, json_response
from ministack.services import cloudwatch_logs

TARGET_PREFIX = "Logs_20140328."


def group_name(log_group_name: str | None, resource_identifier: str | None) -> str:
    """The group named by its name or by its ARN (``...:log-group:<name>[:*]``)."""
    if log_group_name:
        return log_group_name
    return (resource_identifier or "").split(":log-group:", 1)[-1].removesuffix(":*")


def _key_of(data: dict[str, Any], key: str | None) -> Any:
    name = group_name(data.get("logGroupName"), data.get("resourceIdentifier"))
    group = cloudwatch_logs._log_groups.get(name)
    if group is None:
        return error_response_json(
            "ResourceNotFoundException", "The specified log group does not exist.", 400
        )
    group["kmsKeyId"] = key
    return json_response({})


def with_kms_keys(handle: Any) -> Any:
    async def handle_request(
        method: str, path: str, headers: dict[str, str], body: bytes, query_params: Any
    ) -> Any:
        action = headers.get("x-amz-target", "").removeprefix(TARGET_PREFIX)
        if action in ("AssociateKmsKey", "DisassociateKmsKey"):
            try:
                data = json.loads(body or b"{}")
            except ValueError:
                return error_response_json("SerializationException", "Invalid JSON", 400)
            return _key_of(data, data.get("kmsKeyId") if action == "AssociateKmsKey" else None)
        return await handle(method, path, headers, body, query_params)

    handle_request.driftline = True  # type: ignore[attr-defined]
    return handle_request


def install() -> None:
    """Answers the KMS key calls before MiniStack's Logs handler; idempotent."""
    if not getattr(cloudwatch_logs.handle_request, "driftline", False):
        cloudwatch_logs.handle_request = with_kms_keys(cloudwatch_logs.handle_request)
