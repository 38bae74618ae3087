"""Synthetic card transactions for the demo, the tests and ``driftline sample``.

:func:`generate_transactions` draws a seeded, fully vectorised sample that satisfies the
``transactions`` contract (``driftline_contracts.transactions``) field by field, in the
contract's column order. The fraud label comes from a noisy logistic model of the
features, so a classifier can learn it without it being trivial. ``drift`` in [0, 1]
moves the feature distributions (0 is the training distribution, 1 an obvious shift)
for drift detection, while every value stays inside the contract.

The contract lives in a Lambda layer that the CLI cannot import, so the columns and
bounds are restated here; ``tests/unit/test_samples.py`` checks them against the contract.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import get_args

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from driftline_contracts.transactions import Country, MerchantCategory
from numpy.typing import NDArray

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]
Bools = NDArray[np.bool_]

# The contract's columns, types and order (LabelledTransaction; TransactionFeatures
# is the same without the label).
SCHEMA = pa.schema(
    [
        pa.field("transaction_id", pa.string(), nullable=False),
        pa.field("event_time", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("card_id", pa.string(), nullable=False),
        pa.field("customer_email", pa.string()),
        pa.field("customer_age", pa.int64(), nullable=False),
        pa.field("customer_tenure_days", pa.int64(), nullable=False),
        pa.field("amount", pa.float64(), nullable=False),
        pa.field("currency", pa.string(), nullable=False),
        pa.field("merchant_id", pa.string(), nullable=False),
        pa.field("merchant_category", pa.string(), nullable=False),
        pa.field("country", pa.string(), nullable=False),
        pa.field("channel", pa.string(), nullable=False),
        pa.field("card_present", pa.bool_(), nullable=False),
        pa.field("hour_of_day", pa.int64(), nullable=False),
        pa.field("distance_from_home_km", pa.float64(), nullable=False),
        pa.field("transactions_last_24h", pa.int64(), nullable=False),
        pa.field("amount_avg_30d", pa.float64(), nullable=False),
        pa.field("amount_ratio_to_avg", pa.float64(), nullable=False),
        pa.field("failed_logins_24h", pa.int64(), nullable=False),
        pa.field("device_trust_score", pa.float64()),
        pa.field("is_fraud", pa.int64(), nullable=False),
    ]
)
TARGET = "is_fraud"
FEATURES_SCHEMA = SCHEMA.remove(SCHEMA.get_field_index(TARGET))

# Upper bounds of the contract (lower bounds are 0 or the customer's minimum age).
MAX_AMOUNT = 50_000.0
MAX_DISTANCE_KM = 20_000.0
MAX_TRANSACTIONS_24H = 1_000
MAX_FAILED_LOGINS = 100
MAX_TENURE_DAYS = 36_500
MIN_AGE, MAX_AGE = 18, 90

WINDOW_DAYS = 30
SECONDS_PER_DAY = 86_400

# The contract's enums, in their declared order (the share arrays below follow it).
CATEGORIES: tuple[str, ...] = get_args(MerchantCategory)
CATEGORY_SHARE = np.array([0.26, 0.06, 0.04, 0.16, 0.10, 0.08, 0.07, 0.07, 0.10, 0.06])
CATEGORY_SHARE_DRIFTED = np.array([0.12, 0.18, 0.14, 0.10, 0.05, 0.12, 0.04, 0.12, 0.05, 0.08])
# Median ticket per category (EUR-ish); amounts are log-normal around it.
CATEGORY_MEDIAN_AMOUNT = np.array([35.0, 240.0, 380.0, 38.0, 55.0, 75.0, 42.0, 45.0, 18.0, 60.0])
CATEGORY_AMOUNT_SIGMA = np.array([0.7, 0.9, 0.8, 0.6, 0.4, 0.7, 0.7, 0.7, 0.8, 0.9])

CHANNELS = ("pos", "online", "atm")
POS, ONLINE, ATM = 0, 1, 2
# Channel mix per category (rows follow CATEGORIES); cash withdrawals count as "other".
CHANNEL_SHARE = np.array(
    [
        [0.90, 0.10, 0.00],
        [0.45, 0.55, 0.00],
        [0.25, 0.75, 0.00],
        [0.85, 0.15, 0.00],
        [0.97, 0.03, 0.00],
        [0.60, 0.40, 0.00],
        [0.80, 0.20, 0.00],
        [0.40, 0.60, 0.00],
        [0.70, 0.30, 0.00],
        [0.35, 0.25, 0.40],
    ]
)
CHANNEL_SHARE_DRIFTED = np.array(
    [
        [0.70, 0.30, 0.00],
        [0.15, 0.85, 0.00],
        [0.10, 0.90, 0.00],
        [0.65, 0.35, 0.00],
        [0.90, 0.10, 0.00],
        [0.25, 0.75, 0.00],
        [0.55, 0.45, 0.00],
        [0.15, 0.85, 0.00],
        [0.45, 0.55, 0.00],
        [0.25, 0.50, 0.25],
    ]
)
# Relative activity per UTC hour: card-present spending follows the shops' day,
# online spending peaks in the evening and is flatter at night.
HOUR_WEIGHT_PRESENT = np.array(
    [1.0, 0.6, 0.4, 0.3, 0.3, 0.5, 1.5, 3.0, 4.5, 5.0, 5.5, 6.0]
    + [7.0, 6.5, 6.0, 6.0, 6.5, 7.0, 7.5, 7.0, 6.0, 4.5, 3.0, 2.0]
)
HOUR_WEIGHT_ONLINE = np.array(
    [3.0, 2.0, 1.5, 1.2, 1.0, 1.0, 1.5, 2.5, 3.5, 4.0, 4.5, 5.0]
    + [5.5, 5.0, 5.0, 5.0, 5.0, 5.5, 6.5, 7.5, 8.0, 7.5, 6.0, 4.5]
)
NIGHT_HOURS = 6  # 00:00-05:59
# Drift adds this much weight to each night hour (the day's weights are ~5).
NIGHT_WEIGHT_DRIFTED = 3.0

COUNTRIES: tuple[str, ...] = get_args(Country)
HOME_SHARE = np.array([0.22, 0.14, 0.07, 0.10, 0.10, 0.12, 0.10, 0.03, 0.05, 0.04, 0.02, 0.01])
HOME_SHARE_DRIFTED = np.array(
    [0.10, 0.08, 0.04, 0.07, 0.06, 0.10, 0.22, 0.06, 0.05, 0.03, 0.11, 0.08]
)
# Where cards are used abroad (travel and cross-border online shops).
ABROAD_SHARE = np.array([0.12, 0.14, 0.06, 0.14, 0.13, 0.12, 0.12, 0.03, 0.03, 0.03, 0.04, 0.04])
ABROAD_SHARE_DRIFTED = np.array(
    [0.06, 0.06, 0.04, 0.08, 0.07, 0.10, 0.22, 0.05, 0.04, 0.03, 0.13, 0.12]
)
# Approximate centroids (latitude, longitude) for distances between countries.
CENTROIDS = np.array(
    [
        [51.2, 10.4],
        [46.6, 2.4],
        [52.2, 5.3],
        [40.4, -3.7],
        [42.8, 12.6],
        [54.0, -2.0],
        [39.8, -98.6],
        [56.1, -106.3],
        [52.1, 19.4],
        [62.0, 15.0],
        [-10.8, -52.9],
        [22.0, 79.0],
    ]
)
# Settlement currency by country: the contract knows EUR, GBP and USD only.
CURRENCIES = ("EUR", "GBP", "USD")
COUNTRY_CURRENCY = np.array([0, 0, 0, 0, 0, 1, 2, 2, 0, 0, 2, 2])

FIRST_NAMES = (
    "anna", "ben", "carla", "david", "elena", "felix", "grace", "hugo", "ines", "jonas",
    "kate", "liam", "maria", "noah", "olga", "pablo", "quinn", "rosa", "sven", "tara",
    "umar", "vera", "wei", "xenia", "yusuf", "zoe", "lucas", "emma", "mateo", "priya",
)  # fmt: skip
LAST_NAMES = (
    "muller", "martin", "jansen", "garcia", "rossi", "smith", "johnson", "tremblay",
    "nowak", "andersson", "silva", "sharma", "schmidt", "dubois", "devries", "lopez",
    "russo", "jones", "brown", "kowalski", "berg", "santos", "patel", "weber", "moreau",
)  # fmt: skip
# Reserved example domains: the sample never names a real mailbox.
EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example", "post.example")

MERCHANTS_PER_CATEGORY = 2_000
# Merchant ids and their categories are the same in every sample (a fixed universe),
# so a merchant keeps its category across the training and the scoring files.
MERCHANT_UNIVERSE_SEED = 20_261_101

# Fraud model: logit = intercept + weights . risk factors + noise. The intercept puts
# the base rate near 3 % at drift 0; the noise keeps the label learnable but far from
# separable: even the true weights rank fraud at about 0.89 ROC AUC (measured on
# 500,000 rows, as was a logistic regression fitted to the columns).
# The model does not change with drift, so drifted data holds more fraud (about 19 %
# at drift 1): its features are riskier.
FRAUD_INTERCEPT = -7.2
FRAUD_WEIGHTS = {
    "log_amount_ratio": 0.9,
    "log_distance": 0.3,
    "online": 0.7,
    "card_not_present": 0.6,
    "night": 1.0,
    "failed_logins": 0.55,
    "distrust": 3.0,
    "log_velocity": 0.25,
}
FRAUD_NOISE = 0.9
# A missing device trust score counts as a mediocre one.
TRUST_WHEN_MISSING = 0.45
FAILED_LOGINS_CAP_IN_MODEL = 6

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


# -- public API --------------------------------------------------------------------------
def generate_transactions(
    rows: int,
    *,
    seed: int = 7,
    drift: float = 0.0,
    labelled: bool = True,
    end: datetime | None = None,
) -> pa.Table:
    """``rows`` transactions ordered by ``event_time`` within the 30 days up to ``end``.

    ``end`` defaults to now (UTC, whole minutes); a naive ``end`` is taken as UTC.
    ``labelled=False`` leaves out ``is_fraud``; the features are the same either way.
    """
    if rows < 0:
        raise ValueError(f"rows must be >= 0, not {rows}")
    if not 0.0 <= drift <= 1.0:
        raise ValueError(f"drift must be within [0, 1], not {drift}")
    end = _utc(end) if end is not None else datetime.now(UTC).replace(second=0, microsecond=0)
    # Independent streams per concern, so e.g. the label draws never move the features.
    card_rng, row_rng, time_rng, label_rng = (
        np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(4)
    )
    cards = _draw_cards(card_rng, _card_pool_size(rows), drift)
    rows_ = _draw_rows(row_rng, cards, rows, drift)
    seconds = _draw_times(time_rng, rows_.hour, end)
    labels = _fraud_labels(label_rng, rows_)
    # Rows in time order, as a day's extract would be.
    order = np.argsort(seconds, kind="stable")
    columns = _columns(rows_.take(order), cards, seconds[order])
    columns["transaction_id"] = _transaction_ids(seed, rows, drift)
    columns[TARGET] = pa.array(labels[order])
    schema = SCHEMA if labelled else FEATURES_SCHEMA
    return pa.Table.from_pydict({name: columns[name] for name in schema.names}, schema=schema)


def write_transactions(
    path: Path,
    rows: int,
    *,
    seed: int = 7,
    drift: float = 0.0,
    labelled: bool = True,
    end: datetime | None = None,
) -> Path:
    """Generate and write; the format follows the suffix (see :func:`write_table`)."""
    table = generate_transactions(rows, seed=seed, drift=drift, labelled=labelled, end=end)
    return write_table(table, path)


# The file types write_table writes, by name.
FORMATS = (".csv", ".csv.gz", ".parquet", ".jsonl")


def write_table(table: pa.Table, path: Path) -> Path:
    """Write to ``.csv``, ``.csv.gz``, ``.parquet`` or ``.jsonl``; the output is
    byte-for-byte reproducible (no timestamps in the gzip header)."""
    name = path.name.lower()
    writers = {
        ".parquet": _write_parquet,
        ".jsonl": _write_jsonl,
        ".csv.gz": _write_csv_gz,
        ".csv": _write_csv,
    }
    suffix = next((suffix for suffix in writers if name.endswith(suffix)), None)
    if suffix is None:
        raise ValueError(f"{path}: unknown format; use {', '.join(FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    writers[suffix](table, path)
    return path


def fraud_rate(table: pa.Table) -> float | None:
    """Share of fraudulent rows, or None for an unlabelled or empty table."""
    if TARGET not in table.column_names or table.num_rows == 0:
        return None
    return float(pc.mean(table[TARGET]).as_py())


# -- cards (customers) -------------------------------------------------------------------
@dataclass(frozen=True)
class _Cards:
    card_id: pa.Array
    email: pa.Array
    home: Ints
    age: Ints
    tenure_days: Ints
    amount_avg_30d: Floats
    daily_rate: Floats
    activity: Floats


def _card_pool_size(rows: int) -> int:
    # About six transactions per card in the window, so cards repeat.
    return max(1, min(rows // 6, 250_000))


def _draw_cards(rng: np.random.Generator, count: int, drift: float) -> _Cards:
    numbers = rng.choice(1_000_000, size=count, replace=False).astype(np.int64)
    home = rng.choice(len(COUNTRIES), size=count, p=_blend(HOME_SHARE, HOME_SHARE_DRIFTED, drift))
    # Drift makes customers younger (mean about 46 -> 33 after clipping at 18).
    age_years = rng.normal(46.0 - 14.0 * drift, 15.0, size=count)
    age = np.clip(np.rint(age_years), MIN_AGE, MAX_AGE).astype(np.int64)
    # Tenure is capped by adulthood: nobody has held a card since before 18.
    tenure = np.minimum(rng.exponential(4.0 * 365, size=count), (age - MIN_AGE) * 365 + 30)
    tenure_days = np.clip(np.rint(tenure), 0, MAX_TENURE_DAYS).astype(np.int64)
    spend = rng.lognormal(np.log(55.0) + 0.2 * drift, 0.6, size=count)
    amount_avg_30d = np.clip(np.round(spend, 2), 1.0, MAX_AMOUNT)
    return _Cards(
        card_id=_codes("c-", numbers, 6, 10),
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


# -- transactions ------------------------------------------------------------------------
@dataclass(frozen=True)
class _Rows:
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

    def take(self, order: Ints) -> _Rows:
        return _Rows(**{field.name: getattr(self, field.name)[order] for field in fields(self)})


def _draw_rows(rng: np.random.Generator, cards: _Cards, rows: int, drift: float) -> _Rows:
    card = rng.choice(len(cards.home), size=rows, p=cards.activity / cards.activity.sum())
    category = rng.choice(
        len(CATEGORIES), size=rows, p=_blend(CATEGORY_SHARE, CATEGORY_SHARE_DRIFTED, drift)
    )
    channel = _pick_rows(rng, _blend(CHANNEL_SHARE, CHANNEL_SHARE_DRIFTED, drift), category)
    # Card-not-present at a terminal: mail and phone orders.
    card_present = (channel == ATM) | ((channel == POS) & (rng.random(rows) >= 0.03))
    hour = _pick_rows(rng, _hour_weights(drift), (channel == ONLINE).astype(np.int64))
    home = cards.home[card]
    country, distance_km = _draw_places(rng, home, channel == ONLINE, drift)
    amount = _draw_amounts(rng, category, channel, cards.amount_avg_30d[card], drift)
    transactions_24h = np.minimum(rng.poisson(cards.daily_rate[card]), MAX_TRANSACTIONS_24H)
    return _Rows(
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
        len(COUNTRIES), size=rows, p=_blend(ABROAD_SHARE, ABROAD_SHARE_DRIFTED, drift)
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


def _draw_times(rng: np.random.Generator, hour: Ints, end: datetime) -> Ints:
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
def _fraud_labels(rng: np.random.Generator, rows: _Rows) -> Ints:
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
        logit += FRAUD_WEIGHTS[name] * value
    probability = 1.0 / (1.0 + np.exp(-logit))
    return (rng.random(len(trust)) < probability).astype(np.int64)


# -- assembling and writing --------------------------------------------------------------
def _columns(rows: _Rows, cards: _Cards, seconds: Ints) -> dict[str, pa.Array]:
    return {
        "event_time": pa.array(seconds * 1_000_000, type=SCHEMA.field("event_time").type),
        "card_id": cards.card_id.take(rows.card),
        "customer_email": cards.email.take(rows.card),
        "customer_age": pa.array(cards.age[rows.card]),
        "customer_tenure_days": pa.array(cards.tenure_days[rows.card]),
        "amount": pa.array(rows.amount),
        "currency": _labels(CURRENCIES, COUNTRY_CURRENCY[rows.country]),
        "merchant_id": _codes("m-", rows.merchant, 5, 10),
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


def _transaction_ids(seed: int, rows: int, drift: float) -> pa.Array:
    # Unique within a file: drawn without replacement. Keyed by every argument that
    # shapes the rows, not the seed alone, or a training file and a drifted scoring file
    # made with one seed would share ids.
    key = (seed, rows, round(drift * 1_000_000))
    numbers = np.random.default_rng(key).choice(2**48, size=rows, replace=False)
    return _codes("t-", numbers.astype(np.int64), 12, 16)


def _codes(prefix: str, numbers: Ints, width: int, base: int) -> pa.Array:
    """Fixed-width ids such as ``c-004217``, built in numpy rather than a Python loop:
    the digits are written straight into the bytes of an Arrow string array."""
    head = np.frombuffer(prefix.encode(), dtype=np.uint8)
    size = len(head) + width
    chars = np.empty((len(numbers), size), dtype=np.uint8)
    chars[:, : len(head)] = head
    rest = numbers.copy()
    for position in range(size - 1, len(head) - 1, -1):
        rest, digit = np.divmod(rest, base)
        chars[:, position] = _HEX[digit]
    offsets = np.arange(0, (len(numbers) + 1) * size, size, dtype=np.int32)
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(chars)]
    return pa.Array.from_buffers(pa.string(), len(numbers), buffers)


def _labels(names: tuple[str, ...], index: Ints) -> pa.Array:
    return pa.array(names).take(pa.array(index))


def _write_parquet(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path)


def _write_jsonl(table: pa.Table, path: Path) -> None:
    frame = _with_iso_times(table).to_pandas()
    frame.to_json(path, orient="records", lines=True, force_ascii=True)


def _write_csv(table: pa.Table, path: Path) -> None:
    with path.open("wb") as sink:
        _csv_to(table, sink)


def _write_csv_gz(table: pa.Table, path: Path) -> None:
    # mtime=0 and no file name in the header: the same rows give the same bytes.
    with (
        path.open("wb") as raw,
        gzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=6, mtime=0) as gz,
    ):
        _csv_to(table, gz)


def _csv_to(table: pa.Table, sink: io.BufferedIOBase) -> None:
    # Values never hold delimiters, quotes or line breaks, so nothing needs quoting.
    options = pa_csv.WriteOptions(quoting_style="none", quoting_header="none")
    pa_csv.write_csv(_with_iso_times(table), sink, write_options=options)


def _with_iso_times(table: pa.Table) -> pa.Table:
    """``event_time`` as ISO 8601 text (``2026-10-31T08:15:00Z``) for text formats."""
    index = table.schema.get_field_index("event_time")
    # Arrow's own cast gives "2026-10-31 08:15:00" for whole seconds in naive UTC,
    # an order of magnitude faster than formatting in numpy or with strftime.
    naive = table["event_time"].cast(pa.timestamp("s", tz="UTC")).cast(pa.timestamp("s"))
    spaced = pc.cast(naive, pa.string())
    text = pc.binary_join_element_wise(pc.replace_substring(spaced, " ", "T"), "Z", "")
    return table.set_column(index, "event_time", text)


def _pick_rows(rng: np.random.Generator, table: Floats, group: Ints) -> Ints:
    """One draw per row from the distribution ``table[group]`` of its group.

    Shifting group g's cumulative distribution to (g, g + 1] lays all groups out in one
    sorted array, so a single ``searchsorted`` serves every row.
    """
    groups, outcomes = table.shape
    cumulative = np.cumsum(table / table.sum(axis=1, keepdims=True), axis=1)
    cumulative[:, -1] = 1.0
    shifted = (cumulative + np.arange(groups)[:, None]).ravel()
    found = np.searchsorted(shifted, rng.random(len(group)) + group, side="right")
    picked: Ints = np.minimum(found - group * outcomes, outcomes - 1).astype(np.int64)
    return picked


def _blend(start: Floats, drifted: Floats, drift: float) -> Floats:
    """Linear path between two distributions: monotone in ``drift``, still summing to 1."""
    mixed: Floats = (1.0 - drift) * start + drift * drifted
    return mixed


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
