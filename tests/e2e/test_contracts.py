"""A contract module that does not load in Lambda takes down only its own datasets.

Synth refuses every module that does not import or validate, so a broken module can
reach the local cloud only the way it reaches AWS: by passing synth's check and failing
where the function runs. ``tests/fixtures/contracts/meter_readings.py`` is such a
module: it imports pandas, which the project's environment (where synth checks it) has
and the functions' dependency layer does not. The session's extended deployment has that folder
among the stage's ``extra_contract_folders`` (``tests/e2e/conftest.py``); the test drops a
file of its dataset and one of ``transactions`` to the same ingest function.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from driftline.actions import drop_file
from driftline.cli import main
from driftline.target import Target
from tests.e2e.conftest import EventRecorder
from tests.e2e.test_ingestion import SAMPLES, read_json, unique_copy

pytestmark = pytest.mark.e2e


@pytest.mark.extended_deployment
def test_a_module_that_fails_in_lambda_quarantines_its_datasets_and_no_other(
    extended_deployment: dict[str, str],
    target: Target,
    recorder: EventRecorder,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    outputs = extended_deployment
    # Given a deployed contracts layer whose meter_readings module cannot import in Lambda
    readings = tmp_path / "readings.csv"
    readings.write_text("meter_id,read_at,kwh,tampered\nm-0001,2026-11-01T10:00:00Z,3.5,0\n")
    # When a file of its dataset is dropped
    _, key, version_id = drop_file(target, readings, "meter-readings", None)
    # Then it is rejected with contract_unavailable and the import error
    event = recorder.wait_for("DatasetRejected", key)["detail"]
    (reason,) = event["reasons"]
    assert reason["code"] == "contract_unavailable", reason
    assert reason["message"].startswith(
        "the contract module driftline_contracts.meter_readings, "
        "which declares 'meter-readings', does not load at line "
    ), reason
    assert "ModuleNotFoundError: No module named 'pandas'" in reason["message"]
    assert event["kind"] == "training"
    # And the quarantine holds the original and a report with the same reason
    assert read_json(target, event["report_uri"])["reasons"] == [reason]
    bucket, _, quarantined = event["quarantine_uri"].removeprefix("s3://").partition("/")
    assert target.client("s3").get_object(Bucket=bucket, Key=quarantined)["Body"].read() == (
        readings.read_bytes()
    )
    target.client("s3").head_object(Bucket=outputs["RawBucketName"], Key=key, VersionId=version_id)
    # And `driftline status` shows the rejection and its reason
    assert main(["status", "--json"]) == 0
    statuses = json.loads(capsys.readouterr().out)["datasets"]
    shown: dict[str, Any] = next(d for d in statuses if d["source_key"] == key)
    assert (shown["dataset"], shown["state"], shown["rejection_reasons"]) == (
        "meter-readings",
        "rejected",
        [reason],
    )
    assert shown["reasons"] == [f"{reason['code']}: {reason['message']}"]

    # When a file of another dataset is dropped to the same deployment
    good = unique_copy(tmp_path, SAMPLES / "transactions.csv", "good.csv")
    _, good_key, _ = drop_file(target, good, "transactions", "training")
    # Then it is ingested as always
    validated = recorder.wait_for("DatasetValidated", good_key)["detail"]
    assert validated["dataset"] == "transactions" and validated["rows"] > 0
