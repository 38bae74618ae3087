"""The one place that creates Powertools' Logger, Tracer and Metrics.

Every function calls :func:`observability` with its service name, so log lines, traces
and metrics share a namespace and the same correlation-id convention.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from aws_lambda_powertools import Logger, Metrics, Tracer

METRICS_NAMESPACE = "driftline"


@dataclass(frozen=True)
class Observability:
    logger: Logger
    tracer: Tracer
    metrics: Metrics


@cache
def observability(service: str) -> Observability:
    return Observability(
        logger=Logger(service=service),
        tracer=Tracer(service=service),
        metrics=Metrics(namespace=METRICS_NAMESPACE, service=service),
    )
