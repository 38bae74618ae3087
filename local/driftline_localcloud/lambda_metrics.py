"""Metrics from the embedded metric format in Lambda functions' logs, as CloudWatch Logs
extracts them on AWS.

LocalStack's Lambda hands each invocation's log to a ``LogHandler`` of the function
version (``add_logs``), which writes it to the function's log group; its open-source
CloudWatch Logs does not read the EMF documents in it, so the functions' Powertools
metrics never reached CloudWatch and no alarm on them could leave INSUFFICIENT_DATA.
The patch passes each log that holds ``"_aws"`` to one worker thread, off the
invocation's path, which parses it (``driftline_localcloud.emf``) and stores the data
in the CloudWatch provider's metric database in process, where PutMetricData stores
it: ``ListMetrics``, ``GetMetricStatistics`` and the alarm scheduler read it there. As
on AWS, this needs no ``cloudwatch:PutMetricData`` in the function's role.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from driftline_localcloud.emf import MARKER, extract_lines
from driftline_localcloud.import_hooks import after_import

LOG = logging.getLogger(__name__)

LOGS_MODULE = "localstack.services.lambda_.invocation.logs"

Sink = Callable[[str, str, str, list[dict[str, Any]]], None]


class EmfPublisher:
    """A queue of (account, region, log text) drained by one daemon thread into ``sink``."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self._queue: queue.SimpleQueue[tuple[str, str, str]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, account: str, region: str, text: str) -> None:
        if MARKER not in text:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="lambda-emf", daemon=True)
                self._thread.start()
        self._queue.put((account, region, text))

    def _run(self) -> None:
        while True:
            account, region, text = self._queue.get()
            self.publish(account, region, text)

    def publish(self, account: str, region: str, text: str) -> None:
        for namespace, data in extract_lines(text).by_namespace.items():
            try:
                self.sink(account, region, namespace, data)
            except Exception as error:  # a log line must never break the function's logs
                LOG.warning("Could not store EMF metrics of namespace %s: %s", namespace, error)


def account_of(role_arn: str) -> str | None:
    """The account of ``arn:aws:iam::<account>:role/<name>`` (the function's account)."""
    parts = role_arn.split(":")
    return parts[4] if len(parts) > 5 and parts[4] else None


def store_in_cloudwatch(
    account: str, region: str, namespace: str, data: list[dict[str, Any]]
) -> None:
    """Stores ``data`` where CloudWatch's PutMetricData does, without an HTTP round trip."""
    from localstack.services.plugins import SERVICE_PLUGINS

    # The service keeps its provider (the object serving PutMetricData) in ``_provider``,
    # as the persistence modules also read it.
    provider = SERVICE_PLUGINS.require("cloudwatch")._provider
    provider.cloudwatch_database.add_metric_data(account, region, namespace, data)


def _patch() -> None:
    from localstack.services.lambda_.invocation import logs

    handler: Any = logs.LogHandler
    if getattr(handler, "_driftline_patched", False):
        return
    publisher = EmfPublisher(store_in_cloudwatch)
    original = handler.add_logs

    def add_logs(self: Any, log_item: Any) -> None:
        original(self, log_item)
        account = account_of(self.role_arn or "")
        if account is not None:
            publisher.submit(account, self.region, log_item.logs)

    handler.add_logs = add_logs
    handler._driftline_patched = True


def patch_when_imported() -> None:
    after_import(LOGS_MODULE, _patch)
