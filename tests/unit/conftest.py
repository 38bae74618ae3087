"""Unit tests run with the network off: any connection to a host fails loudly.

Connections, not socket creation, are blocked (X-Ray's SDK opens a UDP socket when it
is imported, without sending anything in these tests). A test that needs loopback says
so with ``@pytest.mark.allow_hosts(["127.0.0.1"])``.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from driftline_contracts import datasets

from driftline.samples import generate_transactions
from tests.unit.test_training import END, run_training, write_channels

UNIT = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if UNIT in item.path.parents and item.get_closest_marker("allow_hosts") is None:
            item.add_marker(pytest.mark.allow_hosts([]))


@pytest.fixture(autouse=True)
def stage(monkeypatch: pytest.MonkeyPatch) -> None:
    """What CDK sets on every function: the metrics' stage dimension."""
    monkeypatch.setenv("DRIFTLINE_STAGE", "test")


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.fixture(scope="session")
def labelled() -> pa.Table:
    """Labelled transactions the session's model is trained on (time-ordered)."""
    return generate_transactions(2_500, seed=23, end=END)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory, labelled: pa.Table) -> Path:
    """A model folder (model.joblib, baseline.json, ...) that train.py really trained."""
    root = tmp_path_factory.mktemp("job")
    write_channels(root, labelled)
    # The hyperparameters the prepare step derives from the transactions spec
    spec = datasets()["transactions"]
    columns = {"target_column": spec.target, "id_column": spec.id_column}
    job = run_training(root, hyperparameters={**columns, "features": spec.feature_columns})
    assert job.result.returncode == 0, job.result.stderr
    return job.model_dir
