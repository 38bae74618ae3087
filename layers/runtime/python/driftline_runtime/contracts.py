"""Data contracts: how a dataset is declared once and checked on every arrival.

A contract is a pydantic model whose fields say the columns, their types and their
constraints (``Field(ge=0)``, ``Literal[...]`` for enums, ``pattern=...``, ``X | None``
for a nullable column). The validator derives vectorised checks from the model; rows
are never built as model instances. Table-level rules that no field can express
(a unique key, a minimum number of rows, the share of bad rows tolerated, freshness)
live in :class:`TableRules`. A :class:`DatasetSpec` ties both to a dataset name, with
the ML problem a training dataset poses (``problem``, ``target``, ``features``,
``time_column``, ``primary_metric``, ``approval_minimum``), the settings of the drift
verdicts on its batches (:class:`DriftSettings`) and, for a training dataset, of its
real-time endpoint (:class:`RealtimeSettings`).

The model's features come from the contract, never from the file: ``features`` names them,
or by default every declared column but the id, the target, the time column, the PII
columns and ``exclude_columns``. A column a file carries that the contract does not declare
is never a feature (it could be another model's score, or the label itself).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import PurePosixPath
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from driftline_runtime import names

DatasetKind = Literal["training", "inference", "labels"]
RowPolicy = Literal["drop_bad_rows", "reject_file"]


class HasColumns(Protocol):
    """A table (a pyarrow.Table) as far as its column names go."""

    @property
    def column_names(self) -> list[str]: ...


ProblemType = Literal["binary", "multiclass", "regression"]
MetricDirection = Literal["higher", "lower"]

# The primary metric and approval minimum a training dataset gets when it names none.
# A regression metric (RMSE) is in the target's own units, so no minimum fits every
# dataset: a regression model is held to its champion alone unless the spec sets one.
DEFAULT_PRIMARY_METRIC: dict[str, str] = {
    "binary": names.AUC_MEASURE,
    "multiclass": names.MACRO_F1_MEASURE,
    "regression": names.RMSE_MEASURE,
}
DEFAULT_APPROVAL_MINIMUM: dict[str, float | None] = {
    "binary": 0.6,  # ROC AUC: 0.5 is a coin toss
    "multiclass": 0.3,  # macro F1: a third of the classes' F1, on average, above nothing
    "regression": None,
}


class TableRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    unique_key: tuple[str, ...] = ()
    min_rows: int = Field(default=1, ge=0)
    # Share of rows that may fail their field rules. Under the "drop_bad_rows" policy
    # bad rows are dropped while their share stays at or below it; above it, or under
    # "reject_file" with any bad row, the whole file is rejected.
    max_bad_row_share: float = Field(default=0.0, ge=0.0, le=1.0)
    freshness_column: str | None = None
    max_age: timedelta | None = None

    @model_validator(mode="after")
    def _freshness_is_complete(self) -> TableRules:
        if (self.freshness_column is None) != (self.max_age is None):
            raise ValueError("freshness_column and max_age go together")
        return self


class DriftSettings(BaseModel):
    """How the drift monitor judges a scored batch of this dataset (see
    ``driftline_runtime.drift``); read from the inference dataset being scored."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # The share of batches drawn like the training data that may be called drifted:
    # the chance that any feature (or the prediction) of a clean batch is flagged,
    # held by Holm's procedure across all of them. Each false alarm costs a retraining.
    false_alarm_rate: float = Field(default=0.01, gt=0.0, le=0.2)
    # A batch with fewer rows gets the outcome "insufficient_rows": no verdict, no
    # retraining. At 50 rows every training decile expects five batch rows, what
    # Pearson's chi-square approximation asks for.
    min_rows: int = Field(default=50, ge=1)
    # The effect-size floor: a feature whose PSI stays below it is not drifted however
    # significant the test, so a batch of millions of rows does not retrain on a
    # negligible shift (0.1 is where the usual rule of thumb starts to call PSI a change).
    min_psi: float = Field(default=0.1, ge=0.0)


# Hyperparameters the prepare step sets from the spec itself; a dataset cannot set them.
RESERVED_HYPERPARAMETERS = frozenset(
    {"problem", "algorithm", "target_column", "id_column", "features", "exclude_columns"}
)


# SageMaker script mode's usual name for a training script.
DEFAULT_ENTRY_POINT = "train.py"


class TrainingSpec(BaseModel):
    """How a training dataset's model is trained: the algorithm and its hyperparameters
    (the training script's names, ``training/sklearn_classifier/hyperparameters.py``;
    they override the stage's, and an unknown one fails the job with its name).

    Or the dataset's own training code: ``source_dir`` names a folder with the entry
    script (``entry_point``) and the serving code (``inference.py``), run in script mode
    in the framework image of ``algorithm`` instead of driftline's trainer; it gets only
    the spec's hyperparameters besides the reserved ones. Synth checks that the folder
    and its scripts exist (``driftline_runtime.training_code``); README: "Your own
    training code".
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    # scikit-learn's histogram gradient boosting in SageMaker's scikit-learn container,
    # or XGBoost in SageMaker's XGBoost container (the same script-mode entry points).
    # With source_dir: the container the dataset's own code runs in.
    algorithm: Literal["hist_gradient_boosting", "xgboost"] = "hist_gradient_boosting"
    hyperparameters: dict[str, str | int | float | bool] = Field(default_factory=dict)
    # The dataset's own training code: a folder, relative to the project (the folder of
    # cdk.json) or absolute. None: driftline's trainer (training/).
    source_dir: str | None = Field(default=None, min_length=1)
    # The training script inside source_dir, as SageMaker's script mode names it.
    entry_point: str = DEFAULT_ENTRY_POINT

    @model_validator(mode="after")
    def _entry_point_in_source_dir(self) -> TrainingSpec:
        if self.entry_point != DEFAULT_ENTRY_POINT and self.source_dir is None:
            raise ValueError(
                "entry_point names a script of the dataset's own training code: set "
                "source_dir to its folder too (driftline's trainer has its own)"
            )
        entry = PurePosixPath(self.entry_point)
        if entry.is_absolute() or ".." in entry.parts or entry.suffix != ".py":
            raise ValueError(
                f"entry_point {self.entry_point!r} must be a .py file inside source_dir, "
                "given relative to it (for example 'train.py')"
            )
        return self

    @model_validator(mode="after")
    def _no_reserved_names(self) -> TrainingSpec:
        reserved = sorted(
            name
            for name in self.hyperparameters
            if name in RESERVED_HYPERPARAMETERS or name.startswith("sagemaker_")
        )
        if reserved:
            raise ValueError(
                f"hyperparameters {reserved} come from the spec itself (problem, algorithm, "
                "target, id_column, features) or from SageMaker; set those fields instead"
            )
        return self

    def as_strings(self) -> dict[str, str]:
        """As CreateTrainingJob takes them: every value a string (booleans lower case)."""
        return {
            name: str(value).lower() if isinstance(value, bool) else str(value)
            for name, value in self.hyperparameters.items()
        }


class QualitySettings(BaseModel):
    """When labels say a deployed model has degraded (a labels dataset's setting)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # How far a primary metric where higher is better (AUC, macro F1, accuracy, R2) may
    # fall below the model's own test metric, absolute (AUC 0.86 -> 0.81 at 0.05),
    # before ModelQualityDegraded...
    max_drop: float = Field(default=0.05, ge=0.0)
    # ...and the share by which an error metric (RMSE, MAE, log loss: lower is better,
    # in the target's units) may exceed it (RMSE 10 -> 11 at 0.1).
    max_error_increase: float = Field(default=0.1, ge=0.0)
    # Fewer labelled rows of a batch say too little: no verdict. At 200 rows and a few
    # percent positives an AUC still moves by several hundredths from noise alone.
    min_labelled_rows: int = Field(default=200, ge=1)


class TrainingWindow(BaseModel):
    """Which validated versions of a training dataset a training run learns from.

    Neither set (the default): the champion's versions plus every version validated
    since, so a retraining keeps what the champion knew and adds what is new; without a
    champion, the version that started the run. ``last_versions`` and ``last_days`` take
    the newest N versions, or those validated in the last D days (both: a version must
    meet both). The version that started the run is always in the window. Rows are
    deduplicated by id, the newest version's row winning.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    last_versions: int | None = Field(default=None, ge=1)
    last_days: int | None = Field(default=None, ge=1)


class RealtimeSettings(BaseModel):
    """A real-time endpoint for a training dataset's approved models (opt in by setting
    ``DatasetSpec.realtime``): how it is sized, deployed, guarded and captured.

    Each approved model goes out blue/green: ``canary_percent`` of the traffic for
    ``canary_wait_seconds``, then all of it, the old fleet kept ``termination_wait_seconds``
    more; through all of it the endpoint's alarms (server errors above
    ``max_server_errors`` per alarm period, p99 model latency above ``max_latency_ms``,
    and where labels measure the batches its models score, their measured quality)
    roll the deployment back. ``capture_percent`` of the requests and answers are
    captured to S3 (KMS-encrypted); with ``capture_dataset`` (an inference dataset this
    one's models score) the captured rows are dropped as that dataset's batches every
    stage's capture window, so drift monitoring judges live traffic as it judges batch
    data. A stage may serve them serverless instead
    (``realtime_serverless``): then ``serverless_*`` size it, traffic shifts all at
    once (what serverless supports) and nothing is captured.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    instance_type: str = Field(default="ml.m5.large", pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    instance_count: int = Field(default=1, ge=1, le=100)
    canary_percent: int = Field(default=10, ge=1, le=50)
    canary_wait_seconds: int = Field(default=600, ge=0, le=3600)
    termination_wait_seconds: int = Field(default=300, ge=0, le=3600)
    max_server_errors: int = Field(default=0, ge=0)
    max_latency_ms: int = Field(default=1000, gt=0)
    capture_percent: int = Field(default=20, ge=0, le=100)
    capture_dataset: str | None = None
    serverless_memory_mb: Literal[1024, 2048, 3072, 4096, 5120, 6144] = 2048
    serverless_max_concurrency: int = Field(default=5, ge=1, le=200)


class DatasetSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    # Lower-case letters, digits and hyphens, short: the name becomes part of S3 keys,
    # SageMaker job, model and model package group names (which allow no "_", 63 chars).
    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,30}$")
    kind: DatasetKind
    contract: type[BaseModel]
    # Bump when the contract changes; every manifest and report records it.
    contract_version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    id_column: str
    # -- the ML problem (training datasets; an inference dataset takes its model's) -----
    problem: ProblemType | None = None  # a training dataset without one is "binary"
    # The label column. binary: 0/1, booleans or two labels; multiclass: integers or
    # strings; regression: numbers.
    target: str | None = None
    # The model's input columns in order; None: every declared column but the id, the
    # target, the time column, the PII columns and exclude_columns.
    features: tuple[str, ...] | None = None
    exclude_columns: tuple[str, ...] = ()
    # The column that says when a row happened (any name); never a feature.
    time_column: str | None = None
    # A measure of driftline_runtime.names.MEASURES fit for the problem, measured on the
    # held-out test split; its direction is names.MEASURE_DIRECTIONS'. None: the
    # problem's default (DEFAULT_PRIMARY_METRIC).
    primary_metric: str | None = None
    # The worst primary metric a model may have and be approved: at least this when
    # higher is better, at most this when lower is better. Left out: the problem's
    # default (DEFAULT_APPROVAL_MINIMUM); None: no bound, only the champion's margin.
    approval_minimum: float | None = None
    # Training datasets: the algorithm and hyperparameters of their models.
    training: TrainingSpec = TrainingSpec()
    pii_columns: tuple[str, ...] = ()
    # CSV specifics; Parquet and JSON Lines carry their own structure.
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    row_policy: RowPolicy = "reject_file"
    rules: TableRules = TableRules()
    # Inference datasets only: the training dataset whose approved models score this one
    # (its model package group) and whose baseline its drift is measured against.
    model_dataset: str | None = None
    drift: DriftSettings = DriftSettings()
    # Training datasets: the versions a training run learns from.
    training_window: TrainingWindow = TrainingWindow()
    # Labels datasets only: the inference dataset whose scored rows they label (joined
    # by id_column; target holds the outcome), and when its model counts as degraded.
    labels_for: str | None = None
    quality: QualitySettings = QualitySettings()
    # Training datasets only: serve the approved models on a real-time endpoint.
    realtime: RealtimeSettings | None = None

    @model_validator(mode="before")
    @classmethod
    def _problem_defaults(cls, data: object) -> object:
        """A training dataset's problem, primary metric and approval minimum, when unset."""
        if not isinstance(data, dict) or data.get("kind") != "training":
            return data
        filled = dict(data)
        problem = filled.setdefault("problem", "binary")
        if problem in DEFAULT_PRIMARY_METRIC:
            filled.setdefault("primary_metric", DEFAULT_PRIMARY_METRIC[problem])
            filled.setdefault("approval_minimum", DEFAULT_APPROVAL_MINIMUM[problem])
        return filled

    @model_validator(mode="after")
    def _columns_exist(self) -> DatasetSpec:
        columns = set(self.contract.model_fields)
        named = {
            "id_column": [self.id_column],
            "target": [self.target] if self.target else [],
            "features": list(self.features or ()),
            "exclude_columns": list(self.exclude_columns),
            "time_column": [self.time_column] if self.time_column else [],
            "pii_columns": list(self.pii_columns),
            "unique_key": list(self.rules.unique_key),
            "freshness_column": [self.rules.freshness_column]
            if self.rules.freshness_column
            else [],
        }
        for setting, columns_named in named.items():
            missing = [name for name in columns_named if name not in columns]
            if missing:
                raise ValueError(f"{setting} names columns the contract lacks: {missing}")
        if self.kind == "training" and not self.target:
            raise ValueError("a training dataset needs a target column")
        if self.kind == "inference" and not self.model_dataset:
            raise ValueError("an inference dataset needs model_dataset: the models that score it")
        if self.kind == "training" and self.model_dataset:
            raise ValueError("model_dataset is for inference datasets only")
        if self.kind == "labels" and not (self.labels_for and self.target):
            raise ValueError(
                "a labels dataset needs labels_for (the inference dataset it labels) and a "
                "target column (the outcome)"
            )
        if self.kind != "labels" and self.labels_for:
            raise ValueError("labels_for is for labels datasets only")
        self._check_features()
        self._check_problem()
        if self.kind != "training" and self.realtime is not None:
            raise ValueError(
                "realtime is for training datasets only: the endpoint serves their models"
            )
        return self

    def _check_features(self) -> None:
        if self.features is None:
            return
        if not self.features:
            raise ValueError("features is empty: name at least one column, or leave it out")
        if len(set(self.features)) != len(self.features):
            raise ValueError(f"features names a column twice: {list(self.features)}")
        roles = {
            "the id column": {self.id_column},
            "the target": {self.target} if self.target else set(),
            "the time column": {self.time_column} if self.time_column else set(),
            "a PII column": set(self.pii_columns),
            "an excluded column": set(self.exclude_columns),
        }
        for role, held in roles.items():
            clash = [column for column in self.features if column in held]
            if clash:
                raise ValueError(f"features names {role}, which is never a feature: {clash}")

    def _check_problem(self) -> None:
        if self.kind != "training":
            settings = ("problem", "primary_metric", "approval_minimum", "training")
            set_here = [name for name in settings if name in self.model_fields_set]
            if set_here:
                raise ValueError(
                    f"{', '.join(set_here)} belong to the training dataset (model_dataset "
                    f"{self.model_dataset!r}); an inference dataset's model brings them"
                )
            return
        if not self.feature_columns:
            raise ValueError("the contract leaves no feature column (see features)")
        problem = self.problem or "binary"
        fitting = names.PROBLEM_MEASURES[problem]
        if self.primary_metric not in fitting:
            raise ValueError(
                f"primary_metric {self.primary_metric!r} does not measure a {problem} "
                f"model; one of {', '.join(fitting)}"
            )

    @property
    def columns(self) -> list[str]:
        return list(self.contract.model_fields)

    def undeclared(self, table: HasColumns) -> list[str]:
        """The table's columns that the contract does not declare, in the table's order."""
        declared = set(self.columns)
        return [name for name in table.column_names if name not in declared]

    @property
    def feature_columns(self) -> list[str]:
        """The model's input columns, in order (see ``features``)."""
        if self.features is not None:
            return list(self.features)
        never = {
            self.id_column,
            *([self.target] if self.target else []),
            *([self.time_column] if self.time_column else []),
            *self.pii_columns,
            *self.exclude_columns,
        }
        return [column for column in self.columns if column not in never]

    @property
    def metric_direction(self) -> MetricDirection:
        """Whether a higher or a lower primary metric is better."""
        measure = self.primary_metric or names.AUC_MEASURE
        return names.MEASURE_DIRECTIONS[measure]

    @property
    def primary_metric_name(self) -> str:
        """The primary metric as the training job reports it (``test:auc``)."""
        measure = self.primary_metric or names.AUC_MEASURE
        return names.training_metric(names.HELD_OUT_SPLIT, measure)
