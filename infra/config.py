"""Typed stage configuration, read from ``cdk.json`` context.

Select a stage with ``-c stage=prod``; override any single value with
``-c driftline:<key>=<value>`` (for example ``-c driftline:log_retention_days=30``).
A missing or misspelt key fails the synth at once instead of falling back to a default.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

from driftline_runtime.drift import DriftThresholds
from pydantic import BaseModel, ConfigDict, Field

STAGES_KEY = "driftline:stages"
OVERRIDE_PREFIX = "driftline:"


class StageConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    stage: str = Field(pattern=r"^[a-z][a-z0-9-]{0,15}$")
    account: str | None = Field(default=None, pattern=r"^\d{12}$")
    region: str | None = None
    lambda_architecture: Literal["x86_64", "arm64"]
    log_retention_days: int = Field(gt=0)
    raw_retention_days: int = Field(gt=0)
    quarantine_retention_days: int = Field(gt=0)
    training_instance_type: str = Field(pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    training_max_runtime_seconds: int = Field(gt=0, le=432_000)
    # The evaluation gate (see driftline_runtime.approval).
    approval_minimum: float = Field(ge=0, le=1)
    approval_min_improvement: float = Field(ge=0)
    approval_when_not_better: Literal["Rejected", "PendingManualApproval"]
    destroy_on_removal: bool
    # Batch inference: one transform job per part of at most this many rows, this many
    # jobs at a time; an optional EventBridge schedule expression re-scores the newest
    # version of every inference dataset (None: only new drops are scored).
    inference_instance_type: str = Field(pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    inference_rows_per_part: int = Field(gt=0)
    inference_max_concurrency: int = Field(gt=0, le=1000)
    inference_schedule: str | None = Field(default=None, pattern=r"^(rate|cron)\(.+\)$")
    # Drift: PSI thresholds per dataset ("default" for the rest), and at most one
    # drift-triggered retraining per training dataset per cooldown window.
    drift_thresholds: dict[str, DriftThresholds]
    retraining_cooldown_minutes: int = Field(gt=0)

    @property
    def prefix(self) -> str:
        return f"driftline-{self.stage}"


def load_stage_config(
    context: Callable[[str], Any], account: str | None, region: str | None
) -> StageConfig:
    """Build the config from a context lookup such as ``app.node.try_get_context``."""
    stage = context("stage") or "dev"
    stages = context(STAGES_KEY) or {}
    if stage not in stages:
        raise ValueError(
            f"Unknown stage {stage!r}: cdk.json context {STAGES_KEY!r} defines {sorted(stages)}"
        )
    values: dict[str, Any] = {**stages[stage], "stage": stage}
    for field in StageConfig.model_fields:
        override = context(f"{OVERRIDE_PREFIX}{field}")
        if isinstance(override, str) and override.lstrip().startswith("{"):
            override = json.loads(override)  # -c driftline:drift_thresholds='{...}'
        if override is not None:
            values[field] = override
    values.setdefault("account", account)
    values.setdefault("region", region)
    return StageConfig.model_validate(values)
