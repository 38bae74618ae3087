"""An endpoint's CloudWatch metrics, as SageMaker publishes them in ``AWS/SageMaker``.

Per endpoint and variant (dimensions ``EndpointName`` and ``VariantName``): the count
of ``Invocations``, ``Invocation4XXErrors`` and ``Invocation5XXErrors`` (by the status
the container answered; zeros too, so an error-rate alarm has data to judge),
``InvocationModelErrors`` and ``ModelLatency`` in microseconds. Requests are counted in
memory and sent once a second in one PutMetricData call, so serving never waits on
CloudWatch; the alarms that guard deployments read them there.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

LOG = logging.getLogger(__name__)

NAMESPACE = "AWS/SageMaker"
FLUSH_SECONDS = 1.0


class MetricsSink(Protocol):
    def put_metrics(
        self, account: str, region: str, namespace: str, data: list[dict[str, Any]]
    ) -> None: ...


@dataclass
class Tally:
    invocations: int = 0
    client_errors: int = 0
    server_errors: int = 0
    latencies_us: list[int] = field(default_factory=list)


class EndpointMetrics:
    """Counts per (account, region, endpoint, variant), flushed by a background thread."""

    def __init__(self, sink: MetricsSink) -> None:
        self.sink = sink
        self._tallies: dict[tuple[str, str, str, str], Tally] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="endpoint-metrics", daemon=True)
        self._thread.start()

    def record(
        self,
        account: str,
        region: str,
        endpoint: str,
        variant: str,
        *,
        latency_us: int | None = None,
        error: int | None = None,
    ) -> None:
        """One request: its model latency if it was answered, else the container's status."""
        with self._lock:
            tally = self._tallies.setdefault((account, region, endpoint, variant), Tally())
            tally.invocations += 1
            if error is not None and error >= 500:
                tally.server_errors += 1
            elif error is not None:
                tally.client_errors += 1
            if latency_us is not None:
                tally.latencies_us.append(latency_us)

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=5)
        self.flush()

    def _loop(self) -> None:
        while not self._closed.wait(FLUSH_SECONDS):
            self.flush()

    def flush(self) -> None:
        with self._lock:
            tallies, self._tallies = self._tallies, {}
        by_region: dict[tuple[str, str], list[dict[str, Any]]] = {}
        moment = datetime.now(UTC)
        for (account, region, endpoint, variant), tally in tallies.items():
            by_region.setdefault((account, region), []).extend(
                metric_data(endpoint, variant, tally, moment)
            )
        for (account, region), data in by_region.items():
            for start in range(0, len(data), 1000):
                try:
                    self.sink.put_metrics(account, region, NAMESPACE, data[start : start + 1000])
                except Exception as error:  # metrics are a side channel: serving goes on
                    LOG.warning("Could not publish endpoint metrics: %s", error)


def metric_data(
    endpoint: str, variant: str, tally: Tally, moment: datetime
) -> list[dict[str, Any]]:
    dimensions = [
        {"Name": "EndpointName", "Value": endpoint},
        {"Name": "VariantName", "Value": variant},
    ]

    def count(name: str, value: int) -> dict[str, Any]:
        return {
            "MetricName": name,
            "Dimensions": dimensions,
            "Timestamp": moment,
            "Value": float(value),
            "Unit": "None",
            "StorageResolution": 1,
        }

    data = [
        count("Invocations", tally.invocations),
        count("Invocation4XXErrors", tally.client_errors),
        count("Invocation5XXErrors", tally.server_errors),
        count("InvocationModelErrors", tally.client_errors + tally.server_errors),
    ]
    if tally.latencies_us:
        values = tally.latencies_us
        data.append(
            {
                "MetricName": "ModelLatency",
                "Dimensions": dimensions,
                "Timestamp": moment,
                "StatisticValues": {
                    "SampleCount": float(len(values)),
                    "Sum": float(sum(values)),
                    "Minimum": float(min(values)),
                    "Maximum": float(max(values)),
                },
                "Unit": "Microseconds",
                "StorageResolution": 1,
            }
        )
    return data
