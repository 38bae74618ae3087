"""The synthetic transactions: reproducible, inside the contract, learnable, drift on demand."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq
import pytest
from driftline_contracts.transactions import LabelledTransaction, TransactionFeatures

from driftline.cli import main
from driftline.samples import SCHEMA, generate_transactions, random_rows, write_transactions

END = datetime(2026, 11, 1, tzinfo=UTC)
SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def frame(rows: int, *, seed: int = 7, drift: float = 0.0) -> pd.DataFrame:
    return generate_transactions(rows, seed=seed, drift=drift, end=END).to_pandas()


def test_same_seed_gives_byte_identical_csv_and_another_seed_does_not(tmp_path: Path) -> None:
    # Given the same arguments twice, and once with another seed
    first = write_transactions(tmp_path / "a.csv", 500, seed=3, end=END)
    second = write_transactions(tmp_path / "b.csv", 500, seed=3, end=END)
    other = write_transactions(tmp_path / "c.csv", 500, seed=4, end=END)

    # Then the same seed writes the same bytes and another seed other rows
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() != other.read_bytes()


def test_columns_follow_the_contracts_order() -> None:
    # When a labelled and an unlabelled table are generated
    labelled = generate_transactions(10, end=END)
    unlabelled = generate_transactions(10, end=END, labelled=False)

    # Then their columns are the contracts' fields, in order
    assert labelled.column_names == list(LabelledTransaction.model_fields)
    assert unlabelled.column_names == list(TransactionFeatures.model_fields)


@pytest.mark.parametrize("drift", [0.0, 0.5, 1.0])
def test_every_value_satisfies_the_contract(drift: float) -> None:
    # Given a large sample, from which the rows holding every numeric column's minimum
    # and maximum (where bounds bite) are picked along with 300 random rows
    table = generate_transactions(20_000, seed=21, drift=drift, end=END)
    data = table.to_pandas()
    extremes = {
        index
        for column in data.select_dtypes("number").columns
        for index in (data[column].idxmin(), data[column].idxmax())
    }
    chosen = sorted(extremes | set(np.random.default_rng(0).choice(len(data), 300)))

    # When each is validated by the pydantic contract, then none fails
    for row in table.take(chosen).to_pylist():
        LabelledTransaction.model_validate(row)


def test_nullable_columns_hold_some_nulls_and_others_none() -> None:
    # When a sample is generated
    data = frame(5_000)

    # Then only the contract's nullable columns have nulls, and a minority of them
    nulls = data.isna().mean()
    assert set(nulls[nulls > 0].index) == {"customer_email", "device_trust_score"}
    assert (nulls[nulls > 0] < 0.2).all()


def test_transaction_ids_are_unique_and_cards_repeat() -> None:
    # When a large sample is generated
    data = frame(100_000, seed=5)

    # Then every transaction has its own id, while cards make several transactions
    assert data["transaction_id"].is_unique
    assert data["transaction_id"].str.fullmatch(r"t-[0-9a-f]{12}").all()
    assert data["card_id"].nunique() < len(data) / 3


def test_times_lie_in_the_window_in_order_and_match_the_hour() -> None:
    # Given an end that is not midnight
    end = datetime(2026, 11, 1, 13, 30, tzinfo=UTC)

    # When a sample is generated
    data = generate_transactions(5_000, seed=9, end=end).to_pandas()

    # Then its times are ordered, within 31 days before end, at the stated hour
    times = data["event_time"]
    assert times.is_monotonic_increasing
    assert times.max() <= end
    assert times.min() >= end - timedelta(days=31)
    assert (times.dt.hour == data["hour_of_day"]).all()


def test_fraud_rate_is_a_few_percent() -> None:
    # When a training-distribution sample is generated
    data = frame(50_000, seed=8)

    # Then fraud is rare but present
    assert 0.01 < data["is_fraud"].mean() < 0.06


def test_fraud_is_more_likely_where_the_risk_factors_are() -> None:
    # Given a training-distribution sample
    data = frame(100_000, seed=12)
    fraud, ratio = data["is_fraud"], data["amount_ratio_to_avg"]
    risky = {
        "high amount ratio": ratio > ratio.quantile(0.9),
        "far from home": data["distance_from_home_km"] > 500,
        "online": data["channel"] == "online",
        "card not present": ~data["card_present"],
        "night": data["hour_of_day"] < 6,
        "failed logins": data["failed_logins_24h"] >= 2,
        "untrusted device": data["device_trust_score"] < 0.5,
    }

    # Then each factor at least doubles the fraud rate, but none decides it alone
    for factor, mask in risky.items():
        assert fraud[mask].mean() > 2 * fraud[~mask].mean(), factor
        assert fraud[mask].mean() < 0.5, factor


def test_unlabelled_drops_only_the_label() -> None:
    # When the same sample is generated with and without its label
    labelled = generate_transactions(1_000, seed=4, end=END)
    unlabelled = generate_transactions(1_000, seed=4, end=END, labelled=False)

    # Then the features are the same and the label is gone
    assert "is_fraud" not in unlabelled.column_names
    assert unlabelled.equals(labelled.drop_columns(["is_fraud"]))


def _profile(data: pd.DataFrame) -> dict[str, float]:
    return {
        "amount": data["amount"].mean(),
        "amount_ratio": data["amount_ratio_to_avg"].mean(),
        "online": (data["channel"] == "online").mean(),
        "age": data["customer_age"].mean(),
        "distance": data["distance_from_home_km"].median(),
        "trust": data["device_trust_score"].mean(),
        "grocery": (data["merchant_category"] == "grocery").mean(),
        "us": (data["country"] == "US").mean(),
    }


def test_drift_shifts_the_distributions_and_another_seed_does_not() -> None:
    # Given samples at drift 0 (two seeds) and at drift 1
    base = _profile(frame(20_000, seed=1))
    same = _profile(frame(20_000, seed=2))
    drifted = _profile(frame(20_000, seed=3, drift=1.0))

    # Then drift moves every profile measure clearly, in the intended direction
    assert drifted["amount"] > 1.5 * base["amount"]
    assert drifted["amount_ratio"] > 1.5 * base["amount_ratio"]
    assert drifted["online"] > base["online"] + 0.2
    assert drifted["age"] < base["age"] - 8
    assert drifted["distance"] > 2 * base["distance"]
    assert drifted["trust"] < base["trust"] - 0.1
    assert drifted["grocery"] < base["grocery"] - 0.08
    assert drifted["us"] > base["us"] + 0.05
    # And another seed at drift 0 moves each far less than drift does
    for name, value in base.items():
        assert abs(same[name] - value) < abs(drifted[name] - value) / 3, name


def test_drift_is_monotone() -> None:
    # When the same seed is generated at increasing drift
    profiles = [_profile(frame(20_000, seed=6, drift=drift)) for drift in (0.0, 0.5, 1.0)]

    # Then the measures move one way only
    for name, sign in {"amount": 1, "online": 1, "age": -1, "trust": -1}.items():
        values = [sign * profile[name] for profile in profiles]
        assert values == sorted(values), name


@pytest.mark.parametrize("suffix", ["csv", "csv.gz", "parquet", "jsonl"])
def test_each_format_round_trips(tmp_path: Path, suffix: str) -> None:
    # Given a sample written in one format
    table = generate_transactions(300, seed=2, end=END)
    path = write_transactions(tmp_path / f"sample.{suffix}", 300, seed=2, end=END)

    # When it is read back with pyarrow against the sample's schema
    if suffix == "parquet":
        back = pq.read_table(path)
    elif suffix == "jsonl":
        back = pa_json.read_json(path, parse_options=pa_json.ParseOptions(explicit_schema=SCHEMA))
    else:
        # An empty field is a null, as for any CSV reader that knows the column is nullable
        options = pa_csv.ConvertOptions(column_types=SCHEMA, strings_can_be_null=True)
        back = pa_csv.read_csv(path, convert_options=options)

    # Then every value comes back unchanged
    assert back.column_names == table.column_names
    assert back.to_pylist() == table.to_pylist()


def test_an_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown format"):
        write_transactions(tmp_path / "sample.xlsx", 10, end=END)


@pytest.mark.parametrize(("rows", "drift"), [(-1, 0.0), (10, -0.1), (10, 1.5)])
def test_arguments_out_of_range_are_refused(rows: int, drift: float) -> None:
    with pytest.raises(ValueError):
        generate_transactions(rows, drift=drift, end=END)


@pytest.mark.parametrize(
    ("name", "rows", "seed", "drift", "labelled"),
    [
        ("transactions.csv", 2000, 7, 0.0, True),
        ("scoring.csv", 500, 11, 0.0, False),
        ("scoring-drifted.csv", 500, 13, 1.0, False),
    ],
)
def test_the_shipped_samples_are_the_generators_output(
    tmp_path: Path, name: str, rows: int, seed: int, drift: float, labelled: bool
) -> None:
    # When a shipped sample is generated again with its recorded arguments
    again = write_transactions(
        tmp_path / name, rows, seed=seed, drift=drift, labelled=labelled, end=END
    )

    # Then it is the same file (if not, regenerate samples/ with `driftline sample`)
    assert again.read_bytes() == (SAMPLES / name).read_bytes()


def test_cli_sample_writes_the_file_and_prints_a_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an output path
    out = tmp_path / "nested" / "train.parquet"

    # When the sample command runs
    code = main(
        ["sample", str(out), "--rows", "250", "--seed", "3", "--end", "2026-11-01T00:00Z", "--json"]
    )

    # Then it wrote the rows and said so in one JSON line, fraud rate included
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    table = pq.read_table(out)
    assert summary["path"] == str(out)
    assert summary["rows"] == table.num_rows == 250
    assert summary["fraud_rate"] == pytest.approx(np.mean(table["is_fraud"]), abs=1e-4)


def test_cli_sample_unlabelled_has_no_label_or_fraud_rate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # When the sample command runs with --unlabelled
    out = tmp_path / "score.csv"
    code = main(["sample", str(out), "--rows", "20", "--unlabelled", "--drift", "0.3", "--json"])

    # Then the file has no label and the summary no fraud rate
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert "fraud_rate" not in summary
    assert "is_fraud" not in pa_csv.read_csv(out).column_names


def test_cli_sample_reports_bad_arguments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # When the sample command gets a drift outside [0, 1], no rows or an unknown format
    bad_drift = main(["sample", str(tmp_path / "x.csv"), "--drift", "2"])
    no_rows = main(["sample", str(tmp_path / "x.csv"), "--rows", "0"])
    bad_format = main(["sample", str(tmp_path / "x.txt")])

    # Then each is a usage error (exit 2) with a one-line message, and nothing is written
    assert (bad_drift, no_rows, bad_format) == (2, 2, 2)
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 3
    assert "--drift" in errors[0] and "less than or equal to 1" in errors[0]
    assert "--rows" in errors[1] and "greater than or equal to 1" in errors[1]
    assert "unknown format" in errors[2] and ".csv.gz" in errors[2]
    assert not list(tmp_path.iterdir())


def test_random_rows_draws_distinct_rows_in_table_order() -> None:
    # Given a generated table of 1,000 rows
    table = generate_transactions(1_000, seed=3, end=END)
    # When 100 rows are drawn at random
    drawn = random_rows(table, 100, seed=5)
    # Then they are 100 different rows of the table, in its order, the same for a seed
    ids = drawn["transaction_id"].to_pylist()
    positions = [table["transaction_id"].to_pylist().index(i) for i in ids]
    assert len(set(ids)) == 100 and positions == sorted(positions)
    assert random_rows(table, 100, seed=5).equals(drawn)
    assert not random_rows(table, 100, seed=6).equals(drawn)
    # And they come from far more cards than a 100-row file of its own would hold
    own = generate_transactions(100, seed=3, end=END)
    assert len(set(drawn["card_id"].to_pylist())) > 2 * len(set(own["card_id"].to_pylist()))
    with pytest.raises(ValueError, match="cannot draw 1001 rows from 1000"):
        random_rows(table, 1_001, seed=5)


def test_a_concept_change_moves_the_labels_and_not_the_features() -> None:
    # Given the same seed with and without the concept change
    before = generate_transactions(20_000, seed=31, end=datetime(2026, 11, 1, tzinfo=UTC))
    after = generate_transactions(
        20_000, seed=31, end=datetime(2026, 11, 1, tzinfo=UTC), concept=1.0
    )
    # Then every feature is the same, row for row
    assert before.drop_columns(["is_fraud"]).equals(after.drop_columns(["is_fraud"]))
    # And the labels follow the new pattern: card-not-present electronics and fashion
    # purchases turn into fraud more than twice as often
    targeted = pc.and_(
        pc.is_in(before["merchant_category"], pa.array(["electronics", "fashion"])),
        pc.invert(before["card_present"]),
    )
    rate = {
        name: pc.mean(table.filter(targeted)["is_fraud"]).as_py()
        for name, table in (("before", before), ("after", after))
    }
    assert rate["after"] > 2 * rate["before"]
    with pytest.raises(ValueError, match="concept must be within"):
        generate_transactions(10, concept=1.5)
