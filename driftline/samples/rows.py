"""One row per transaction, drawn for the cards: category, channel, place, amount, logins,
device trust, merchant and time, and the fraud label from a noisy logistic model."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

import numpy as np

from driftline.samples.cards import Cards
from driftline.samples.parameters import (
    ABROAD_SHARE,
    ABROAD_SHARE_DRIFTED,
    ATM,
    CATEGORIES,
    CATEGORY_AMOUNT_SIGMA,
    CATEGORY_MEDIAN_AMOUNT,
    CATEGORY_SHARE,
    CATEGORY_SHARE_DRIFTED,
    CENTROIDS,
    CHANNEL_SHARE,
    CHANNEL_SHARE_DRIFTED,
    CONCEPT_CATEGORIES,
    CONCEPT_TARGETED_WEIGHT,
    CONCEPT_WEIGHTS,
    COUNTRIES,
    FAILED_LOGINS_CAP_IN_MODEL,
    FRAUD_INTERCEPT,
    FRAUD_NOISE,
    FRAUD_WEIGHTS,
    HOUR_WEIGHT_ONLINE,
    HOUR_WEIGHT_PRESENT,
    MAX_AMOUNT,
    MAX_DISTANCE_KM,
    MAX_FAILED_LOGINS,
    MAX_TRANSACTIONS_24H,
    MERCHANT_UNIVERSE_SEED,
    MERCHANTS_PER_CATEGORY,
    NIGHT_HOURS,
    NIGHT_WEIGHT_DRIFTED,
    ONLINE,
    POS,
    SECONDS_PER_DAY,
    TRUST_WHEN_MISSING,
    WINDOW_DAYS,
    Bools,
    Floats,
    Ints,
    blend,
    pick_rows,
)


@dataclass(frozen=True)
class Rows:
    card: Ints
    category: Ints
    merchant: Ints
    channel: Ints
    card_present: Bools
    hour: Ints
    country: Ints
    amount: Floats
    amount_ratio: Floats
    distance_km: Floats
    transactions_24h: Ints
    failed_logins: Ints
    trust: Floats  # NaN where the score is missing

    def take(self, order: Ints) -> Rows:
        return Rows(**{field.name: getattr(self, field.name)[order] for field in fields(self)})


def draw_rows(rng: np.random.Generator, cards: Cards, rows: int, drift: float) -> Rows:
    card = rng.choice(len(cards.home), size=rows, p=cards.activity / cards.activity.sum())
    category = rng.choice(
        len(CATEGORIES), size=rows, p=blend(CATEGORY_SHARE, CATEGORY_SHARE_DRIFTED, drift)
    )
    channel = pick_rows(rng, blend(CHANNEL_SHARE, CHANNEL_SHARE_DRIFTED, drift), category)
    # Card-not-present at a terminal: mail and phone orders.
    card_present = (channel == ATM) | ((channel == POS) & (rng.random(rows) >= 0.03))
    hour = pick_rows(rng, _hour_weights(drift), (channel == ONLINE).astype(np.int64))
    home = cards.home[card]
    country, distance_km = _draw_places(rng, home, channel == ONLINE, drift)
    amount = _draw_amounts(rng, category, channel, cards.amount_avg_30d[card], drift)
    transactions_24h = np.minimum(rng.poisson(cards.daily_rate[card]), MAX_TRANSACTIONS_24H)
    return Rows(
        card=card.astype(np.int64),
        category=category.astype(np.int64),
        merchant=_merchants(rng, category),
        channel=channel,
        card_present=card_present,
        hour=hour,
        country=country,
        amount=amount,
        amount_ratio=np.round(amount / cards.amount_avg_30d[card], 4),
        distance_km=distance_km,
        transactions_24h=transactions_24h.astype(np.int64),
        failed_logins=_draw_failed_logins(rng, channel == ONLINE, drift),
        trust=_draw_trust(rng, channel == ONLINE, drift),
    )


def _hour_weights(drift: float) -> Floats:
    """Hour distributions for card-present (row 0) and online (row 1) spending."""
    weights = np.vstack([HOUR_WEIGHT_PRESENT, HOUR_WEIGHT_ONLINE])
    weights[:, :NIGHT_HOURS] += NIGHT_WEIGHT_DRIFTED * drift
    shares: Floats = weights / weights.sum(axis=1, keepdims=True)
    return shares


def _draw_places(
    rng: np.random.Generator, home: Ints, online: Bools, drift: float
) -> tuple[Ints, Floats]:
    """Country of each transaction and its distance from the cardholder's home."""
    rows = len(home)
    # Cross-border spending: travel, and foreign online shops; drift adds more of both.
    abroad_share = 0.05 + 0.12 * online + 0.12 * drift
    destination = rng.choice(
        len(COUNTRIES), size=rows, p=blend(ABROAD_SHARE, ABROAD_SHARE_DRIFTED, drift)
    )
    country = np.where(rng.random(rows) < abroad_share, destination, home).astype(np.int64)
    # Local spending is a few km from home (further under drift), with a long tail.
    local_km = np.minimum(rng.lognormal(np.log(6.0) + 1.0 * drift, 1.3, size=rows), 3_000.0)
    abroad_km = _country_distances()[home, country] * rng.lognormal(0.0, 0.1, size=rows)
    distance = np.where(country == home, local_km, abroad_km)
    return country, np.round(np.clip(distance, 0.0, MAX_DISTANCE_KM), 1)


def _country_distances() -> Floats:
    """Great-circle distances between the country centroids, in km."""
    lat, lon = np.radians(CENTROIDS[:, 0]), np.radians(CENTROIDS[:, 1])
    dlat = lat[:, None] - lat[None, :]
    dlon = lon[:, None] - lon[None, :]
    a = np.sin(dlat / 2) ** 2 + np.cos(lat[:, None]) * np.cos(lat[None, :]) * np.sin(dlon / 2) ** 2
    distances: Floats = 2 * 6_371.0 * np.arcsin(np.sqrt(a))
    return distances


def _draw_amounts(
    rng: np.random.Generator, category: Ints, channel: Ints, card_avg: Floats, drift: float
) -> Floats:
    # Big spenders spend more everywhere, but less than proportionally. Drift raises
    # tickets faster than the cards' 30-day averages, so the ratio to average rises too.
    median = CATEGORY_MEDIAN_AMOUNT[category] * np.sqrt(card_avg / 55.0) * np.exp(0.4 * drift)
    amount = median * rng.lognormal(0.0, CATEGORY_AMOUNT_SIGMA[category])
    # Cash machines pay out multiples of 10.
    amount = np.where(channel == ATM, np.maximum(np.rint(amount / 10.0) * 10.0, 10.0), amount)
    rounded: Floats = np.round(np.clip(amount, 0.5, MAX_AMOUNT), 2)
    return rounded


def _draw_failed_logins(rng: np.random.Generator, online: Bools, drift: float) -> Ints:
    rate = (0.05 + 0.25 * online) * (1.0 + 1.0 * drift)
    # Occasional bursts: credential stuffing against the customer's account.
    burst = np.where(rng.random(len(online)) < 0.01, rng.poisson(6.0, size=len(online)), 0)
    failed: Ints = np.minimum(rng.poisson(rate) + burst, MAX_FAILED_LOGINS).astype(np.int64)
    return failed


def _draw_trust(rng: np.random.Generator, online: Bools, drift: float) -> Floats:
    # Mostly trusted devices; online devices are less known, drift lowers trust overall.
    alpha = 7.0 - 1.5 * online - 2.0 * drift
    beta = 1.6 + 0.8 * drift
    trust = np.round(rng.beta(alpha, beta), 3)
    missing = rng.random(len(online)) < np.where(online, 0.12, 0.06)
    return np.where(missing, np.nan, trust)


def _merchants(rng: np.random.Generator, category: Ints) -> Ints:
    """Merchant numbers: each category has its own merchants, a few of them popular."""
    universe = np.random.default_rng(MERCHANT_UNIVERSE_SEED).permutation(100_000)
    rank = (rng.zipf(1.6, size=len(category)) - 1) % MERCHANTS_PER_CATEGORY
    numbers: Ints = universe[category * MERCHANTS_PER_CATEGORY + rank].astype(np.int64)
    return numbers


def draw_times(rng: np.random.Generator, hour: Ints, end: datetime) -> Ints:
    """Epoch seconds in the ``WINDOW_DAYS`` up to ``end``, at the given UTC hours."""
    end_s = int(end.timestamp())
    first_day = end_s - end_s % SECONDS_PER_DAY - WINDOW_DAYS * SECONDS_PER_DAY
    rows = len(hour)
    # The window's last day may be partial (end is not midnight): a time drawn after
    # ``end`` moves to a random full day, keeping its hour.
    day = rng.integers(0, WINDOW_DAYS + 1, size=rows)
    within_hour = rng.integers(0, 3_600, size=rows)
    seconds = first_day + day * SECONDS_PER_DAY + hour * 3_600 + within_hour
    late = seconds > end_s
    seconds[late] -= (day[late] - rng.integers(0, WINDOW_DAYS, size=int(late.sum()))) * (
        SECONDS_PER_DAY
    )
    return seconds.astype(np.int64)


# -- label -------------------------------------------------------------------------------
def fraud_labels(rng: np.random.Generator, rows: Rows, concept: float = 0.0) -> Ints:
    """0/1 fraud from a noisy logistic model of the row; ``concept`` in [0, 1] moves the
    model itself toward a new pattern (``CONCEPT_*``): the same features, other labels."""
    trust = np.where(np.isnan(rows.trust), TRUST_WHEN_MISSING, rows.trust)
    risk = {
        "log_amount_ratio": np.log(rows.amount_ratio + 1e-3),
        "log_distance": np.log1p(rows.distance_km),
        "online": (rows.channel == ONLINE).astype(np.float64),
        "card_not_present": (~rows.card_present).astype(np.float64),
        "night": (rows.hour < NIGHT_HOURS).astype(np.float64),
        "failed_logins": np.minimum(rows.failed_logins, FAILED_LOGINS_CAP_IN_MODEL),
        "distrust": 1.0 - trust,
        "log_velocity": np.log1p(rows.transactions_24h),
    }
    logit = FRAUD_INTERCEPT + rng.normal(0.0, FRAUD_NOISE, size=len(trust))
    for name, value in risk.items():
        weight = FRAUD_WEIGHTS[name]
        logit += (weight + concept * (CONCEPT_WEIGHTS.get(name, weight) - weight)) * value
    # The new pattern: card-not-present purchases in the targeted categories.
    targeted = np.isin(rows.category, CONCEPT_CATEGORIES) & ~rows.card_present
    logit += concept * CONCEPT_TARGETED_WEIGHT * targeted
    probability = 1.0 / (1.0 + np.exp(-logit))
    return (rng.random(len(trust)) < probability).astype(np.int64)
