"""Card transactions: the training set (with the fraud label) and the batches to score."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from driftline_runtime.contracts import DatasetSpec, QualitySettings, RealtimeSettings, TableRules
from pydantic import BaseModel, Field

Country = Literal["DE", "FR", "NL", "ES", "IT", "GB", "US", "CA", "PL", "SE", "BR", "IN"]
MerchantCategory = Literal[
    "grocery",
    "electronics",
    "travel",
    "restaurant",
    "fuel",
    "fashion",
    "health",
    "entertainment",
    "transport",
    "other",
]


class TransactionFeatures(BaseModel):
    transaction_id: str = Field(pattern=r"^t-[0-9a-f]{12}$")
    event_time: datetime
    card_id: str = Field(pattern=r"^c-\d{6}$")
    customer_email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")
    customer_age: int = Field(ge=18, le=110)
    customer_tenure_days: int = Field(ge=0, le=36500)
    amount: float = Field(gt=0, le=50_000)
    currency: Literal["EUR", "USD", "GBP"]
    merchant_id: str = Field(pattern=r"^m-\d{5}$")
    merchant_category: MerchantCategory
    country: Country
    channel: Literal["pos", "online", "atm"]
    card_present: bool
    hour_of_day: int = Field(ge=0, le=23)
    distance_from_home_km: float = Field(ge=0, le=20_000)
    transactions_last_24h: int = Field(ge=0, le=1_000)
    amount_avg_30d: float = Field(ge=0, le=50_000)
    amount_ratio_to_avg: float = Field(ge=0)
    failed_logins_24h: int = Field(ge=0, le=100)
    device_trust_score: float | None = Field(default=None, ge=0, le=1)


class LabelledTransaction(TransactionFeatures):
    is_fraud: int = Field(ge=0, le=1)


class TransactionOutcome(BaseModel):
    """What was learnt of a scored transaction later: fraud or not (a chargeback)."""

    transaction_id: str = Field(pattern=r"^t-[0-9a-f]{12}$")
    is_fraud: int = Field(ge=0, le=1)


DATASETS = (
    DatasetSpec(
        name="transactions",
        kind="training",
        contract=LabelledTransaction,
        contract_version="1.0.0",
        id_column="transaction_id",
        problem="binary",
        target="is_fraud",
        time_column="event_time",
        primary_metric="auc",
        approval_minimum=0.7,
        pii_columns=("card_id", "customer_email"),
        row_policy="drop_bad_rows",
        rules=TableRules(
            unique_key=("transaction_id",),
            min_rows=5,
            max_bad_row_share=0.05,
        ),
        # Approved models serve on a real-time endpoint. The sample's canary is short so
        # that the demo shows a deployment and a rollback in a minute; a production
        # dataset bakes its canary for minutes (the defaults).
        # Captured requests become batches of scoring, so live traffic is drift-monitored.
        realtime=RealtimeSettings(
            canary_percent=20,
            canary_wait_seconds=30,
            termination_wait_seconds=10,
            capture_dataset="scoring",
        ),
    ),
    DatasetSpec(
        name="scoring",
        kind="inference",
        contract=TransactionFeatures,
        contract_version="1.0.0",
        model_dataset="transactions",
        id_column="transaction_id",
        time_column="event_time",
        pii_columns=("card_id", "customer_email"),
        row_policy="drop_bad_rows",
        rules=TableRules(
            unique_key=("transaction_id",),
            min_rows=1,
            max_bad_row_share=0.05,
            freshness_column="event_time",
            max_age=timedelta(days=3650),
        ),
    ),
    DatasetSpec(
        name="scoring-labels",
        kind="labels",
        contract=TransactionOutcome,
        contract_version="1.0.0",
        labels_for="scoring",
        id_column="transaction_id",
        target="is_fraud",
        # Two points of AUC lost on a few hundred outcomes is already money lost on fraud.
        quality=QualitySettings(max_drop=0.02, min_labelled_rows=200),
        # A repeated id is reported by the join and counted once, not a reason to reject.
        row_policy="drop_bad_rows",
        rules=TableRules(min_rows=1, max_bad_row_share=0.05),
    ),
)
