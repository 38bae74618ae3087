"""The CLI's contract with users: exit codes, one-line errors, --debug, --json, help.

Every state a user can be in is run against every command in
``tests/e2e/test_cli_states.py``; these tests pin the pieces that need no cloud.
"""

from __future__ import annotations

import functools
import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from botocore import exceptions as aws

from driftline import samples
from driftline.cli import SAMPLES, app, main
from driftline.cli import local as local_commands
from driftline.cli.failures import explain
from driftline.errors import DriftlineError, PreconditionFailed
from driftline.localcloud import LocalCloud
from driftline.status import failures
from driftline.target import Target


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def command_paths() -> list[list[str]]:
    paths = [[c.name or c.callback.__name__] for c in app.registered_commands]  # type: ignore[union-attr]
    for group in app.registered_groups:
        assert group.typer_instance is not None
        paths += [
            [group.name or "", c.name or ""] for c in group.typer_instance.registered_commands
        ]
    return paths


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--version") == (0, f"driftline {version('driftline')}\n", "")


@pytest.mark.parametrize("path", command_paths(), ids=" ".join)
def test_every_command_explains_itself_with_an_example(
    path: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # When a user asks a command for help
    code, out, _ = run(capsys, *path, "--help")
    # Then it answers, with at least one example that runs the command itself
    assert code == 0
    assert "Example" in out
    assert f"driftline {' '.join(path)}" in out or f"driftline {path[-1]}" in out


def test_a_wrong_command_line_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["nosuch"], ["drop", "x.csv"], ["--target", "mars", "status"]):
        code, out, err = run(capsys, *argv)
        assert code == 2, argv
        assert err.startswith("error: ") and err.count("\n") == 1, err
        assert "Traceback" not in err


def test_an_unexpected_error_is_one_line_unless_debug_is_asked_for(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a command that fails in a way nobody anticipated
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ZeroDivisionError("deep inside")

    monkeypatch.setattr(samples, "generate_transactions", broken)
    out = str(tmp_path / "x.csv")
    # When it runs plainly, then with --debug, then with DRIFTLINE_DEBUG=1
    plain = run(capsys, "sample", out)
    debug = run(capsys, "--debug", "sample", out)
    monkeypatch.setenv("DRIFTLINE_DEBUG", "1")
    from_environment = run(capsys, "sample", out)
    # Then it exits 1 with one line naming the error, and the traceback only when asked
    assert plain[0] == debug[0] == from_environment[0] == 1
    assert plain[2] == (
        "error: Unexpected error ZeroDivisionError: deep inside. Run again with --debug to "
        "see where it happened.\n"
    )
    for _, _, err in (debug, from_environment):
        assert "Traceback (most recent call last)" in err and 'raise ZeroDivisionError("deep' in err
        assert err.splitlines()[-1].startswith("error: Unexpected error ZeroDivisionError")


def test_with_json_an_error_is_also_a_json_document_on_stdout(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # When a command run with --json misses a precondition
    code, out, err = run(
        capsys, "drop", str(tmp_path / "gone.csv"), "--dataset", "transactions", "--json"
    )
    # Then stdout holds the error's code, message and fix, and stderr the usual line
    assert code == 2
    assert json.loads(out) == {
        "error": {
            "code": "file_missing",
            "message": f"{tmp_path / 'gone.csv'} does not exist",
            "fix": "Check the path.",
            "exit_code": 2,
        }
    }
    assert err == f"error: {tmp_path / 'gone.csv'} does not exist. Check the path.\n"


def client_error(code: str) -> aws.ClientError:
    return aws.ClientError({"Error": {"Code": code, "Message": "said AWS"}}, "DescribeStacks")


@pytest.mark.parametrize(
    ("error", "target", "kind", "code"),
    [
        (aws.NoRegionError(), "aws", PreconditionFailed, "no_region"),
        (aws.NoCredentialsError(), "aws", PreconditionFailed, "no_credentials"),
        (aws.ProfileNotFound(profile="work"), "aws", PreconditionFailed, "no_credentials"),
        (client_error("ExpiredToken"), "aws", PreconditionFailed, "bad_credentials"),
        (client_error("AccessDenied"), "aws", DriftlineError, "aws_error"),
        (
            aws.EndpointConnectionError(endpoint_url="http://x"),
            "local",
            PreconditionFailed,
            "local_cloud_not_running",
        ),
        (
            aws.EndpointConnectionError(endpoint_url="http://x"),
            "aws",
            DriftlineError,
            "unreachable",
        ),
        (PermissionError(13, "Permission denied", "out.html"), "local", DriftlineError, "os_error"),
        (KeyError("x"), "local", DriftlineError, "unexpected"),
    ],
)
def test_errors_of_the_aws_sdk_become_driftline_errors_by_type_and_code(
    error: Exception, target: str, kind: type[DriftlineError], code: str
) -> None:
    explained = explain(error, target, "http://127.0.0.1:4566")
    assert type(explained) is kind
    assert explained.code == code


def test_a_precondition_message_names_the_fix_in_one_line() -> None:
    explained = explain(aws.NoRegionError(), "aws", "")
    assert isinstance(explained, PreconditionFailed)
    assert str(explained) == (
        "No AWS region is set. Set AWS_REGION (or a region in your AWS profile), or use "
        "--target local."
    )


def test_drop_check_accepts_a_good_file_without_any_cloud(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # When a good file is checked (no local cloud runs in unit tests: sockets are off)
    code, out, err = run(
        capsys, "drop", str(SAMPLES / "transactions.csv"), "--dataset", "transactions", "--check"
    )
    # Then it passes, says so and names the version it would become
    assert (code, err) == (0, "")
    assert out.startswith(f"accepted: {SAMPLES / 'transactions.csv'} as transactions version ")


def test_drop_check_rejects_a_bad_file_with_its_reasons_and_exit_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bad = SAMPLES / "transactions-bad.csv"
    code, out, err = run(capsys, "drop", str(bad), "--dataset", "transactions", "--check")
    assert code == 1
    assert out.startswith(f"rejected: {bad} as transactions")
    assert "reason: table.max_bad_row_share" in out
    assert "amount.gt:" in out and "row(s) fail" in out
    assert err == f"error: {bad} would be rejected: 1 reason(s)\n"


def test_failures_name_the_logs_command_that_explains_them() -> None:
    # Given a rejected file and a failed execution in the status facts
    facts: dict[str, Any] = {
        "datasets": [
            {
                "dataset": "transactions",
                "version": "f58d",
                "state": "rejected",
                "reasons": ["amount.gt: 3 rows"],
                "created_at": "2026-11-29T10:00:00+00:00",
                "source_key": "transactions/2026 bad file.csv",
            },
            {
                "dataset": "transactions",
                "version": "a3f2",
                "state": "validated",
                "reasons": [],
                "created_at": "2026-11-29T09:00:00+00:00",
                "source_key": "transactions/good.csv",
            },
        ],
        "executions": [
            {
                "name": "e-1",
                "status": "FAILED",
                "error": "TrainingFailed",
                "started": "2026-11-29T11:00:00+00:00",
                "stopped": "2026-11-29T11:00:04+00:00",
            },
            {
                "name": "e-2",
                "status": "SUCCEEDED",
                "error": None,
                "started": "2026-11-29T12:00:00+00:00",
                "stopped": "2026-11-29T12:00:09+00:00",
            },
        ],
    }
    # When the failures are listed for AWS, stage prod
    found = failures(Target("aws", "prod"), facts)
    # Then each has the command, quoted for a shell, with the target's options
    assert [(f["kind"], f["name"], f["logs_command"]) for f in found] == [
        (
            "dataset_version",
            "transactions f58d",
            "driftline --target aws --stage prod logs 'transactions/2026 bad file.csv'",
        ),
        ("execution", "e-1", "driftline --target aws --stage prod logs e-1"),
    ]
    assert found[1]["reason"] == "TrainingFailed"


def test_local_install_without_python313_lists_the_ways_to_get_it_with_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a machine with no Python 3.13 anywhere, and a local cloud not installed yet
    monkeypatch.delenv("DRIFTLINE_PYTHON313", raising=False)
    for name in ("PATH", "PYENV_ROOT", "HOME"):
        monkeypatch.setenv(name, str(tmp_path))
    for name in ("HOMEBREW_PREFIX", "UV_PYTHON_INSTALL_DIR", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(
        local_commands, "LocalCloud", functools.partial(LocalCloud, state=tmp_path / "state")
    )
    # When the local cloud is installed
    code, _, err = run(capsys, "local", "install")
    # Then the user learns what is missing and how to provide it, with no traceback
    assert code == 2
    assert err.startswith("error: Python 3.13 was not found") and "DRIFTLINE_PYTHON313" in err
    assert "Traceback" not in err


def test_broken_contracts_are_a_precondition_that_points_to_contracts_check(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import driftline_contracts
    from driftline_runtime.catalog import ContractsError, ContractUnavailable, Problem

    good = ["drop", str(SAMPLES / "transactions.csv"), "--dataset", "transactions", "--check"]
    # Given a contract module that does not load
    broken = Problem("transactions", "NameError: name 'Feild' is not defined", 12)

    def unavailable(dataset: str) -> None:
        raise ContractUnavailable(dataset, "driftline_contracts.transactions", broken)

    monkeypatch.setattr(driftline_contracts, "contract", unavailable)
    # When a file of its dataset is checked
    code, _, err = run(capsys, *good)
    # Then the user learns which module and line, and where to see more (exit 2)
    assert code == 2
    assert err.startswith("error: The contract of 'transactions' cannot be used: the contract ")
    assert "does not load at line 12: NameError" in err
    assert err.endswith("See the problem with `driftline contracts check`.\n")

    # Given the source tree's contracts do not even declare (any problem stops the catalog)
    def declared() -> None:
        raise ContractsError(["transactions.py, line 12: NameError", "scoring.py: SyntaxError"])

    monkeypatch.setattr(driftline_contracts, "declared", declared)
    code, _, err = run(capsys, *good)
    assert code == 2
    assert err == (
        "error: The dataset contracts have 2 problem(s). See them with `driftline contracts "
        "check`.\n"
    )
