"""The one place that creates Powertools' Logger, Tracer and Metrics.

Every function calls :func:`observability` with its service name, so log lines, traces
and metrics share a namespace and the same correlation-id convention (each handler names
its correlation id with ``inject_lambda_context(correlation_id_path=...)``: the object
key for ingestion, the execution ARN for state-machine tasks).

Metrics use CloudWatch's embedded metric format: a JSON line in the function's log that
CloudWatch turns into metrics, so functions need no ``cloudwatch:PutMetricData``. Every
metric carries the ``stage`` and ``service`` dimensions; business metrics add their own
(``dataset``, ``feature``) through :meth:`Observability.record`, which the monitoring
stack's dashboard finds with ``SEARCH`` expressions over exactly these names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from driftline_runtime.names import METRICS_NAMESPACE, STAGE_DIMENSION
from driftline_runtime.settings import FunctionSettings


class ObservabilitySettings(FunctionSettings):
    # CDK sets it on every function; it tells dev's metrics from prod's in one account.
    driftline_stage: str


@dataclass(frozen=True)
class Observability:
    service: str
    stage: str
    logger: Logger
    tracer: Tracer
    metrics: Metrics

    def record(
        self,
        values: Mapping[str, tuple[float, MetricUnit]],
        dimensions: Mapping[str, str],
        properties: Mapping[str, Any] | None = None,
    ) -> None:
        """Print one EMF record now: ``values`` (name -> (value, unit)) with ``dimensions``.

        A record of its own rather than the shared ``metrics``: the dimensions belong to
        these values only (two datasets in one invocation make two records), and the
        ``properties`` (a model version, a job name) land beside them in the log line,
        searchable with Logs Insights without becoming dimensions.
        """
        record = EphemeralMetrics(namespace=METRICS_NAMESPACE, service=self.service)
        record.add_dimension(name=STAGE_DIMENSION, value=self.stage)
        for name, value in dimensions.items():
            record.add_dimension(name=name, value=value)
        for key, value in (properties or {}).items():
            record.add_metadata(key=key, value=value)
        for name, (number, unit) in values.items():
            record.add_metric(name=name, unit=unit, value=number)
        record.flush_metrics(raise_on_empty_metrics=True)


@cache
def observability(service: str) -> Observability:
    stage = ObservabilitySettings.from_environ().driftline_stage
    metrics = Metrics(namespace=METRICS_NAMESPACE, service=service)
    metrics.set_default_dimensions(**{STAGE_DIMENSION: stage})
    return Observability(
        service=service,
        stage=stage,
        logger=Logger(service=service),
        tracer=Tracer(service=service),
        metrics=metrics,
    )
