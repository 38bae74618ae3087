"""The cards (customers) transactions are drawn for: age, tenure, home country, e-mail."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from driftline.samples.parameters import (
    COUNTRIES,
    EMAIL_DOMAINS,
    FIRST_NAMES,
    HOME_SHARE,
    HOME_SHARE_DRIFTED,
    LAST_NAMES,
    MAX_AGE,
    MAX_AMOUNT,
    MAX_TENURE_DAYS,
    MIN_AGE,
    Floats,
    Ints,
    blend,
    codes,
)


@dataclass(frozen=True)
class Cards:
    card_id: pa.Array
    email: pa.Array
    home: Ints
    age: Ints
    tenure_days: Ints
    amount_avg_30d: Floats
    daily_rate: Floats
    activity: Floats


def card_pool_size(rows: int) -> int:
    # About six transactions per card in the window, so cards repeat.
    return max(1, min(rows // 6, 250_000))


def draw_cards(rng: np.random.Generator, count: int, drift: float) -> Cards:
    numbers = rng.choice(1_000_000, size=count, replace=False).astype(np.int64)
    home = rng.choice(len(COUNTRIES), size=count, p=blend(HOME_SHARE, HOME_SHARE_DRIFTED, drift))
    # Drift makes customers younger (mean about 46 -> 33 after clipping at 18).
    age_years = rng.normal(46.0 - 14.0 * drift, 15.0, size=count)
    age = np.clip(np.rint(age_years), MIN_AGE, MAX_AGE).astype(np.int64)
    # Tenure is capped by adulthood: nobody has held a card since before 18.
    tenure = np.minimum(rng.exponential(4.0 * 365, size=count), (age - MIN_AGE) * 365 + 30)
    tenure_days = np.clip(np.rint(tenure), 0, MAX_TENURE_DAYS).astype(np.int64)
    spend = rng.lognormal(np.log(55.0) + 0.2 * drift, 0.6, size=count)
    amount_avg_30d = np.clip(np.round(spend, 2), 1.0, MAX_AMOUNT)
    return Cards(
        card_id=codes("c-", numbers, 6, 10),
        email=_emails(rng, count, missing_share=0.07 + 0.05 * drift),
        home=home.astype(np.int64),
        age=age,
        tenure_days=tenure_days,
        amount_avg_30d=amount_avg_30d,
        daily_rate=rng.gamma(2.0, 1.2, size=count) * (1.0 + 0.8 * drift),
        # Heavy-tailed activity: a few cards make many of the transactions.
        activity=rng.gamma(0.8, 1.0, size=count),
    )


def _emails(rng: np.random.Generator, count: int, missing_share: float) -> pa.Array:
    first = pa.array(FIRST_NAMES).take(rng.integers(0, len(FIRST_NAMES), size=count))
    last = pa.array(LAST_NAMES).take(rng.integers(0, len(LAST_NAMES), size=count))
    domain = pa.array(EMAIL_DOMAINS).take(rng.integers(0, len(EMAIL_DOMAINS), size=count))
    number = pc.cast(pa.array(rng.integers(1, 100, size=count)), pa.string())
    number = pc.if_else(pa.array(rng.random(count) < 0.6), number, "")
    email = pc.binary_join_element_wise(first, ".", last, number, "@", domain, "")
    missing = pa.array(rng.random(count) < missing_share)
    return pc.if_else(missing, pa.scalar(None, pa.string()), email)
