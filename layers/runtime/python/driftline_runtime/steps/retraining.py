"""The retraining gate's seam: a DriftDetected or ModelQualityDegraded event in, a decision out.

The gate is invoked by the rules on those events, not by a state machine: its input is
the event as EventBridge delivers it, and what it starts is the training state machine
with a :class:`~driftline_runtime.steps.training.TrainingRequest` that carries a
:class:`~driftline_runtime.steps.training.RetrainingTrigger`.
"""

from __future__ import annotations

from pydantic import Field

from driftline_runtime.events import DriftDetected, EventEnvelope, ModelQualityDegraded
from driftline_runtime.steps import StepModel

# Drift, or labels showing the deployed model degraded: both ask for a retraining.
RetrainingGateInput = EventEnvelope[DriftDetected | ModelQualityDegraded]


class RetrainingDecision(StepModel):
    """Whether this drift started a retraining, and until when the cooldown window runs."""

    started: bool
    until: str = Field(description="the cooldown window's end (ISO 8601), empty if unknown")
    execution: str | None = Field(default=None, description="the training execution started")
    suppressed_count: int | None = Field(
        default=None, description="drifts held back in this window, this one included"
    )
    waiting_for_labels: bool = Field(
        default=False, description="no labelled data newer than the champion's: recorded"
    )
    ignored: str | None = Field(default=None, description="why the event asks for nothing")
