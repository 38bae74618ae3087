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
from driftline.localcloud import ACCOUNT_ID, LocalCloud
from driftline.target import Target
from tests.e2e.roles import ensure_roles

__all__ = [
    "ADDED_DATASET_CONTRACTS",
    "BOUNDARY_POLICY",
    "EventRecorder",
    "OWN_TRAINING_CONTRACTS",
    "wait_for",
    "write_salted",
]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# The extended deployment's extra contract folders: a module that imports in the project's
# environment but not in Lambda (meter_readings), a dataset added to a running deployment
# (added_loans) and one with its own training code (parcel_delays).
FAILS_IN_LAMBDA_CONTRACTS = FIXTURES / "contracts"
ADDED_DATASET_CONTRACTS = FIXTURES / "added_dataset"
OWN_TRAINING_CONTRACTS = FIXTURES / "own_training" / "contracts"
EXTRA_CONTRACT_FOLDERS = (
    FAILS_IN_LAMBDA_CONTRACTS,
    ADDED_DATASET_CONTRACTS,
    OWN_TRAINING_CONTRACTS,
)
# The managed policy every role of the extended deployment is bounded by, as an account
# whose guardrails demand a boundary would have it: the services the app uses, and
# explicit denies of what it never does (tests/fixtures/permissions_boundary.json).
BOUNDARY_POLICY = "driftline-e2e-boundary"
BOUNDARY_DOCUMENT = FIXTURES / "permissions_boundary.json"
# What the extended deployment sets besides its contract folders: a large-file threshold
# of 1 MiB, as a test stage would, so tests/e2e/test_large_files.py sends files through
# the Processing job (the other tests' files there are far smaller), and the permissions
# boundary, so every test on it runs with its roles bounded.
EXTENDED_CONTEXT = {
    "driftline:extra_contract_folders": ",".join(str(f) for f in EXTRA_CONTRACT_FOLDERS),
    "driftline:large_file_threshold_mib": "1",
    "driftline:permissions_boundary": BOUNDARY_POLICY,
}
# Whether each instance of the local_cloud fixture started the local cloud. The
# reliability suite's conftest registers the same fixture again, so a session that runs
# both suites holds two instances, the second finding the cloud the first started: the
# session started it (and stops it at its end) when any instance did.
_STARTED_HERE: list[bool] = []


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
        _STARTED_HERE.append(started_here)
        try:
            yield cloud
        finally:
            if started_here:
                cloud.stop()


@pytest.fixture(scope="session")
def target(local_cloud: LocalCloud) -> Target:
    return Target("local")


@pytest.fixture(scope="session")
def test_roles(target: Target) -> None:
    """The roles the tests give what they create (``tests/e2e/roles.py``), in place."""
    ensure_roles(target.client("iam"))


@pytest.fixture(scope="session")
def deployed(local_cloud: LocalCloud, target: Target) -> dict[str, str]:
    """The driftline app, deployed with the CDK CLI; returns the data stack's outputs."""
    deploy_once(local_cloud)
    return target.outputs("data")


@pytest.fixture(scope="session")
def extended_deployment(
    local_cloud: LocalCloud, deployed: dict[str, str]
) -> Iterator[dict[str, str]]:
    """The running app deployed again with the test contract folders, as `driftline local
    up` deploys a stage whose ``extra_contract_folders`` grew, a large-file threshold
    of 1 MiB and every role bounded by ``BOUNDARY_POLICY``, created first as the account's
    administrators would (``EXTENDED_CONTEXT``); the data stack's outputs.

    One deployment serves every test marked ``extended_deployment``, which the session
    runs last (each deployment takes about a minute). A local cloud the session started
    stops right after; a developer's running one gets the plain app back.
    """
    boundary = put_boundary_policy(Target("local"))
    deploy.deploy(local_cloud, EXTENDED_CONTEXT)
    try:
        yield deployed
    finally:
        if not any(_STARTED_HERE):
            deploy.deploy(local_cloud)
            Target("local").client("iam").delete_policy(PolicyArn=boundary)


def put_boundary_policy(target: Target) -> str:
    """Create ``BOUNDARY_POLICY`` from its document, or make the document its default
    version when a kept local cloud has it already; its ARN."""
    iam = target.client("iam")
    document = BOUNDARY_DOCUMENT.read_text()
    try:
        return str(
            iam.create_policy(PolicyName=BOUNDARY_POLICY, PolicyDocument=document)["Policy"]["Arn"]
        )
    except iam.exceptions.EntityAlreadyExistsException:
        arn = f"arn:aws:iam::{ACCOUNT_ID}:policy/{BOUNDARY_POLICY}"
    for version in iam.list_policy_versions(PolicyArn=arn)["Versions"]:
        if not version["IsDefaultVersion"]:  # IAM keeps five versions at most
            iam.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=document, SetAsDefault=True)
    return arn


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
    """The demo runs first, and the tests on the extended deployment run last.

    The demo meets the fresh local cloud a new user's `make demo` gets: its learning loop
    trains on a window of every training version validated since the champion's, so after
    other tests' training files that window would hold their data too, and whether the
    challenger clears the gate's margin would depend on which tests ran before. The tests
    after it are written for a cloud that already holds other models. The extended
    deployment's tests share one deployment that the rest of the suite does not expect.
    """
    first = [item for item in items if item.path.name == FIRST_ON_A_FRESH_CLOUD]
    last = [item for item in items if item.get_closest_marker("extended_deployment")]
    placed = {id(item) for item in first + last}
    items[:] = first + [item for item in items if id(item) not in placed] + last


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int) -> None:
    if exitstatus != 0 and terminalreporter.stats.get("failed"):
        terminalreporter.section("local cloud log (last lines)")
        terminalreporter.write_line(LocalCloud().log_tail(80))
