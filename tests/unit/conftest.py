"""Unit tests run with the network off: any connection to a host fails loudly.

Connections, not socket creation, are blocked (X-Ray's SDK opens a UDP socket when it
is imported, without sending anything in these tests). A test that needs loopback says
so with ``@pytest.mark.allow_hosts(["127.0.0.1"])``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

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
