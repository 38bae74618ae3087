"""The drawn rows as the contract's columns: identifiers, codes and labels."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from driftline.samples.cards import Cards
from driftline.samples.parameters import (
    CATEGORIES,
    CHANNELS,
    COUNTRIES,
    COUNTRY_CURRENCY,
    CURRENCIES,
    SCHEMA,
    Ints,
    codes,
)
from driftline.samples.rows import Rows


def columns_of(rows: Rows, cards: Cards, seconds: Ints) -> dict[str, pa.Array]:
    return {
        "event_time": pa.array(seconds * 1_000_000, type=SCHEMA.field("event_time").type),
        "card_id": cards.card_id.take(rows.card),
        "customer_email": cards.email.take(rows.card),
        "customer_age": pa.array(cards.age[rows.card]),
        "customer_tenure_days": pa.array(cards.tenure_days[rows.card]),
        "amount": pa.array(rows.amount),
        "currency": _labels(CURRENCIES, COUNTRY_CURRENCY[rows.country]),
        "merchant_id": codes("m-", rows.merchant, 5, 10),
        "merchant_category": _labels(CATEGORIES, rows.category),
        "country": _labels(COUNTRIES, rows.country),
        "channel": _labels(CHANNELS, rows.channel),
        "card_present": pa.array(rows.card_present),
        "hour_of_day": pa.array(rows.hour),
        "distance_from_home_km": pa.array(rows.distance_km),
        "transactions_last_24h": pa.array(rows.transactions_24h),
        "amount_avg_30d": pa.array(cards.amount_avg_30d[rows.card]),
        "amount_ratio_to_avg": pa.array(rows.amount_ratio),
        "failed_logins_24h": pa.array(rows.failed_logins),
        "device_trust_score": pa.array(rows.trust, from_pandas=True),
    }


def transaction_ids(seed: int, rows: int, drift: float) -> pa.Array:
    # Unique within a file: drawn without replacement. Keyed by every argument that
    # shapes the rows, not the seed alone, or a training file and a drifted scoring file
    # made with one seed would share ids.
    key = (seed, rows, round(drift * 1_000_000))
    numbers = np.random.default_rng(key).choice(2**48, size=rows, replace=False)
    return codes("t-", numbers.astype(np.int64), 12, 16)


def _labels(names: tuple[str, ...], index: Ints) -> pa.Array:
    return pa.array(names).take(pa.array(index))
