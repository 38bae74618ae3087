"""The local cloud's reading of CloudWatch's embedded metric format
(driftline_localcloud.emf) and its publisher of Lambda log metrics
(driftline_localcloud.lambda_metrics): the metric data an EMF document asks for, as
CloudWatch Logs extracts it on AWS, and nothing from a document that breaks the format."""

from __future__ import annotations

import importlib
import io
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import redirect_stdout
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

ROOT = Path(__file__).resolve().parents[2]
MOMENT_MS = 1_764_400_000_123


@pytest.fixture(scope="module")
def local_modules() -> Iterator[tuple[ModuleType, ModuleType]]:
    sys.path.insert(0, str(ROOT / "local"))
    try:
        yield (
            importlib.import_module("driftline_localcloud.emf"),
            importlib.import_module("driftline_localcloud.lambda_metrics"),
        )
    finally:
        sys.path.remove(str(ROOT / "local"))


@pytest.fixture(scope="module")
def emf(local_modules: tuple[ModuleType, ModuleType]) -> ModuleType:
    return local_modules[0]


@pytest.fixture(scope="module")
def lambda_metrics(local_modules: tuple[ModuleType, ModuleType]) -> ModuleType:
    return local_modules[1]


def document(**root: Any) -> dict[str, Any]:
    return {
        "_aws": {
            "Timestamp": MOMENT_MS,
            "CloudWatchMetrics": [
                {
                    "Namespace": "driftline",
                    "Dimensions": [["stage", "dataset"]],
                    "Metrics": [{"Name": "FilesIngested", "Unit": "Count"}],
                }
            ],
        },
        "stage": "dev",
        "dataset": "transactions",
        "FilesIngested": 1,
        **root,
    }


def test_a_powertools_record_becomes_its_metric_data(emf: ModuleType) -> None:
    # Given the EMF line Powertools prints for one record with stage and dataset dimensions
    record = EphemeralMetrics(namespace="driftline", service="ingest")
    record.add_dimension(name="stage", value="dev")
    record.add_dimension(name="dataset", value="transactions")
    record.add_metadata(key="version", value="v1")
    record.add_metric(name="FilesIngested", unit=MetricUnit.Count, value=1)
    record.add_metric(name="RowsIngested", unit=MetricUnit.Count, value=250)
    printed = io.StringIO()
    with redirect_stdout(printed):
        record.flush_metrics()
    log = f"START RequestId: 1\n{printed.getvalue()}END RequestId: 1\n"

    # When the function's log is read
    extracted = emf.extract_lines(log)

    # Then both metrics are in the namespace with the service, stage and dataset dimensions
    data = extracted.by_namespace["driftline"]
    assert {datum["MetricName"]: datum["Value"] for datum in data} == {
        "FilesIngested": 1.0,
        "RowsIngested": 250.0,
    }
    for datum in data:
        assert {d["Name"]: d["Value"] for d in datum["Dimensions"]} == {
            "service": "ingest",
            "stage": "dev",
            "dataset": "transactions",
        }
        assert datum["Unit"] == "Count"
        assert datum["StorageResolution"] == 60
        assert isinstance(datum["Timestamp"], datetime)


def test_each_dimension_set_makes_its_own_series(emf: ModuleType) -> None:
    # Given a directive with two dimension sets and a high-resolution metric
    line = document()
    line["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = [["stage"], ["stage", "dataset"]]
    line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["StorageResolution"] = 1

    # When it is read
    data = emf.metric_data(json.dumps(line))["driftline"]

    # Then one datum per set, each with only its dimensions, at the document's time
    assert [[d["Name"] for d in datum["Dimensions"]] for datum in data] == [
        ["stage"],
        ["stage", "dataset"],
    ]
    assert all(datum["StorageResolution"] == 1 for datum in data)
    assert data[0]["Timestamp"] == datetime.fromtimestamp(MOMENT_MS / 1000, tz=UTC)


def test_an_array_of_values_is_one_datum_with_values(emf: ModuleType) -> None:
    # Given a metric recorded three times in one document (an array of values)
    line = document(FilesIngested=[1, 2.5, 4])

    # When it is read
    (datum,) = emf.metric_data(json.dumps(line))["driftline"]

    # Then PutMetricData's Values carry all three
    assert datum["Values"] == [1.0, 2.5, 4.0]
    assert "Value" not in datum


def test_no_dimension_set_publishes_without_dimensions_and_unit_defaults_to_none(
    emf: ModuleType,
) -> None:
    # Given a directive with an empty Dimensions array and a metric without a unit
    line = document()
    line["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = []
    del line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"]

    # When it is read
    (datum,) = emf.metric_data(json.dumps(line))["driftline"]

    # Then the metric has no dimensions and the unit None
    assert datum["Dimensions"] == []
    assert datum["Unit"] == "None"


def test_several_directives_and_namespaces(emf: ModuleType) -> None:
    # Given a document whose two directives name two namespaces
    line = document(LabelledRows=40)
    line["_aws"]["CloudWatchMetrics"].append(
        {"Namespace": "other", "Dimensions": [["stage"]], "Metrics": [{"Name": "LabelledRows"}]}
    )

    # When it is read
    extracted = emf.metric_data(json.dumps(line))

    # Then each namespace gets its metric
    assert [d["MetricName"] for d in extracted["driftline"]] == ["FilesIngested"]
    assert [d["MetricName"] for d in extracted["other"]] == ["LabelledRows"]


def _without_timestamp() -> dict[str, Any]:
    line = document()
    del line["_aws"]["Timestamp"]
    return line


def _directive(**changes: Any) -> dict[str, Any]:
    line = document()
    line["_aws"]["CloudWatchMetrics"][0].update(changes)
    return line


INVALID = {
    "no timestamp": (_without_timestamp(), "Timestamp"),
    "timestamp as text": (
        document(_aws={"Timestamp": "now", "CloudWatchMetrics": []}),
        "Timestamp",
    ),
    "no directives": (document(_aws={"Timestamp": MOMENT_MS}), "CloudWatchMetrics"),
    "no namespace": (_directive(Namespace=""), "Namespace"),
    "dimensions not sets": (_directive(Dimensions=["stage"]), "Dimensions[0]"),
    "missing dimension value": (document(dataset=None), "'dataset'"),
    "numeric dimension value": (document(stage=3), "'stage'"),
    "missing metric value": (document(FilesIngested=None), "'FilesIngested'"),
    "text metric value": (document(FilesIngested="1"), "'FilesIngested'"),
    "boolean metric value": (document(FilesIngested=True), "'FilesIngested'"),
    "empty value array": (document(FilesIngested=[]), "'FilesIngested'"),
    "101 values": (document(FilesIngested=list(range(101))), "'FilesIngested'"),
    "unknown unit": (_directive(Metrics=[{"Name": "FilesIngested", "Unit": "Files"}]), "Unit"),
    "resolution 5": (
        _directive(Metrics=[{"Name": "FilesIngested", "StorageResolution": 5}]),
        "StorageResolution",
    ),
    "metric without name": (_directive(Metrics=[{"Unit": "Count"}]), "Name"),
}


@pytest.mark.parametrize(("line", "reason"), INVALID.values(), ids=INVALID.keys())
def test_a_document_that_breaks_the_format_says_why(
    emf: ModuleType, line: dict[str, Any], reason: str
) -> None:
    # Given a document that breaks the specification in one place
    # When it is read
    # Then it is refused, naming the place
    with pytest.raises(emf.InvalidDocument, match=reason.replace("[", r"\[").replace("]", r"\]")):
        emf.metric_data(json.dumps(line))


def test_invalid_documents_are_skipped_with_a_debug_log_and_the_valid_ones_kept(
    emf: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a log with invalid JSON, a broken document, plain lines and one valid document
    log = "\n".join(
        [
            '{"_aws": {"Timestamp": 1, ',
            json.dumps(document(FilesIngested="many")),
            'plain text mentioning "_aws"',
            '{"message": "a JSON log line without metrics"}',
            json.dumps(document(FilesIngested=7)),
        ]
    )

    # When the log is read
    with caplog.at_level(logging.DEBUG, logger=emf.__name__):
        extracted = emf.extract_lines(log)

    # Then only the valid document's metric is kept and each invalid one is logged at debug
    assert [d["Value"] for d in extracted.by_namespace["driftline"]] == [7.0]
    ignored = [r for r in caplog.records if r.message.startswith("Ignored an invalid EMF")]
    assert len(ignored) == 2
    assert all(r.levelno == logging.DEBUG for r in ignored)
    assert "not JSON" in ignored[0].message


def test_a_log_without_the_marker_is_not_parsed(emf: ModuleType) -> None:
    # Given a log whose lines are JSON but carry no _aws member
    log = '{"level": "INFO", "message": "ingested"}\n{"Timestamp": 1}'

    # When it is read
    # Then nothing is extracted
    assert not emf.extract_lines(log)


def test_the_publisher_hands_each_namespace_to_the_sink_and_survives_its_failure(
    lambda_metrics: ModuleType,
) -> None:
    # Given a publisher whose sink fails for one namespace
    stored: list[tuple[str, str, str, list[dict[str, Any]]]] = []

    def sink(account: str, region: str, namespace: str, data: list[dict[str, Any]]) -> None:
        if namespace == "broken":
            raise RuntimeError("database locked")
        stored.append((account, region, namespace, data))

    publisher = lambda_metrics.EmfPublisher(sink)
    other = document()
    other["_aws"]["CloudWatchMetrics"][0]["Namespace"] = "broken"
    log = f"{json.dumps(other)}\n{json.dumps(document())}\n"

    # When a function's log is published
    publisher.publish("000000000000", "eu-west-1", log)

    # Then the healthy namespace is stored for the function's account and region
    assert [(a, r, n, [d["MetricName"] for d in data]) for a, r, n, data in stored] == [
        ("000000000000", "eu-west-1", "driftline", ["FilesIngested"])
    ]
