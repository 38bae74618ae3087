"""Labels: the join with predictions by id, and a deployed model's measured quality."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from driftline_contracts.transactions import LabelledTransaction
from driftline_runtime import names
from driftline_runtime.events import DatasetValidated
from driftline_runtime.observability import observability
from driftline_runtime.quality_measures import binary_measures, calibration
from moto import mock_aws

from driftline.samples import generate_transactions

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "functions" / "join_labels"))
from joining import ID, LABEL, ScoredRun, join, labelled_predictions  # noqa: E402

sys.path.pop(0)


def run(version: str, ids: list[str], probabilities: list[float] | None = None) -> ScoredRun:
    return ScoredRun(
        version=version,
        run=f"{version}-run",
        model_package_arn="arn:aws:sagemaker:us-east-1:1:model-package/driftline-dev-t/3",
        data_uri=f"s3://curated/curated/scoring/{version}.parquet",
        predictions=pa.table(
            {
                ID: pa.array(ids, pa.string()),
                names.PROBABILITY_COLUMN: pa.array(probabilities or [0.5] * len(ids)),
            }
        ),
    )


def labels(ids: list[str], values: list[int]) -> pa.Table:
    return pa.table({ID: pa.array(ids, pa.string()), LABEL: pa.array(values, pa.int64())})


def joined(file: pa.Table, earlier: set[str], runs: list[ScoredRun]):  # type: ignore[no-untyped-def]
    return join(
        dataset="scoring",
        labels_dataset="scoring-labels",
        labels_version="l1",
        labels=file,
        earlier_ids=earlier,
        runs=runs,
    )


def test_partial_labels_over_two_batches_with_duplicates_and_unknown_ids() -> None:
    # Given two scored batches, and a labels file that covers part of each, repeats one
    # id, relabels an id an earlier file labelled, and names an id nobody scored
    runs = [run("b1", ["a", "b", "c"]), run("b2", ["d", "e"])]
    file = labels(["a", "a", "b", "d", "x", "c"], [1, 0, 0, 1, 1, 1])
    # When it is joined (an earlier file labelled c)
    result = joined(file, {"c"}, runs)
    report = result.report
    # Then every row is accounted for once: accepted, repeated or labelled before
    assert report.rows == 6
    assert report.accepted == 4  # a (first row), b, d, x
    assert report.duplicate_in_file.rows == 1 and report.duplicate_in_file.examples == ["a"]
    assert report.already_labelled.rows == 1 and report.already_labelled.examples == ["c"]
    assert report.accepted + report.duplicate_in_file.rows + report.already_labelled.rows == 6
    # And the id nobody scored is reported, the scored ones counted per batch
    assert report.never_scored.examples == ["x"]
    assert report.batches == {"b1": 2, "b2": 1}
    # And the repeated id keeps its first label
    accepted = dict(
        zip(result.accepted[ID].to_pylist(), result.accepted[LABEL].to_pylist(), strict=True)
    )
    assert accepted["a"] == 1
    assert [r.version for r in result.touched] == ["b1", "b2"]


def test_labels_of_a_batch_scored_by_no_run_touch_nothing() -> None:
    result = joined(labels(["q"], [1]), set(), [run("b1", ["a"])])
    assert result.touched == [] and result.report.never_scored.rows == 1


def test_late_labels_add_up_and_none_counts_twice() -> None:
    # Given a batch of four, labelled in two files of two (the second repeating one id)
    scored = run("b1", ["a", "b", "c", "d"], [0.9, 0.2, 0.8, 0.1])
    first = joined(labels(["a", "b"], [1, 0]), set(), [scored]).accepted
    second = joined(labels(["b", "c", "d"], [1, 1, 0]), {"a", "b"}, [scored]).accepted
    # When the run's labelled rows are taken from every accepted label
    rows = labelled_predictions(scored, pa.concat_tables([first, second]))
    # Then each id counts once, with its first label
    assert sorted(rows[ID].to_pylist()) == ["a", "b", "c", "d"]
    assert dict(zip(rows[ID].to_pylist(), rows[LABEL].to_pylist(), strict=True))["b"] == 0


def test_quality_measures_match_scikit_learn() -> None:
    # Given labels and scores with ties
    from sklearn.metrics import (
        accuracy_score,
        average_precision_score,
        log_loss,
        roc_auc_score,
    )

    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 2_000).astype(np.float64)
    p = np.round(np.clip(0.3 * y + rng.uniform(0, 0.7, 2_000), 0, 1), 2)
    # When they are measured
    measured = binary_measures(y, p)
    # Then the numbers are scikit-learn's, which the training job reports
    assert measured["auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert measured["average_precision"] == pytest.approx(average_precision_score(y, p), abs=1e-12)
    assert measured["log_loss"] == pytest.approx(log_loss(y, p), abs=1e-9)
    assert measured["accuracy"] == pytest.approx(accuracy_score(y, p >= 0.5), abs=1e-12)
    assert measured["rows"] == 2_000


def test_one_class_leaves_auc_out_and_calibration_compares_rates() -> None:
    y = np.zeros(100)
    p = np.linspace(0.0, 0.99, 100)
    measured = binary_measures(y, p)
    assert "auc" not in measured and "average_precision" not in measured
    bins = calibration(np.r_[np.zeros(50), np.ones(50)], np.linspace(0, 1, 100))
    assert len(bins) == 10 and sum(b.rows for b in bins) == 100
    assert bins[0].observed == 0.0 and bins[-1].observed == 1.0
    assert bins[0].predicted < bins[-1].predicted


class Recorded:
    """The events and SageMaker clients the join function uses, as fakes."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        self.events += Entries
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "1"} for _ in Entries]}

    def describe_model_package(self, ModelPackageName: str) -> dict[str, Any]:  # noqa: N803
        return {"CustomerMetadataProperties": {"metric:test:auc": "0.86"}}


def put_parquet(s3: Any, bucket: str, key: str, table: pa.Table) -> str:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    s3.put_object(Bucket=bucket, Key=key, Body=sink.getvalue())
    return f"s3://{bucket}/{key}"


def test_a_labels_file_measures_the_model_reports_problems_and_feeds_rows_back(
    aws_credentials: None, load_logic: Callable[[str, str], ModuleType]
) -> None:
    with mock_aws():
        s3 = boto3.client("s3")
        for bucket in ("curated", "predictions", "raw"):
            s3.create_bucket(Bucket=bucket)
        # Given a scored batch of 400 transactions whose model ranked them at random
        batch = generate_transactions(400, seed=5, labelled=True)
        features = batch.drop_columns(["is_fraud"])
        data_uri = put_parquet(s3, "curated", "curated/scoring/b1.parquet", features)
        ids = batch["transaction_id"].to_pylist()
        scores = np.random.default_rng(1).uniform(size=400)
        predictions = pa.table({"transaction_id": ids, "probability": scores})
        put_parquet(s3, "predictions", "predictions/scoring/b1/r1/predictions.parquet", predictions)
        manifest = {
            "version": "b1",
            "run": "r1",
            "model_package_arn": "arn:aws:sagemaker:us-east-1:1:model-package/g-transactions/1",
            "data_uri": data_uri,
            "predictions_uri": "s3://predictions/predictions/scoring/b1/r1/predictions.parquet",
        }
        s3.put_object(
            Bucket="predictions",
            Key="predictions/scoring/b1/r1/manifest.json",
            Body=json.dumps(manifest).encode(),
        )
        # And a labels file with every outcome, one id twice and one id nobody scored
        outcomes = pa.table(
            {
                "transaction_id": [*ids, ids[0], "t-ffffffffffff"],
                "is_fraud": [*batch["is_fraud"].to_pylist(), 0, 1],
            }
        )
        labels_uri = put_parquet(s3, "curated", "curated/scoring-labels/l1.parquet", outcomes)
        module = load_logic("join_labels", "labelling")
        fakes = Recorded()
        logic = module.LabelJoining(
            module.Settings(
                curated_bucket="curated",
                predictions_bucket="predictions",
                raw_bucket="raw",
                event_bus_name="bus",
            ),
            module.Services(s3=s3, sagemaker=fakes, events=fakes, obs=observability("join_labels")),
        )
        event = DatasetValidated(
            dataset="scoring-labels",
            kind="labels",
            version="l1",
            contract_version="1.0.0",
            source_bucket="raw",
            source_key="scoring-labels/outcomes.csv",
            source_version_id=None,
            report_uri="s3://curated/reports/scoring-labels/l1.json",
            data_uri=labels_uri,
            manifest_uri="s3://curated/manifests/scoring-labels/l1.json",
            rows=402,
            dropped_rows=0,
        )
        # When it is processed
        report = logic.process(event, datetime(2026, 11, 2, tzinfo=UTC))
        # Then the problems are reported and each id counted once
        assert report["accepted"] == 401
        assert report["duplicate_in_file"]["rows"] == 1
        assert report["never_scored"]["examples"] == ["t-ffffffffffff"]
        # And the model's quality is measured on the 400 labelled rows: degraded from 0.86
        (quality,) = report["model_quality"]
        assert quality["labelled_rows"] == 400 and quality["reference_metric"] == 0.86
        assert quality["metrics"]["auc"] < 0.65 and quality["degraded"] is True
        assert len(quality["calibration"]) == 10
        (degraded,) = fakes.events
        assert degraded["DetailType"] == "ModelQualityDegraded"
        assert json.loads(degraded["Detail"])["training_dataset"] == "transactions"
        # And the 400 labelled scored rows are a training file of the model's dataset
        raw = s3.get_object(Bucket="raw", Key="transactions/feedback-l1.parquet")["Body"].read()
        fed = pq.read_table(io.BytesIO(raw))
        assert fed.num_rows == 400 and "is_fraud" in fed.column_names
        assert set(fed.column_names) <= set(LabelledTransaction.model_fields)
        assert report["feedback"]["inference_versions"] == ["b1"]
        # And a second delivery of the same event changes nothing (the ledger excludes it)
        again = logic.process(event, datetime(2026, 11, 2, tzinfo=UTC))
        assert again["accepted"] == 401 and again["already_labelled"]["rows"] == 0
        assert (
            s3.get_object(Bucket="raw", Key="transactions/feedback-l1.parquet")["Body"].read()
            == raw
        )
