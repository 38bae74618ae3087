"""A contract module that does not load where the function runs costs only its datasets.

The contracts layer is built as synth builds it (every module checked, the manifest
written) with ``tests/fixtures/contracts/meter_readings.py`` beside the project's
modules, and put on the path as Lambda puts a layer. That module imports pandas, which
this environment has and the function's does not; the test takes pandas away, as the
Lambda environment does, and drives the ingest function on moto.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pyarrow as pa
import pytest
from driftline_runtime.catalog import ContractUnavailable
from driftline_runtime.steps.batch_inference import InferenceRequest

from infra.contracts_layer import ContractsLayer, build_layer
from tests.unit.test_ingest_handler import (
    QUARANTINE,
    RAW,
    SAMPLE,
    Cloud,
    cloud,  # noqa: F401  # a fixture
    invoke,
)

ROOT = Path(__file__).resolve().parents[2]
LAMBDA_ONLY_FAILURE = ROOT / "tests" / "fixtures" / "contracts"
PACKAGE = "driftline_contracts"
# Readings from long ago: the contract, once it loads, finds them stale.
READINGS = b"meter_id,read_at,kwh,tampered\nm-0001,2020-01-01T10:00:00Z,3.5,0\n"
# Where the fixture module imports pandas: the line its error is reported at.
PANDAS_LINE = next(
    number
    for number, line in enumerate((LAMBDA_ONLY_FAILURE / "meter_readings.py").open(), 1)
    if line.startswith("import pandas")
)


def _contract_modules() -> dict[str, ModuleType]:
    return {
        name: module
        for name, module in sys.modules.items()
        if name == PACKAGE or name.startswith(f"{PACKAGE}.")
    }


@pytest.fixture
def contracts_layer(monkeypatch: pytest.MonkeyPatch) -> Iterator[ContractsLayer]:
    """The built contracts layer first on the path instead of the source tree's package,
    and no pandas (the function's environment has none); all restored afterwards."""
    layer = build_layer([LAMBDA_ONLY_FAILURE])
    saved = _contract_modules()
    for name in saved:
        del sys.modules[name]
    monkeypatch.syspath_prepend(str(layer.path / "python"))
    # pyarrow looks for pandas once per process, with its first array: let it look now,
    # so that taking pandas away below affects the contract module only.
    pa.array([], pa.string())
    monkeypatch.setitem(sys.modules, "pandas", None)  # `import pandas` now fails
    try:
        yield layer
    finally:
        for name in _contract_modules():
            del sys.modules[name]
        sys.modules.update(saved)


@pytest.fixture
def lambda_handler(
    cloud: Cloud,  # noqa: F811  # the fixture imported above
    contracts_layer: ContractsLayer,
    load_function: Callable[[str], ModuleType],
) -> ModuleType:
    return load_function("ingest")


def test_the_layer_holds_the_manifest_of_every_module(contracts_layer: ContractsLayer) -> None:
    # Given the layer synth builds with the fixture module; When a function reads the catalog
    from driftline_contracts import declared

    # Then every dataset is known with its module, without importing any module
    assert {name: d.module for name, d in declared().items()} == {
        "meter-readings": "meter_readings",
        "transactions": "transactions",
        "scoring": "transactions",
        "store-sales": "store_sales",
        "store-sales-batches": "store_sales",
        "tickets": "support_tickets",
        "ticket-triage": "support_tickets",
        "scoring-labels": "transactions",
        "store-sales-labels": "store_sales",
        "ticket-triage-labels": "support_tickets",
    }
    assert f"{PACKAGE}.meter_readings" not in sys.modules


def test_a_module_that_does_not_import_quarantines_only_its_own_datasets(
    cloud: Cloud,  # noqa: F811  # the fixture imported above
    lambda_handler: ModuleType,
) -> None:
    # Given the deployed layer holds a module that does not import here (pandas is missing)
    # When a file of its dataset is dropped
    rejected = invoke(lambda_handler, cloud.drop("meter-readings/today.csv", READINGS))
    # Then it is rejected with contract_unavailable, naming the module, the line and the error
    assert rejected["status"] == "rejected"
    (reason,) = rejected["reasons"]
    assert reason["code"] == "contract_unavailable", reason
    assert reason["details"] == {"dataset": "meter-readings"}
    assert reason["message"].startswith(
        "the contract module driftline_contracts.meter_readings, "
        f"which declares 'meter-readings', does not load at line {PANDAS_LINE}: "
        "ModuleNotFoundError: "
    ), reason
    assert "pandas" in reason["message"]
    # And the original is quarantined beside a report, and still where it was dropped
    folder = f"meter-readings/{rejected['version']}"
    assert cloud.keys(QUARANTINE) == [f"{folder}/report.json", f"{folder}/today.csv"]
    assert cloud.read_json(QUARANTINE, f"{folder}/report.json")["reasons"] == [reason]
    assert cloud.keys(RAW) == ["meter-readings/today.csv"]
    # And lineage (what `driftline status` shows) and the bus say so, with the dataset's kind
    (record,) = cloud.lineage()
    assert (record["state"], record["kind"], record["reasons"]) == (
        "rejected",
        "training",
        [reason],
    )
    (event,) = cloud.events()
    assert event["detail-type"] == "DatasetRejected"
    assert event["detail"]["reasons"] == [reason] and event["detail"]["kind"] == "training"

    # When a file of another dataset is dropped to the same function
    validated = invoke(lambda_handler, cloud.drop("transactions/sample.csv", SAMPLE.read_bytes()))
    # Then it is ingested as always
    assert validated["status"] == "validated" and validated["valid_rows"] > 0
    assert [e["detail-type"] for e in cloud.events()] == ["DatasetValidated"]


def test_the_same_file_is_ingested_once_its_contract_loads(
    cloud: Cloud,  # noqa: F811  # the fixture imported above
    lambda_handler: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    load_function: Callable[[str], ModuleType],
) -> None:
    # Given a file quarantined because its contract did not load
    first = invoke(lambda_handler, cloud.drop("meter-readings/today.csv", READINGS))
    assert first["status"] == "rejected"
    # When its module loads again (a fresh environment that has pandas) and the same file
    # is dropped again
    monkeypatch.delitem(sys.modules, "pandas")
    for name in _contract_modules():
        del sys.modules[name]
    fresh = load_function("ingest")
    again = invoke(fresh, cloud.drop("meter-readings/today.csv", READINGS))
    # Then it is judged by its contract this time: a rejection was not a verdict on the content
    assert again["version"] != first["version"]
    assert again["status"] == "rejected"  # read_at is older than the contract's 2 days
    assert again["reasons"][0]["code"] == "table.freshness", again["reasons"]


def test_training_and_scoring_steps_of_such_a_dataset_fail_naming_the_module(
    contracts_layer: ContractsLayer, load_logic: Callable[[str, str], ModuleType]
) -> None:
    # Given the prepare functions' logic, with the layer whose meter_readings module cannot
    # import (the step fails before it calls any service: it is given none)
    training = load_logic("prepare_training", "preparation")
    module = load_logic("prepare_inference", "resolution")
    inference = module.InferenceResolution(
        module.Settings(
            driftline_stage="test",
            model='{"role_arn": "arn:aws:iam::000000000000:role/sagemaker"}',
            curated_bucket="curated",
            artifacts_bucket="artifacts",
            lineage_table="lineage",
            model_package_group_prefix="driftline-test",
            transform=json.dumps(
                {
                    "instance_type": "ml.m5.large",
                    "volume_kms_key": "k",
                    "max_payload_mb": 6,
                    "max_concurrency": 2,
                    "part_size_bytes": 2 * 1024 * 1024,
                }
            ),
        ),
        module.Services(s3=None, registry=None, lineage=None),
    )
    # When their first step asks for its contract, Then it fails with ContractUnavailable,
    # which the state machines' Catch turns into TrainingFailed / InferenceFailed
    contract_module = "driftline_contracts.meter_readings"
    declares = f"{contract_module}, which declares 'meter-readings'"
    with pytest.raises(ContractUnavailable, match=declares):
        training.spec_of("meter-readings")
    with pytest.raises(ContractUnavailable, match=declares):
        inference.resolve(
            InferenceRequest(dataset="meter-readings"), datetime.now(UTC), execution="e-1"
        )
    # And every other dataset's contract loads as before
    assert training.spec_of("transactions").target == "is_fraud"
