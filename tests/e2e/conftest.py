"""End-to-end tests run against the local cloud, started once for the session.

The session starts the local cloud only if it is not running already, and then stops
it again in a ``finally``: CI starts from nothing and leaves nothing behind, while a
developer's running local cloud is reused and left as it was.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

from driftline import deploy
from driftline.actions import EventRecorder, wait_until
from driftline.localcloud import LocalCloud
from driftline.target import Target

__all__ = ["EventRecorder", "wait_for", "write_salted"]


def wait_for[T](
    probe: Callable[[], T | None], timeout: float, what: str, interval: float = 0.1
) -> T:
    """Poll ``probe`` until it returns something other than None, or fail after ``timeout``."""
    return wait_until(probe, timeout, what, interval)


@pytest.fixture(scope="session")
def local_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    cloud = LocalCloud()
    cloud.install()
    with pytest.MonkeyPatch.context() as env:
        if not cloud.is_running():
            # A local cloud the session starts keeps its state in a folder of the
            # session's: it starts empty, whatever a user's `local down` kept, and leaves
            # that kept state as it was.
            env.setenv("DRIFTLINE_LOCAL_STATE_DIR", str(tmp_path_factory.mktemp("kept-state")))
        started_here = cloud.start()
        try:
            yield cloud
        finally:
            if started_here:
                cloud.stop()


@pytest.fixture(scope="session")
def target(local_cloud: LocalCloud) -> Target:
    return Target("local")


@pytest.fixture(scope="session")
def deployed(local_cloud: LocalCloud, target: Target) -> dict[str, str]:
    """The driftline app, deployed with the CDK CLI; returns the data stack's outputs."""
    deploy_once(local_cloud)
    return target.outputs("data")


@functools.cache
def deploy_once(cloud: LocalCloud) -> None:
    """One deployment per test process, however many suites' fixtures ask for it."""
    deploy.deploy_local(cloud)


@pytest.fixture
def recorder(deployed: dict[str, str], target: Target) -> Iterator[EventRecorder]:
    recording = EventRecorder(target, deployed["EventBusName"], ["driftline.ingest"])
    try:
        yield recording
    finally:
        recording.close()


def write_salted(path: Path, table: pa.Table) -> Path:
    """Write ``table`` as CSV with fresh ids: new content, so a new dataset version even on
    a reused local cloud (versions are content hashes)."""
    salt = uuid.uuid4().hex[:4]
    ids = pc.utf8_replace_slice(table.column("transaction_id"), start=2, stop=6, replacement=salt)
    table = table.set_column(table.schema.get_field_index("transaction_id"), "transaction_id", ids)
    pacsv.write_csv(table, path)
    return path


FIRST_ON_A_FRESH_CLOUD = "test_demo.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The demo runs first: on the fresh local cloud a new user's `make demo` gets.

    Its learning loop trains on a window of every training version validated since the
    champion's; after other tests' training files that window holds their data too, and
    whether the challenger clears the gate's margin would depend on which tests ran before.
    The tests after it are written for a cloud that already holds other models.
    """
    first = [item for item in items if item.path.name == FIRST_ON_A_FRESH_CLOUD]
    if first:
        items[:] = first + [item for item in items if item.path.name != FIRST_ON_A_FRESH_CLOUD]


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int) -> None:
    if exitstatus != 0 and terminalreporter.stats.get("failed"):
        terminalreporter.section("local cloud log (last lines)")
        terminalreporter.write_line(LocalCloud().log_tail(80))
