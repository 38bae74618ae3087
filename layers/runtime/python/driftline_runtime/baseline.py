"""The training baseline: what a scoring batch's drift is measured against.

The training job writes it as ``baseline.json`` inside the model (``training/``, which
runs without this layer, builds the same document as plain JSON); the register function
copies it next to the model, batch inference reads the model's feature order from it and
the drift monitor compares each batch with it. This model is the document's one schema;
a unit test validates a real training job's output against it.

Numeric features (and a binary or regression model's prediction) are profiled by deciles
of the train split: bins are right-closed with open ends,
``(-inf, e0], (e0, e1], ..., (e_last, +inf)``, and the bin of a value ``v`` is
``numpy.searchsorted(bin_edges, v, side="left")``. Categorical and boolean features (and
a multiclass model's predicted classes) list the share of each category among all rows,
with every rarer category under ``__other__`` and missing values under ``__null__``.
``problem`` and ``classes`` say what the model predicts; a baseline
without them is a binary model's.

Version 2 (``names.BASELINE_SCHEMA_VERSION``) only adds keys, which the drift monitor's
tests need: every profile's ``rows`` (nulls included), each numeric profile's
``quantiles`` (the training values, or a sketch of at most 1,000 quantiles of them) and
the prediction profile's ``split`` (``test``: profiled on rows the model did not learn
from). A version 1 baseline, as models trained before it carry, still validates and
still gets a drift verdict.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from driftline_runtime import names


class _Document(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NumericProfile(_Document):
    """Decile bins, moments, the null share and (v2) a quantile sketch of one numeric column."""

    kind: Literal["numeric"]
    rows: int | None = Field(default=None, ge=0, description="rows profiled, nulls included (v2)")
    count: int = Field(ge=0, description="non-null values")
    null_share: float = Field(ge=0, le=1, description="share of all rows that are null")
    bin_edges: list[float] = Field(description="deciles, deduplicated, increasing")
    bin_shares: list[float] = Field(
        description="len(bin_edges) + 1 shares of the non-null values; they sum to 1"
    )
    # All None when the column has no non-null value; std is the population's (ddof=0).
    mean: float | None
    std: float | None
    min: float | None
    max: float | None
    quantiles: list[float] | None = Field(
        default=None,
        max_length=names.BASELINE_SKETCH_SIZE,
        description="v2: the non-null values sorted, or BASELINE_SKETCH_SIZE quantiles",
    )

    @model_validator(mode="after")
    def _bins_fit_their_edges(self) -> NumericProfile:
        if self.bin_shares and len(self.bin_shares) != len(self.bin_edges) + 1:
            raise ValueError("bin_shares must have len(bin_edges) + 1 entries")
        if any(low >= high for low, high in zip(self.bin_edges, self.bin_edges[1:], strict=False)):
            raise ValueError("bin_edges must increase")
        if self.quantiles is not None:
            if any(
                low > high for low, high in zip(self.quantiles, self.quantiles[1:], strict=False)
            ):
                raise ValueError("quantiles must be sorted")
            if len(self.quantiles) > self.count:
                raise ValueError("quantiles cannot outnumber the non-null values")
        return self


class CategoricalProfile(_Document):
    """Category shares of one categorical (or boolean: ``false``/``true``) column."""

    kind: Literal["categorical", "boolean"]
    rows: int | None = Field(default=None, ge=0, description="rows profiled, nulls included (v2)")
    count: int = Field(ge=0, description="non-null values")
    null_share: float = Field(ge=0, le=1)
    distinct: int = Field(ge=0, description="distinct non-null categories")
    frequencies: dict[str, float] = Field(
        description="shares of all rows, summing to 1, with __other__ and __null__ always listed"
    )

    @model_validator(mode="after")
    def _other_and_null_are_listed(self) -> CategoricalProfile:
        missing = {names.OTHER_CATEGORY, names.NULL_CATEGORY} - set(self.frequencies)
        if missing:
            raise ValueError(f"frequencies lack {sorted(missing)}")
        return self


class PredictionProfile(NumericProfile):
    """The predicted probability's (binary) or value's (regression) profile; v2 names the
    split it was profiled on."""

    split: str | None = Field(
        default=None,
        description="v2: the held-out split (v1: absent, the predictions of the train split)",
    )


class ClassPredictionProfile(CategoricalProfile):
    """A multiclass model's predicted classes, every class listed, on the held-out split."""

    split: str | None = None


AnyPredictionProfile = Annotated[
    PredictionProfile | ClassPredictionProfile, Field(discriminator="kind")
]
FeatureProfile = Annotated[NumericProfile | CategoricalProfile, Field(discriminator="kind")]


class Binning(_Document):
    """How the numeric profiles were binned (``bins`` and ``assign`` say it in words)."""

    quantiles: list[float]
    bins: str | None = None
    assign: str | None = None


class Baseline(_Document):
    """``baseline.json``: the train split's feature profiles and prediction distribution."""

    schema_version: Literal[1, 2]
    split: str
    rows: int = Field(gt=0)
    # The train split's share of the positive class (binary models only).
    positive_rate: float | None = Field(default=None, ge=0, le=1)
    # Absent in baselines from before problem types: binary.
    problem: Literal["binary", "multiclass", "regression"] = "binary"
    classes: list[str] | None = Field(default=None, description="multiclass: the model's order")
    target_column: str
    id_column: str
    feature_columns: list[str] = Field(min_length=1, description="the model's input order")
    binning: Binning
    features: dict[str, FeatureProfile]
    prediction: AnyPredictionProfile = Field(
        description="the profile of what the model predicts (names.drift_column)"
    )

    @model_validator(mode="after")
    def _prediction_fits_the_problem(self) -> Baseline:
        categorical = isinstance(self.prediction, ClassPredictionProfile)
        if categorical != (self.problem == "multiclass"):
            raise ValueError(f"a {self.problem} model's prediction profile is of the wrong kind")
        if self.problem == "multiclass" and not self.classes:
            raise ValueError("a multiclass baseline lists its classes")
        if self.problem == "binary" and self.positive_rate is None:
            raise ValueError("a binary baseline gives the positive rate")
        return self

    @model_validator(mode="after")
    def _every_feature_is_profiled(self) -> Baseline:
        if list(self.features) != self.feature_columns:
            raise ValueError("features must profile exactly the feature_columns, in order")
        return self

    @model_validator(mode="after")
    def _version_2_has_what_drift_tests(self) -> Baseline:
        if self.schema_version == 1:  # version 1 lacks these keys
            return self
        profiles = {**self.features, names.PREDICTION_FEATURE: self.prediction}
        lacking = sorted(name for name, profile in profiles.items() if profile.rows is None)
        if lacking:
            raise ValueError(
                f"a version 2 baseline gives rows for every profile; {lacking} lack it"
            )
        lacking = sorted(
            name
            for name, profile in profiles.items()
            if isinstance(profile, NumericProfile) and profile.quantiles is None
        )
        if lacking:
            raise ValueError(f"a version 2 baseline keeps quantiles of {lacking}")
        if self.prediction.split is None:
            raise ValueError("a version 2 baseline says the prediction's split")
        return self
