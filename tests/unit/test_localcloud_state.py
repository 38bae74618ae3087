"""What decides whether `driftline local up` deploys into a local cloud that kept its state."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from driftline import localcloud_state as kept


@pytest.fixture(autouse=True)
def default_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRIFTLINE_LOCAL_STATE_DIR", raising=False)


@pytest.fixture
def app(tmp_path: Path) -> Path:
    root = tmp_path / "app"
    (root / "functions" / "ingest").mkdir(parents=True)
    (root / "functions" / "ingest" / "handler.py").write_text("def handler(e, c): ...\n")
    (root / "functions" / "ingest" / "__pycache__").mkdir()
    (root / "functions" / "ingest" / "__pycache__" / "handler.pyc").write_bytes(b"x")
    (root / "contracts_extra").mkdir()
    (root / "contracts_extra" / "loans.py").write_text("SPEC = 1\n")
    stages = {"dev": {"extra_contract_folders": ["contracts_extra"]}, "prod": {}}
    (root / "cdk.json").write_text(json.dumps({"context": {"driftline:stages": stages}}))
    return root


def test_the_digest_follows_the_sources_the_stage_and_its_extra_contracts(app: Path) -> None:
    # Given the digest of the app as it is
    first = kept.app_digest("dev", app)
    # Then it is stable, ignores bytecode, and differs per stage
    (app / "functions" / "ingest" / "__pycache__" / "handler.pyc").write_bytes(b"y")
    assert kept.app_digest("dev", app) == first
    assert kept.app_digest("prod", app) != first
    # When a function's source or an extra contract folder of the stage changes
    (app / "functions" / "ingest" / "handler.py").write_text("def handler(e, c): return 1\n")
    changed_source = kept.app_digest("dev", app)
    (app / "contracts_extra" / "loans.py").write_text("SPEC = 2\n")
    # Then the digest changes each time
    assert len({first, changed_source, kept.app_digest("dev", app)}) == 3


def test_a_recorded_deploy_is_per_stage_and_forgotten_on_request(tmp_path: Path) -> None:
    # Given deploys recorded for two stages
    kept.record_deploy(tmp_path, "dev", "a")
    kept.record_deploy(tmp_path, "prod", "b")
    assert (kept.deployed_digest(tmp_path, "dev"), kept.deployed_digest(tmp_path, "prod")) == (
        "a",
        "b",
    )
    # When another deploy starts, then no stage counts as current
    kept.forget_deploys(tmp_path)
    assert kept.deployed_digest(tmp_path, "dev") is None
    # And forgetting the state removes the folder the local cloud loads from
    kept.record_deploy(tmp_path, "dev", "a")
    assert kept.forget(tmp_path) is True
    assert not kept.folder(tmp_path).exists() and kept.forget(tmp_path) is False


def test_persistence_is_on_unless_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRIFTLINE_LOCAL_PERSISTENCE", raising=False)
    assert kept.enabled() is True
    monkeypatch.setenv("DRIFTLINE_LOCAL_PERSISTENCE", "0")
    assert kept.enabled() is False


def test_the_kept_state_lives_in_the_named_folder_when_one_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a local cloud's folder, and then another folder named for its kept state
    assert kept.folder(tmp_path / "cloud") == tmp_path / "cloud" / "state"
    monkeypatch.setenv("DRIFTLINE_LOCAL_STATE_DIR", str(tmp_path / "elsewhere"))
    # When a deploy is recorded and then forgotten
    kept.record_deploy(tmp_path / "cloud", "dev", "abc")
    recorded = kept.deployed_digest(tmp_path / "cloud", "dev")
    forgotten = kept.forget(tmp_path / "cloud")
    # Then both happened in the named folder, and the local cloud's own has nothing
    assert recorded == "abc"
    assert forgotten is True
    assert not (tmp_path / "elsewhere").exists()
    assert not (tmp_path / "cloud" / "state").exists()
