"""The sampled world: the contract's columns, and the shares, medians and weights the
transactions are drawn from (the ``_DRIFTED`` ones are where ``drift=1`` moves them).

The contract lives in a Lambda layer module the CLI reads only for its enums, so the
columns and bounds are restated here; ``tests/unit/test_samples.py`` checks them
against the contract.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import get_args

import numpy as np
import pyarrow as pa
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
# A concept change (``concept=1``): fraudsters move to card-not-present purchases of
# electronics and fashion, and stop working at night or from distrusted devices (the
# trust score stops telling). The features' distributions do not change with it; only
# outcomes (labels) reveal it. Its strength is what the demo's loop needs on any seed:
# over 50 seeds of the demo's files, a model of the old pattern lost 0.06 to 0.16 AUC on
# such a batch (the sample's labels allow 0.02), and one retrained with the batch's
# labelled rows won by 0.04 to 0.07 on the paired, most recent holdout
# (tests/unit/test_demo_concept_change.py checks two seeds). Travel, also bought online,
# is left out: the old pattern already ranks it risky, which hid the change.
CONCEPT_CATEGORIES = np.array([1, 5])  # electronics, fashion (CATEGORIES' order)
CONCEPT_TARGETED_WEIGHT = 6.0
CONCEPT_WEIGHTS = {"night": 0.0, "distrust": -1.0, "failed_logins": 0.0, "log_amount_ratio": 0.3}
# A missing device trust score counts as a mediocre one.
TRUST_WHEN_MISSING = 0.45
FAILED_LOGINS_CAP_IN_MODEL = 6

HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def pick_rows(rng: np.random.Generator, table: Floats, group: Ints) -> Ints:
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


def blend(start: Floats, drifted: Floats, drift: float) -> Floats:
    """Linear path between two distributions: monotone in ``drift``, still summing to 1."""
    mixed: Floats = (1.0 - drift) * start + drift * drifted
    return mixed


def as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def codes(prefix: str, numbers: Ints, width: int, base: int) -> pa.Array:
    """Fixed-width ids such as ``c-004217``, built in numpy rather than a Python loop:
    the digits are written straight into the bytes of an Arrow string array."""
    head = np.frombuffer(prefix.encode(), dtype=np.uint8)
    size = len(head) + width
    chars = np.empty((len(numbers), size), dtype=np.uint8)
    chars[:, : len(head)] = head
    rest = numbers.copy()
    for position in range(size - 1, len(head) - 1, -1):
        rest, digit = np.divmod(rest, base)
        chars[:, position] = HEX[digit]
    offsets = np.arange(0, (len(numbers) + 1) * size, size, dtype=np.int32)
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(chars)]
    return pa.Array.from_buffers(pa.string(), len(numbers), buffers)
