"""Every command, in every state in which a user can miss a precondition: the message,
the exit code, and never a traceback.

States of the environment (the local cloud not running; driftline not deployed on it;
no AWS region; no AWS credentials; the stacks missing in that AWS account and region;
the port taken) are run against every command. "AWS" here is the session's local cloud
reached through AWS_ENDPOINT_URL with ``--target aws``: the code path a real account
takes, with an account where stage ``prod`` was never deployed. Bad arguments (an
undeclared dataset, a missing file, an unknown format) are run against every command
that takes one. Commands run in-process through ``driftline.cli.main``; one per state
runs as its own process too, through the installed ``driftline`` script.
"""

from __future__ import annotations

import functools
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from driftline.cli import SAMPLES, main
from driftline.cli import local as local_commands
from driftline.localcloud import LocalCloud

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
GOOD = SAMPLES / "transactions.csv"
DRIFTLINE = Path(sys.executable).parent / "driftline"
# Commands that need the target and a deployed app.
CLOUD = ("drop", "train", "infer", "status", "logs", "report")


@dataclass(frozen=True)
class Expect:
    code: int
    says: tuple[str, ...] = ()


@dataclass(frozen=True)
class NotRun:
    """A command a state does not apply to, and why."""

    reason: str


def commands(tmp: Path) -> dict[str, list[str]]:
    """Every command, with arguments that are right in a working setup."""
    saved = tmp / "saved-report.json"
    saved.write_text(
        json.dumps(
            {
                "generated_at": "2026-11-29T10:00:00+00:00",
                "target": "a saved document",
                "status": {},
                "drift_reports": [],
                "lineage": [],
            }
        )
    )
    return {
        "--version": ["--version"],
        "local install": ["local", "install"],
        "local up": ["local", "up", "--no-deploy"],
        "local down": ["local", "down"],
        "drop": ["drop", str(GOOD), "--dataset", "transactions"],
        "drop --check": ["drop", str(GOOD), "--dataset", "transactions", "--check"],
        "train": ["train", "transactions"],
        "infer": ["infer", "scoring"],
        "status": ["status"],
        "logs": ["logs", "ingest"],
        "report": ["report", "--out", str(tmp / "report.html")],
        "report --from-json": ["report", "--from-json", str(saved), "--out", str(tmp / "r.html")],
        "sample": ["sample", str(tmp / "sample.csv"), "--rows", "10"],
        "contracts check": ["contracts", "check"],
        "demo": ["demo"],
    }


# Commands that need neither the cloud nor AWS: they work in every state.
WORKS_ANYWHERE = {
    "--version": Expect(0),
    "local install": Expect(0),
    "local down": Expect(0, ("local cloud was not running",)),
    "drop --check": Expect(0),
    "report --from-json": Expect(0),
    "sample": Expect(0),
    "contracts check": Expect(0),
}
LOCAL_ONLY = Expect(2, ("This command runs on the local cloud only", "Leave out --target aws"))


def expectations(
    cloud_says: Expect, local_up: Expect | NotRun, demo: Expect | NotRun
) -> dict[str, Expect | NotRun]:
    return {
        **WORKS_ANYWHERE,
        **dict.fromkeys(CLOUD, cloud_says),
        "local up": local_up,
        "demo": demo,
    }


@dataclass(frozen=True)
class State:
    options: tuple[str, ...]
    expect: dict[str, Expect | NotRun]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port some other program listens on (and never answers)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


def aws_without(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An AWS configuration of nothing: no files, no profile, no instance metadata."""
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "DRIFTLINE_TARGET",
        "DRIFTLINE_STAGE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def state(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, request: pytest.FixtureRequest
) -> State:
    """Put the environment in state ``name``; returns the options and what to expect."""
    aws_without(monkeypatch, tmp_path)
    if name == "local cloud not running":
        port = free_port()
        monkeypatch.setenv("DRIFTLINE_LOCAL_PORT", str(port))
        starts = NotRun("it starts the local cloud: the fix itself (the e2e session runs it)")
        return State(
            (),
            expectations(
                Expect(
                    2,
                    (
                        f"The local cloud is not running on http://127.0.0.1:{port}.",
                        "Start it with `driftline local up`",
                    ),
                ),
                starts,
                starts,
            ),
        )
    if name == "port taken":
        port = request.getfixturevalue("taken_port")
        monkeypatch.setenv("DRIFTLINE_LOCAL_PORT", str(port))
        taken = Expect(
            2,
            (
                f"Port {port} on 127.0.0.1 is already in use by another program.",
                "choose another port with DRIFTLINE_LOCAL_PORT",
            ),
        )
        return State(
            (),
            expectations(
                Expect(
                    2,
                    (
                        f"The local cloud is not running on http://127.0.0.1:{port} (another "
                        f"program listens on port {port}).",
                    ),
                ),
                taken,
                taken,
            ),
        )
    cloud: LocalCloud = request.getfixturevalue("local_cloud")
    if name == "driftline not deployed":
        return State(
            ("--stage", "prod"),
            expectations(
                Expect(
                    2,
                    (
                        "driftline (stage prod) is not deployed on the local cloud: stack "
                        "driftline-prod-data is missing.",
                        "Deploy it with `driftline --stage prod local up`.",
                    ),
                ),
                NotRun("it deploys stage prod: the fix itself (a minute of cdk)"),
                Expect(2, ("The demo runs stage dev, not prod",)),
            ),
        )
    if name == "no AWS region":
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
        return State(
            ("--target", "aws"),
            expectations(
                Expect(2, ("No AWS region is set for --target aws.", "Set AWS_REGION")),
                LOCAL_ONLY,
                LOCAL_ONLY,
            ),
        )
    if name == "no AWS credentials":
        monkeypatch.setenv("AWS_REGION", "eu-west-1")
        return State(
            ("--target", "aws"),
            expectations(
                Expect(2, ("No AWS credentials were found for --target aws.", "aws configure")),
                LOCAL_ONLY,
                LOCAL_ONLY,
            ),
        )
    assert name == "stacks missing in the AWS account"
    for variable, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": cloud.endpoint,
    }.items():
        monkeypatch.setenv(variable, value)
    return State(
        ("--target", "aws", "--stage", "prod"),
        expectations(
            Expect(
                2,
                (
                    "Stack driftline-prod-data does not exist in AWS account 000000000000, "
                    "region us-east-1.",
                    "Deploy with `make deploy`",
                ),
            ),
            LOCAL_ONLY,
            LOCAL_ONLY,
        ),
    )


STATES = (
    "local cloud not running",
    "port taken",
    "driftline not deployed",
    "no AWS region",
    "no AWS credentials",
    "stacks missing in the AWS account",
)


def check(code: int, out: str, err: str, expect: Expect, what: str) -> None:
    assert "Traceback" not in out + err, what
    assert code == expect.code, f"{what}: exit {code}\n{err[-2000:]}"
    if expect.code == 0:
        assert "error:" not in err, what
    else:  # one line: the error and its fix
        assert err.startswith("error: ") and err.count("\n") == 1, f"{what}: {err!r}"
    for text in expect.says:
        assert text in err, f"{what}: {text!r} not in {err!r}"


@pytest.fixture
def no_local_state(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`local down` acts on a local cloud of its own here: the session's must keep running."""
    monkeypatch.setattr(
        local_commands, "LocalCloud", functools.partial(LocalCloud, state=tmp_path / "state")
    )


@pytest.mark.parametrize("name", STATES)
def test_every_command_in_every_state_says_what_to_fix(
    name: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
    no_local_state: None,
) -> None:
    # Given the environment in this state, and every command's right arguments
    given = state(name, monkeypatch, tmp_path, request)
    argv = commands(tmp_path)
    assert set(given.expect) == set(argv), "every command has an expectation in every state"
    for command, expect in given.expect.items():
        if isinstance(expect, NotRun):
            continue
        # When the command runs
        code = main([*given.options, *argv[command]])
        captured = capsys.readouterr()
        # Then it says what to fix in one line, with the exit code of its kind
        check(code, captured.out, captured.err, expect, f"{name}: {command}")


@pytest.mark.parametrize("name", STATES)
def test_the_installed_command_prints_no_traceback_either(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # Given the state, when `driftline status` runs as its own process
    given = state(name, monkeypatch, tmp_path, request)
    result = subprocess.run(
        [str(DRIFTLINE), *given.options, "status"], capture_output=True, text=True, timeout=120
    )
    # Then it is the same one line and exit code
    expect = given.expect["status"]
    assert isinstance(expect, Expect)
    check(result.returncode, result.stdout, result.stderr, expect, f"{name}: status (process)")


BAD_ARGUMENTS: dict[str, tuple[list[list[str]], Expect]] = {
    "an undeclared dataset": (
        [
            ["drop", str(GOOD), "--dataset", "nosuch"],
            ["drop", str(GOOD), "--dataset", "nosuch", "--check"],
            ["train", "nosuch"],
            ["infer", "nosuch"],
        ],
        Expect(
            2,
            (
                "'nosuch' is not a declared dataset.",
                "Declared: scoring, scoring-labels, store-sales, store-sales-batches, "
                "store-sales-labels, ticket-triage, ticket-triage-labels, tickets, transactions",
            ),
        ),
    ),
    "a dataset of the other kind": (
        [
            ["drop", str(GOOD), "--dataset", "scoring", "--kind", "training"],
            ["train", "scoring"],
            ["infer", "transactions"],
        ],
        Expect(2, ("is a dataset of kind",)),
    ),
    "a missing file": (
        [
            ["drop", "missing.csv", "--dataset", "transactions"],
            ["drop", "missing.csv", "--dataset", "transactions", "--check"],
            ["report", "--from-json", "missing.json"],
        ],
        Expect(2, ("does not exist. Check the path.",)),
    ),
    "a missing folder": (
        [["contracts", "check", "--extra", "absent-folder"]],
        Expect(2, ("is not a folder. Check the path",)),
    ),
    "an unknown format": (
        [
            ["drop", str(ROOT / "README.md"), "--dataset", "transactions"],
            ["drop", str(ROOT / "README.md"), "--dataset", "transactions", "--check"],
            ["sample", "out.txt"],
        ],
        Expect(2, ("not a format", ".csv")),
    ),
}


@pytest.mark.parametrize("name", BAD_ARGUMENTS)
def test_bad_arguments_are_named_before_the_cloud_is_asked_anything(
    name: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given no local cloud at all (arguments are checked first)
    monkeypatch.setenv("DRIFTLINE_LOCAL_PORT", str(free_port()))
    monkeypatch.chdir(tmp_path)
    argvs, expect = BAD_ARGUMENTS[name]
    for argv in argvs:
        # When a command gets the bad argument, then it names it and exits 2
        code = main(argv)
        captured = capsys.readouterr()
        check(code, captured.out, captured.err, expect, f"{name}: {' '.join(argv)}")
    assert not list(tmp_path.iterdir()), "nothing is written"


def test_debug_shows_where_a_precondition_failed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DRIFTLINE_LOCAL_PORT", str(free_port()))
    assert main(["--debug", "status"]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "local_cloud_running" in err
    assert err.splitlines()[-1].startswith("error: The local cloud is not running")


def test_a_version_that_is_not_validated_is_named_with_the_newest_ones(
    deployed: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    # When training is asked for on a version that does not exist
    code = main(["train", "transactions", "--version", "0000nosuch"])
    captured = capsys.readouterr()
    # Then nothing starts, and the message names the newest validated versions
    check(
        code,
        captured.out,
        captured.err,
        Expect(
            2,
            (
                "'0000nosuch' names no validated version of 'transactions'.",
                "`driftline status` lists all",
            ),
        ),
        "train --version",
    )
