"""The resource a CloudWatch alarm listing is authorized on, under MiniStack's IAM.

MiniStack checks ``cloudwatch:DescribeAlarms`` on ``*`` unless the request names one
alarm in ``AlarmName`` (which DescribeAlarms has not), so a role allowed to describe the
alarms of one name prefix only (the deployment planner's, which retires the quality
alarms earlier deployments left: ``alarm:<stage>-quality-*``) was denied its own
listing. ``install`` has a listing checked on the alarm it names (``AlarmNames`` with
one name) or on its prefix's ARN (``alarm:<prefix>*``); AWS answers a listing with the
alarms the policy allows, and here a policy must cover what the request asks for. A
listing of several names, or of every alarm, stays checked on ``*``.
"""

from __future__ import annotations

import json
from typing import Any


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def request_fields(headers: dict[str, str], body: bytes, query: dict[str, Any]) -> dict[str, Any]:
    """The request's members, from a JSON body or the query form (which MiniStack's router
    has already merged into ``query``)."""
    if body and "json" in headers.get("content-type", ""):
        try:
            found = json.loads(body)
        except ValueError:
            return {}
        return found if isinstance(found, dict) else {}
    names = [
        _first(query[key])
        for key in sorted(
            (k for k in query if str(k).startswith("AlarmNames.member.")),
            key=lambda k: int(str(k).rsplit(".", 1)[-1]),
        )
    ]
    return {"AlarmNames": names, "AlarmNamePrefix": _first(query.get("AlarmNamePrefix"))}


def alarm_listing_arn(fields: dict[str, Any], region: str, account: str) -> str | None:
    """The ARN a DescribeAlarms request is checked on, or None to keep MiniStack's ``*``."""
    arn = f"arn:aws:cloudwatch:{region}:{account}:alarm:"
    names = fields.get("AlarmNames") or []
    if isinstance(names, list) and len(names) == 1:
        return f"{arn}{names[0]}"
    prefix = fields.get("AlarmNamePrefix")
    if not names and isinstance(prefix, str) and prefix:
        return f"{arn}{prefix}*"
    return None


def with_alarm_listings(extract: Any) -> Any:
    def extract_resource_arn(
        service: str,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        query_params: dict[str, Any],
        region: str,
        account_id: str,
    ) -> Any:
        found = extract(service, method, path, headers, body, query_params, region, account_id)
        if service != "monitoring" or found != "*":
            return found
        target = headers.get("x-amz-target", "")
        if target:
            action = target.rsplit(".", 1)[-1]
        elif "/operation/" in path:
            action = path.rsplit("/operation/", 1)[-1]
        else:
            action = str(_first(query_params.get("Action")) or "")
        if action != "DescribeAlarms":
            return found
        fields = request_fields(headers, body, query_params)
        return alarm_listing_arn(fields, region, account_id) or found

    extract_resource_arn.driftline = True  # type: ignore[attr-defined]
    return extract_resource_arn


def install() -> None:
    from ministack.core import iam_actions

    if not getattr(iam_actions.extract_resource_arn, "driftline", False):
        iam_actions.extract_resource_arn = with_alarm_listings(iam_actions.extract_resource_arn)
