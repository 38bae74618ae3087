"""Drift monitor: a scored batch against its model's training baseline.

The work is ``monitoring.DriftMonitor``'s.
"""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext
from driftline_runtime.observability import observability
from driftline_runtime.steps import step
from driftline_runtime.steps.batch_inference import DriftOutcome, MonitorDriftInput
from monitoring import DriftMonitor, Services, Settings

OBS = observability("monitor_drift")
MONITOR = DriftMonitor(
    Settings.from_environ(),
    Services(s3=boto3.client("s3"), events=boto3.client("events"), obs=OBS),
)


@OBS.logger.inject_lambda_context(log_event=True, correlation_id_path="execution")
@OBS.tracer.capture_lambda_handler
@step(MonitorDriftInput, DriftOutcome)
def handler(event: MonitorDriftInput, context: LambdaContext) -> DriftOutcome:
    outcome: DriftOutcome = MONITOR.measure(event, now=datetime.now(UTC))
    OBS.logger.info(
        "Drift measured",
        extra={
            "outcome": outcome.outcome,
            "rows": outcome.rows,
            "drifted_features": outcome.drifted_features,
        },
    )
    return outcome
