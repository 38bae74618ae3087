"""The publisher of metrics from the embedded metric format in Lambda functions' logs.

Each log that holds ``"_aws"`` goes to one worker thread, off the invocation's path,
which parses it (``driftline_localcloud.emf``) and hands each namespace's data to a sink;
``driftline_ministack.lambda_metrics`` feeds it every invocation's log and stores the
data where PutMetricData stores it. It imports no emulator, so it is unit-tested here.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from driftline_localcloud.emf import MARKER, extract_lines

LOG = logging.getLogger(__name__)

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
