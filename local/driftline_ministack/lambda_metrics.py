"""Metrics from the embedded metric format in functions' logs, on MiniStack.

On AWS, CloudWatch Logs turns a function's EMF log lines (Powertools ``Metrics``) into
metrics; MiniStack's CloudWatch Logs does not, so no alarm on the app's own metrics
(model quality among them) could leave ``INSUFFICIENT_DATA``. MiniStack writes each
invocation's log to the function's log group once, in ``lambda_svc._emit_lambda_logs``,
whatever the executor; ``install`` wraps it and hands the log to the publisher
(``driftline_localcloud.lambda_metrics.EmfPublisher``: one worker
thread, off the invocation's path, parsing with ``driftline_localcloud.emf``), whose
sink stores each datum where PutMetricData stores it, in the function's account and
region, and evaluates the alarms there. As on AWS, this needs no
``cloudwatch:PutMetricData`` in the function's role.
"""

from __future__ import annotations

import logging
from typing import Any

from driftline_localcloud.lambda_metrics import EmfPublisher
from ministack.core import responses
from ministack.services import cloudwatch, lambda_svc

from driftline_ministack.cloudwatch_alarms import evaluate_alarm, in_scope

LOG = logging.getLogger(__name__)


def account_and_region(function: dict[str, Any]) -> tuple[str, str]:
    """Where the function lives: its ARN's account and region, else the request's."""
    config = function.get("config") or function
    parts = str(config.get("FunctionArn") or "").split(":")
    if len(parts) > 4 and parts[3] and parts[4]:
        return parts[4], parts[3]
    return responses.get_account_id(), responses.get_region()


def _store(namespace: str, data: list[dict[str, Any]]) -> None:
    for datum in data:
        cloudwatch._store_datum(
            namespace,
            datum["MetricName"],
            {d["Name"]: d["Value"] for d in datum["Dimensions"]},
            datum["Timestamp"].timestamp(),
            datum["Unit"],
            datum.get("Value"),
            datum.get("Values"),
            None,
            None,
        )
    names = {d["MetricName"] for d in data}
    for alarm in cloudwatch._alarms.values():
        if alarm.get("Namespace") == namespace and alarm.get("MetricName") in names:
            evaluate_alarm(alarm)


def store_in_cloudwatch(
    account: str, region: str, namespace: str, data: list[dict[str, Any]]
) -> None:
    """Stores ``data`` where CloudWatch's PutMetricData does, without an HTTP round trip."""
    in_scope(account, region, _store, namespace, data)


def with_metrics(emit: Any, publisher: EmfPublisher) -> Any:
    def emit_lambda_logs(
        function: dict[str, Any], request_id: str, log_text: str, *args: Any, **kwargs: Any
    ) -> Any:
        result = emit(function, request_id, log_text, *args, **kwargs)
        try:
            publisher.submit(*account_and_region(function), log_text or "")
        except Exception as error:  # the function's logs are written; metrics are extra
            LOG.warning("Could not queue a function log's EMF metrics: %s", error)
        return result

    emit_lambda_logs.driftline_metrics = True  # type: ignore[attr-defined]
    return emit_lambda_logs


def install() -> None:
    """Publishes the EMF metrics of every function log MiniStack writes; idempotent."""
    if not getattr(lambda_svc._emit_lambda_logs, "driftline_metrics", False):
        lambda_svc._emit_lambda_logs = with_metrics(
            lambda_svc._emit_lambda_logs, EmfPublisher(store_in_cloudwatch)
        )
