"""The human view of `driftline status` (driftline.status_view): the JSON's facts as tables."""

from __future__ import annotations

import re
from io import StringIO
from typing import Any

import pytest
from rich.console import Console

from driftline.status_view import print_status, top_drifted
from tests.unit.status_document import HOSTILE, full_status


def shown(status: dict[str, Any], width: int = 250) -> str:
    out = StringIO()
    print_status(status, Console(file=out, width=width, force_terminal=False))
    return out.getvalue()


def row(text: str, *cells: str) -> bool:
    """Whether one table row holds these cells in this order."""
    pattern = r"│\s*" + r"\s*│\s*".join(re.escape(cell) for cell in cells) + r"\s*│"
    return re.search(pattern, text) is not None


def test_every_part_of_the_document_becomes_a_table_with_its_facts() -> None:
    text = shown(full_status())
    # Datasets, with the rejection's reason and report below
    assert row(
        text, "transactions", "training", "a3f2d893", "validated", "2000", "20261127T100020Z-t.csv"
    )
    assert row(text, "transactions", "training", "f58d9031", "rejected", "300")
    assert "transactions f58d9031: amount.gt: 15 of 300 rows fail" in text
    assert "report: reports/bad.json" in text
    # Models with the primary metric first, then the other test metrics
    assert re.search(r"approval\s*┃\s*test:auc\s*┃\s*test:accuracy", text)
    assert row(text, "g-transactions", "1", "Approved", "0.874", "0.970")
    assert row(text, "g-transactions", "2", "Rejected", "0.812", "0.960")
    # Inference runs, the package ARN as its group and version
    assert row(
        text,
        "scoring",
        "b542644e",
        "Completed",
        "g-transactions v1",
        "500",
        "drifted",
        "s3://artifacts/predictions/b542/",
        "4.0 s",
    )
    # Drift events with the top drifted features by score
    assert row(
        text,
        "scoring",
        "b542644e",
        "2026-11-27 10:01:05",
        "3 of 3",
        "amount 2.50, prediction 1.20, channel 0.90",
    )
    # Endpoints with the model each variant serves and when the last deployment ended
    assert row(
        text,
        "dl-dev-transactions-live",
        "transactions",
        "2",
        "InService",
        "champion v2 (1)",
        "deployed",
        "2026-11-27 10:05:48",
    )
    # Retrainings with what asked for each, and the ones the cooldown held back
    assert row(
        text,
        "transactions",
        "drift in scoring",
        "b542644e",
        "drift-b542",
        "RUNNING",
        "2026-11-27 10:01:06",
        "-",
    )
    assert row(
        text, "transactions", "model quality in scoring", "b542644e", "-", "WAITING_FOR_LABELS"
    )
    assert row(
        text, "transactions", "2026-11-27 10:02:00", "scoring", "c0ffee00", "2026-11-27 11:01:06"
    )
    # Executions with their duration
    assert row(text, "training", "-", "SUCCEEDED", "2026-11-27 10:00:21", "7.0 s")
    # Failures, each with the command whose log lines explain it
    assert row(
        text,
        "dataset version",
        "transactions f58d9031514fc045",
        "rejected",
        "amount.gt: 15 of 300 rows fail",
        "driftline logs transactions/20261127T100028Z-bad.csv",
    )
    titles = [
        "Dataset versions",
        "Models",
        "Inference runs",
        "Drift events",
        "Retrainings",
        "Retrainings held back by the cooldown",
        "Executions",
        "Failures, and the command whose log lines explain each",
    ]
    assert [t for t in titles if re.search(rf"^{re.escape(t)}\s*$", text, re.M)] == titles


@pytest.mark.parametrize("status", [{}, {key: [] for key in full_status()}])
def test_absent_or_empty_lists_print_no_empty_tables(status: dict[str, Any]) -> None:
    text = shown(status)
    assert "No dataset versions yet" in text
    assert "│" not in text


def test_only_the_parts_present_are_shown() -> None:
    status = full_status()
    del status["inference_runs"], status["drift_events"]
    status["retrainings"] = []
    text = shown(status)
    assert "Models" in text and "Executions" in text
    assert "Inference runs" not in text and "Drift events" not in text
    assert not re.search(r"^Retrainings\s*$", text, re.M)


def test_user_text_is_shown_as_it_is_never_as_markup() -> None:
    status = full_status(dataset="[bold]x[/]" + HOSTILE)
    status["datasets"][1]["reasons"] = ["[red]not markup[/red]"]
    text = shown(status)
    assert "[bold]x[/]" + HOSTILE in text
    assert "[red]not markup[/red]" in text


def test_top_drifted_names_the_largest_scores_and_counts_the_rest() -> None:
    event = {
        "features": {"a": 0.3, "b": 2.0, "c": 0.25, "d": 0.9, "__prediction__": 0.5},
        "drifted_features": ["a", "b", "c", "d", "__prediction__"],
    }
    assert top_drifted(event) == "b 2.00, d 0.90, prediction 0.50 (+2 more)"
    assert top_drifted({"features": {"a": 0.01}, "drifted_features": []}) == "none"


def test_a_batch_too_small_for_a_verdict_is_shown_as_such() -> None:
    # Given an inference run whose drift monitor had too few rows for a verdict
    status = full_status()
    status["inference_runs"][0].update(
        rows=20, drifted=False, drift_outcome="insufficient_rows", drift_min_rows=50
    )
    # Then its drift column says so instead of "no drift"
    text = shown(status)
    assert row(text, "scoring", "b542644e", "Completed", "g-transactions v1", "20", "too few rows")
    assert "no drift" not in text


def test_model_quality_and_the_paired_champion_are_shown() -> None:
    from rich.console import Console

    from driftline.status_view import status_tables

    # Given a model evaluated against a champion, and a measured batch
    status = {
        "models": [
            {
                "group": "driftline-dev-transactions",
                "version": 2,
                "approval": "Approved",
                "metrics": {"test:auc": 0.83},
                "evaluation": {
                    "holdout": {"id": "sha256:00", "rows": 900, "split": "time"},
                    "challenger": 0.83,
                    "champion": {"model_version": "1", "metric": 0.71},
                },
            }
        ],
        "model_quality": [
            {
                "dataset": "scoring",
                "version": "abcdef0123456789",
                "model_group": "driftline-dev-transactions",
                "model_version": "1",
                "labelled_rows": 600,
                "metrics": {"auc": 0.44},
                "primary_metric": "auc",
                "reference_metric": 0.86,
                "degraded": True,
            }
        ],
    }
    # When the tables are printed
    console = Console(width=200, record=True)
    for table in status_tables(status):
        console.print(table)
    text = console.export_text()
    # Then the champion's number on the same holdout and the measured quality are there
    assert "v1: 0.710" in text
    assert "Model quality measured on labels" in text and "degraded" in text
    assert "auc 0.440" in text and "0.860" in text


def test_a_window_too_long_for_the_metadata_is_read_from_the_runs_manifest() -> None:
    import json

    from driftline.evaluations import training_versions

    # Given a package whose window did not fit a metadata value
    metadata = {
        "training_versions": "40 versions",
        "training_manifest": "s3://artifacts/training/transactions/job/manifest.json",
    }
    manifest = {"versions": [{"version": f"v{n}"} for n in range(40)]}
    read: list[str] = []

    def reader(uri: str) -> bytes:
        read.append(uri)
        return json.dumps(manifest).encode()

    # Then the versions come from the run's manifest; a short window from the metadata
    assert training_versions(metadata, reader) == [f"v{n}" for n in range(40)]
    assert read == [metadata["training_manifest"]]
    assert training_versions({"training_versions": "a,b"}, reader) == ["a", "b"]
    assert training_versions({"dataset_version": "a"}) == ["a"]


def test_the_paired_evaluation_reads_each_packages_own_primary_metric() -> None:
    from driftline.evaluations import evaluation

    # Given a regression package judged by its RMSE against its champion's on one holdout
    metadata = {
        "primary_metric": "test:rmse",
        "metric:test:rmse": "253.2148",
        "metric:test:r2": "0.84",
        "holdout": "sha256:3882261f3acfa4c6",
        "holdout_rows": "540",
        "holdout_split": "time",
        "champion_version": "1",
        "champion_metric": "262.883",
    }
    # Then the challenger's number is its RMSE beside the champion's
    assert evaluation(metadata) == {
        "holdout": {"id": "sha256:3882261f3acfa4c6", "rows": 540, "split": "time"},
        "challenger": 253.2148,
        "champion": {"model_version": "1", "metric": 262.883},
    }
    # And a package registered before the primary metric was recorded was judged by AUC
    assert evaluation({"metric:test:auc": "0.9"})["challenger"] == 0.9
