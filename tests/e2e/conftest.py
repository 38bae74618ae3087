"""End-to-end tests run against the local cloud, started once for the session.

The session starts the local cloud only if it is not running already, and then stops
it again in a ``finally``: CI starts from nothing and leaves nothing behind, while a
developer's running local cloud is reused and left as it was.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from driftline import deploy
from driftline.localcloud import LocalCloud
from driftline.target import Target


def wait_for[T](
    probe: Callable[[], T | None], timeout: float, what: str, interval: float = 0.1
) -> T:
    """Poll ``probe`` until it returns something other than None, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


@pytest.fixture(scope="session")
def local_cloud() -> Iterator[LocalCloud]:
    cloud = LocalCloud()
    cloud.install()
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
    deploy.bootstrap_local(local_cloud)
    deploy.deploy(local_cloud)
    return target.outputs("data")


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int) -> None:
    if exitstatus != 0 and terminalreporter.stats.get("failed"):
        terminalreporter.section("local cloud log (last lines)")
        terminalreporter.write_line(LocalCloud().log_tail(80))
