"""Typed stage configuration, read from ``cdk.json`` context.

Select a stage with ``-c stage=prod``; override any single value with
``-c driftline:<key>=<value>`` (for example ``-c driftline:log_retention_days=30``).
A missing or misspelt key fails the synth at once instead of falling back to a default.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from driftline_runtime import names
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from infra.platforms import Target

STAGES_KEY = "driftline:stages"
# Lambda's largest ephemeral storage; a threshold above what fits twice is refused.
LAMBDA_MAX_STORAGE_MIB = 10_240
MAX_LARGE_FILE_MIB = (LAMBDA_MAX_STORAGE_MIB - 512) // 2
# The prepare function (1,769 MB) holds the version's table and a part being cut, twice
# while it is joined: a part above this would not fit beside a table of any size.
MAX_INFERENCE_PART_MIB = 512
OVERRIDE_PREFIX = "driftline:"
# IAM's managed policy names, and the ARN of a customer managed (12-digit account) or an
# AWS managed (account "aws") policy, with an optional path, in any partition.
POLICY_NAME = r"[\w+=,.@-]{1,128}"
POLICY_ARN = re.compile(
    rf"^arn:aws(?:-[a-z]+)*:iam::(?P<account>\d{{12}}|aws):policy/(?:[\w+=,.@-]+/)*{POLICY_NAME}$",
    re.ASCII,
)


class StageConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # No hyphen: every name of a stage starts "<project>-<stage>-" or "dl-<stage>-", and
    # IAM grants scoped to one stage's prefix must not match another's ("dev" and
    # "dev-x"). Short: SageMaker job names (63 characters) carry it.
    stage: str = Field(pattern=r"^[a-z][a-z0-9]{0,9}$")
    account: str | None = Field(default=None, pattern=r"^\d{12}$")
    region: str | None = None
    lambda_architecture: Literal["x86_64", "arm64"]
    # Where the assets go (`-c driftline:target=local`, which `driftline local up`
    # passes): "local" builds the layers for the host's platform instead of Lambda's
    # (infra.platforms); nothing else in the template changes.
    target: Target = "aws"
    log_retention_days: int = Field(gt=0)
    raw_retention_days: int = Field(gt=0)
    quarantine_retention_days: int = Field(gt=0)
    training_instance_type: str = Field(pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    training_max_runtime_seconds: int = Field(gt=0, le=432_000)
    # The evaluation gate (see driftline_runtime.approval): the margin a challenger must
    # beat its champion by; the metric and its minimum are each dataset's spec's.
    approval_min_improvement: float = Field(ge=0)
    approval_when_not_better: Literal["Rejected", "PendingManualApproval"]
    destroy_on_removal: bool
    # Batch inference: one transform job per part of the version's CSV of at most this many
    # MiB (rows kept whole, each part with the header line), this many jobs at a time; an
    # optional EventBridge schedule expression re-scores the newest version of every
    # inference dataset (None: only new drops are scored). Parts are cut by bytes, not rows,
    # so that a job's input and run time do not depend on how wide the rows are; with
    # SplitType=Line a part may be larger than one request (MaxPayloadInMB).
    inference_instance_type: str = Field(pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    inference_part_size_mib: int = Field(gt=0, le=MAX_INFERENCE_PART_MIB)
    inference_max_concurrency: int = Field(gt=0, le=1000)
    inference_schedule: str | None = Field(default=None, pattern=r"^(rate|cron)\(.+\)$")
    # Ingestion. What validating one file may hold in memory (its batches, the unique key's
    # index before it spills to /tmp, the bad rows' bitmaps); the function's memory holds
    # this plus the runtime's. Files whose text is larger than the threshold (the object,
    # or what a gzip object inflates to) are more than one invocation validates in its 15
    # minutes: they go to the Processing job where the stage has one, else to quarantine
    # (too_large). The function's /tmp is sized from the threshold (ingest_storage_mib).
    ingest_validation_memory_mib: int = Field(ge=32, le=4096)
    large_file_threshold_mib: int = Field(gt=0, le=MAX_LARGE_FILE_MIB)
    # At most one drift-triggered retraining per training dataset per cooldown window.
    # (How drift is judged is per dataset, in its spec: DatasetSpec.drift.)
    retraining_cooldown_minutes: int = Field(gt=0)
    # Promotion: when a retraining's challenger is approved, score the batch whose drift
    # or labels started it again, with the new model (the next batches are its anyway).
    rescore_trigger_batch: bool
    # The two optional settings below default to None because CDK drops null values
    # from context on their way into the app: cdk.json's `null` arrives as a missing key.
    # Where alarms and pipeline failures are mailed (the subscription must be confirmed
    # from the mail AWS sends); null: notifications go to the topic only.
    alarm_email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None
    # Run SageMaker jobs in these subnets and security groups (both or neither); empty:
    # SageMaker's own network.
    sagemaker_subnet_ids: tuple[str, ...]
    sagemaker_security_group_ids: tuple[str, ...]
    # Reserved concurrency of every function (an upper bound on what a burst of files
    # can start); null: none reserved, for accounts whose concurrency quota is too small
    # to reserve any (new accounts start at 10).
    lambda_reserved_concurrency: Annotated[int, Field(gt=0)] | None = None
    # Give SageMaker's account-wide job log groups (/aws/sagemaker/TrainingJobs, ...) the
    # stage's retention and the project key (infra.constructs.sagemaker_logs). Off for an
    # account shared with other SageMaker work whose readers lack the project key.
    manage_sagemaker_log_groups: bool
    # Real-time endpoints (datasets opt in with their spec's `realtime`): serverless
    # inference instead of instances (no canary: traffic shifts all at once; no data
    # capture), the period of the alarms that roll a deployment back (10 and 30 are
    # high-resolution alarms), and how often the deployment looks at the endpoint.
    realtime_serverless: bool = False
    realtime_alarm_period_seconds: Literal[10, 30, 60, 120, 300] = 60
    realtime_poll_seconds: int = Field(default=30, ge=1, le=300)
    # How often an endpoint's captured traffic is dropped as a batch of its dataset's
    # capture_dataset (the window each batch covers).
    realtime_capture_window_minutes: int = Field(default=60, ge=5, le=1440)
    # More folders of contract modules, packaged into the contracts layer beside
    # layers/contracts/python/driftline_contracts and checked with them (paths relative
    # to the project; comma-separated on the command line). A module name may not repeat.
    extra_contract_folders: tuple[str, ...] = ()
    # The managed policy every IAM role of every stack gets as its permissions boundary
    # (infra.permissions_boundary), for accounts that refuse iam:CreateRole without one:
    # a policy name (in the deployment's account) or a policy ARN. None: no boundary.
    permissions_boundary: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_stage_drift_thresholds(cls, values: Any) -> Any:
        """The PSI thresholds per stage gave way to calibrated verdicts set per dataset."""
        if isinstance(values, dict) and "drift_thresholds" in values:
            raise ValueError(
                "drift_thresholds is no stage setting any more: drift is judged per dataset "
                "by its spec's `drift` (DriftSettings: false_alarm_rate, min_rows, min_psi); "
                "remove drift_thresholds from cdk.json"
            )
        return values

    @model_validator(mode="before")
    @classmethod
    def _no_rows_per_part(cls, values: Any) -> Any:
        """Batch inference parts were sized by rows; they are sized by bytes now."""
        if isinstance(values, dict) and "inference_rows_per_part" in values:
            raise ValueError(
                "inference_rows_per_part is no stage setting any more: batch inference parts "
                "are cut by bytes; set inference_part_size_mib (MiB per part, 1 to "
                f"{MAX_INFERENCE_PART_MIB}) instead of it in cdk.json"
            )
        return values

    @field_validator(
        "sagemaker_subnet_ids",
        "sagemaker_security_group_ids",
        "extra_contract_folders",
        mode="before",
    )
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        """``-c driftline:sagemaker_subnet_ids=subnet-a,subnet-b`` arrives as one string."""
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @model_validator(mode="after")
    def _vpc_is_complete(self) -> StageConfig:
        if bool(self.sagemaker_subnet_ids) != bool(self.sagemaker_security_group_ids):
            raise ValueError(
                "sagemaker_subnet_ids and sagemaker_security_group_ids are set together: "
                "SageMaker needs both to place a job in a VPC"
            )
        for subnet in self.sagemaker_subnet_ids:
            if not subnet.startswith("subnet-"):
                raise ValueError(f"sagemaker_subnet_ids: {subnet!r} is not a subnet id")
        for group in self.sagemaker_security_group_ids:
            if not group.startswith("sg-"):
                raise ValueError(f"sagemaker_security_group_ids: {group!r} is not a group id")
        return self

    @field_validator("permissions_boundary")
    @classmethod
    def _policy_name_or_arn(cls, value: str | None) -> str | None:
        if value is None or re.fullmatch(POLICY_NAME, value, re.ASCII) or POLICY_ARN.match(value):
            return value
        raise ValueError(
            f"permissions_boundary: {value!r} is neither a managed policy name (1 to 128 of "
            "letters, digits and +=,.@_-) nor a policy ARN "
            "(arn:<partition>:iam::<account>:policy/<path/><name>)"
        )

    @model_validator(mode="after")
    def _boundary_in_this_account(self) -> StageConfig:
        """IAM attaches only the account's own or AWS's managed policies to its roles."""
        found = POLICY_ARN.match(self.permissions_boundary or "")
        if found and self.account and found["account"] not in (self.account, "aws"):
            raise ValueError(
                f"permissions_boundary: {self.permissions_boundary} is a policy of account "
                f"{found['account']}, but the stage deploys to account {self.account}; a "
                "role's boundary must be a managed policy of its own account (or AWS's)"
            )
        return self

    @property
    def prefix(self) -> str:
        return names.stage_prefix(self.stage)

    @property
    def ingest_storage_mib(self) -> int:
        """The ingest function's /tmp: the spooled object and, next to it, the curated
        Parquet, its rewrite when repeated keys are dropped and the key index's spill
        (together under the object's size again), and a margin."""
        return min(LAMBDA_MAX_STORAGE_MIB, 2 * self.large_file_threshold_mib + 512)


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
            override = json.loads(override)  # -c driftline:<key>='{...}'
        if override is not None:
            values[field] = override
    values.setdefault("account", account)
    values.setdefault("region", region)
    return StageConfig.model_validate(values)
