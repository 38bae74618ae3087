"""Data contracts: how a dataset is declared once and checked on every arrival.

A contract is a pydantic model whose fields say the columns, their types and their
constraints (``Field(ge=0)``, ``Literal[...]`` for enums, ``pattern=...``, ``X | None``
for a nullable column). The validator derives vectorised checks from the model; rows
are never built as model instances. Table-level rules that no field can express
(a unique key, a minimum number of rows, the share of bad rows tolerated, freshness)
live in :class:`TableRules`. A :class:`DatasetSpec` ties both to a dataset name, with
the settings of the drift verdicts on its batches (:class:`DriftSettings`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DatasetKind = Literal["training", "inference"]
RowPolicy = Literal["drop_bad_rows", "reject_file"]


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
    target: str | None = None
    pii_columns: tuple[str, ...] = ()
    # CSV specifics; Parquet and JSON Lines carry their own structure.
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    row_policy: RowPolicy = "reject_file"
    rules: TableRules = TableRules()
    # Inference datasets only: the training dataset whose approved models score this one
    # (its model package group) and whose baseline its drift is measured against.
    model_dataset: str | None = None
    drift: DriftSettings = DriftSettings()

    @model_validator(mode="after")
    def _columns_exist(self) -> DatasetSpec:
        columns = set(self.contract.model_fields)
        named = {
            "id_column": [self.id_column],
            "target": [self.target] if self.target else [],
            "pii_columns": list(self.pii_columns),
            "unique_key": list(self.rules.unique_key),
            "freshness_column": [self.rules.freshness_column]
            if self.rules.freshness_column
            else [],
        }
        for setting, names in named.items():
            missing = [name for name in names if name not in columns]
            if missing:
                raise ValueError(f"{setting} names columns the contract lacks: {missing}")
        if self.kind == "training" and not self.target:
            raise ValueError("a training dataset needs a target column")
        if self.kind == "inference" and not self.model_dataset:
            raise ValueError("an inference dataset needs model_dataset: the models that score it")
        if self.kind == "training" and self.model_dataset:
            raise ValueError("model_dataset is for inference datasets only")
        return self

    @property
    def columns(self) -> list[str]:
        return list(self.contract.model_fields)
