"""Synth checks every contract module on every stage, and deploys only checked ones.

A module that does not load stops ``cdk synth`` (so ``cdk deploy``, ``make deploy`` and
``driftline local up``) with one message naming its file, line and field; the layer
that is deployed carries the manifest functions use to load contracts per dataset.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from driftline_runtime.catalog import ContractsError

from tests.infra.conftest import ROOT, SynthesizedApp, clean_environment, synth

BROKEN = """\
from pydantic import BaseModel

from driftline_runtime.contracts import DatasetSpec


class Loan(BaseModel):
    loan_id: str
    defaulted: int


DATASETS = (
    DatasetSpec(
        name="loans",
        kind="training",
        contract=Loan,
        contract_version="1.0.0",
        id_column="loan_id",
        target="defaulted",
        problme="binary",
    ),
)
"""
BROKEN_MESSAGE = "line 12: DatasetSpec is invalid: problme: Extra inputs are not permitted"


@pytest.fixture
def broken_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "contracts"
    folder.mkdir()
    (folder / "loans.py").write_text(BROKEN)
    return folder


def test_a_broken_module_fails_the_synth_naming_its_file_and_field(
    tmp_path: Path, broken_folder: Path
) -> None:
    # Given a stage whose contracts include a module with a field the spec does not know
    # When the app is synthesized
    with pytest.raises(ContractsError) as raised:
        synth(tmp_path / "out", **{"driftline:extra_contract_folders": str(broken_folder)})
    # Then the synth stops with that module's file, the line and the field
    assert raised.value.problems == [f"{broken_folder}/loans.py, {BROKEN_MESSAGE}"]


def test_cdk_synth_stops_with_one_readable_message(tmp_path: Path, broken_folder: Path) -> None:
    # Given the same broken module; When the CDK CLI synthesizes (as deploy does first)
    result = subprocess.run(
        [str(ROOT / "node_modules" / ".bin" / "cdk"), "synth", "--quiet", "--no-notices"]
        + ["-c", f"driftline:extra_contract_folders={broken_folder}"]
        + ["--output", str(tmp_path / "out")],
        cwd=ROOT,
        env=clean_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    # Then it fails with the problem in one message, not a Python traceback
    assert result.returncode != 0
    assert "error: The dataset contracts have 1 problem:" in result.stderr, result.stderr
    assert f"{broken_folder}/loans.py, {BROKEN_MESSAGE}" in result.stderr
    assert "driftline contracts check" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("stage_app", ["dev_app", "prod_app"])
def test_every_stage_deploys_the_checked_modules_with_their_manifest(
    stage_app: str, request: pytest.FixtureRequest
) -> None:
    # Given a stage synthesized as deploy does
    app: SynthesizedApp = request.getfixturevalue(stage_app)
    # When its contracts layer's asset is opened
    (layer,) = [
        resource
        for resource in app.data.find_resources("AWS::Lambda::LayerVersion").values()
        if "contracts" in resource["Properties"].get("Description", "")
    ]
    key = layer["Properties"]["Content"]["S3Key"]  # <hash>.zip of the folder asset.<hash>
    asset = Path(app.assembly.directory) / f"asset.{key.removesuffix('.zip')}"
    package = asset / "python" / "driftline_contracts"
    # Then it holds the modules and the manifest saying which module declares each dataset
    manifest = json.loads((package / "catalog.json").read_text())
    assert manifest["datasets"] == {
        "scoring": {"module": "transactions", "kind": "inference"},
        "scoring-labels": {"module": "transactions", "kind": "labels"},
        "transactions": {"module": "transactions", "kind": "training"},
        "store-sales": {"module": "store_sales", "kind": "training"},
        "store-sales-batches": {"module": "store_sales", "kind": "inference"},
        "store-sales-labels": {"module": "store_sales", "kind": "labels"},
        "tickets": {"module": "support_tickets", "kind": "training"},
        "ticket-triage": {"module": "support_tickets", "kind": "inference"},
        "ticket-triage-labels": {"module": "support_tickets", "kind": "labels"},
    }
    source = ROOT / "layers" / "contracts" / "python" / "driftline_contracts"
    assert (package / "transactions.py").read_bytes() == (source / "transactions.py").read_bytes()
    # And each module ships its bytecode, compiled for the functions' CPython 3.13 so that no
    # cold start compiles it again on the read-only /opt (unchecked-hash: zip keeps file times
    # to two seconds)
    for module in package.glob("*.py"):
        (compiled,) = (package / "__pycache__").glob(f"{module.stem}.cpython-313.pyc")
        flags = int.from_bytes(compiled.read_bytes()[4:8], "little")
        assert flags == 0b01, f"{compiled.name} is not an unchecked-hash pyc"
    assert not [p for p in package.rglob("*.pyc") if ".cpython-313." not in p.name]
