"""Units sold per store and day: a regression example (the training set with the units
sold, the store-days to forecast, and the units they then sold: the labels that measure
the forecast), trained with XGBoost. Its integer key exercises integer unique keys."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from driftline_runtime.contracts import DatasetSpec, QualitySettings, TableRules, TrainingSpec
from pydantic import BaseModel, Field


class StoreDay(BaseModel):
    sale_id: int = Field(ge=1)
    sale_date: datetime
    store_id: str = Field(pattern=r"^st-\d{3}$")
    region: Literal["north", "south", "east", "west"]
    store_size_sqm: float = Field(ge=100, le=5_000)
    price: float = Field(gt=0, le=100)
    discount: float = Field(ge=0, le=0.5)
    promotion: bool
    holiday: bool
    temperature_c: float = Field(ge=-20, le=40)
    competitor_distance_km: float | None = Field(default=None, ge=0, le=100)


class StoreDaySales(StoreDay):
    units_sold: float = Field(ge=0)


class StoreDayOutcome(BaseModel):
    """The units a forecast store-day sold, known once the day is over."""

    sale_id: int = Field(ge=1)
    units_sold: float = Field(ge=0)


DATASETS = (
    DatasetSpec(
        name="store-sales",
        kind="training",
        contract=StoreDaySales,
        contract_version="1.0.0",
        id_column="sale_id",
        problem="regression",
        target="units_sold",
        time_column="sale_date",
        # A store's id names a place, not something a model should learn; its size and
        # region describe it.
        exclude_columns=("store_id",),
        primary_metric="rmse",
        # XGBoost, in SageMaker's XGBoost container (the other examples use scikit-learn).
        training=TrainingSpec(algorithm="xgboost", hyperparameters={"max_iter": 200}),
        row_policy="drop_bad_rows",
        rules=TableRules(unique_key=("sale_id",), min_rows=50, max_bad_row_share=0.05),
    ),
    DatasetSpec(
        name="store-sales-batches",
        kind="inference",
        contract=StoreDay,
        contract_version="1.0.0",
        model_dataset="store-sales",
        id_column="sale_id",
        time_column="sale_date",
        exclude_columns=("store_id",),
        row_policy="drop_bad_rows",
        rules=TableRules(
            unique_key=("sale_id",),
            max_bad_row_share=0.05,
            freshness_column="sale_date",
            max_age=timedelta(days=3650),
        ),
    ),
    DatasetSpec(
        name="store-sales-labels",
        kind="labels",
        contract=StoreDayOutcome,
        contract_version="1.0.0",
        labels_for="store-sales-batches",
        id_column="sale_id",
        target="units_sold",
        # RMSE 15% above the forecast's test RMSE, on at least 100 store-days.
        quality=QualitySettings(max_error_increase=0.15, min_labelled_rows=100),
        row_policy="drop_bad_rows",
        rules=TableRules(min_rows=1, max_bad_row_share=0.05),
    ),
)
