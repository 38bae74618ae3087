"""`driftline logs` on the local cloud: the ingest lines of a drop, the log of a training
job that failed, an execution followed to its end, and `driftline status` naming the
command that explains each failure.

A training file too small to train on (fewer rows than the job's ``min_rows``) makes a
training job that really fails, in its own code, with its own log lines; a fault of the
local cloud fails another one before its code runs, so that its log holds only what
SageMaker says about it.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from driftline_runtime.steps.training import TrainingRequest

from driftline import status as status_of
from driftline.actions import drop_file, wait_for_version
from driftline.cli import SAMPLES, main
from driftline.faults import armed_faults
from driftline.localcloud import LocalCloud
from driftline.samples import generate_transactions
from driftline.target import Target
from tests.e2e.conftest import wait_for, write_salted

pytestmark = pytest.mark.e2e

TOO_FEW_ROWS = 50  # the training job wants min_rows=100 in its train split


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return code, captured.out, captured.err


def json_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def training_file(folder: Path, rows: int) -> Path:
    table = generate_transactions(rows, seed=uuid.uuid4().int % 1_000_000)
    return write_salted(folder / f"train-{uuid.uuid4().hex[:6]}.csv", table)


def training_execution(target: Target, version: str, timeout: float) -> dict[str, Any]:
    """The training execution started for ``version`` (bounded wait until it exists)."""
    arn = target.outputs("pipeline")["TrainingStateMachineArn"]

    def probe() -> dict[str, Any] | None:
        runs = status_of.executions(target, arn, "training", described=True)
        return next(
            (r for r in runs if r["input"].get("detail", {}).get("version") == version), None
        )

    return wait_for(probe, timeout, f"a training execution for version {version}", 1.0)


def training_on(target: Target, version: str) -> dict[str, str]:
    """Start a training run on exactly ``version`` (an explicit window); its name and ARN."""
    request = TrainingRequest(dataset="transactions", version=version, versions=[version])
    name = f"only-{version}-{uuid.uuid4().hex[:8]}"
    started = target.client("stepfunctions").start_execution(
        stateMachineArn=target.outputs("pipeline")["TrainingStateMachineArn"],
        name=name,
        input=request.model_dump_json(),
    )
    return {"name": name, "arn": str(started["executionArn"])}


def finished(target: Target, name: str, timeout: float = 240) -> dict[str, Any]:
    arn = target.outputs("pipeline")["TrainingStateMachineArn"]

    def probe() -> dict[str, Any] | None:
        runs = status_of.executions(target, arn, "training")
        return next((r for r in runs if r["name"] == name and r["status"] != "RUNNING"), None)

    return wait_for(probe, timeout, f"training execution {name} to end", 1.0)


@pytest.fixture(scope="module")
def newest_training_version_stays_trainable(
    deployed: dict[str, str], target: Target, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """Retraining on drift (later tests) trains on the newest training version; this
    module's too-small file must not be it when the module is done."""
    yield
    versions = [d for d in status_of.datasets(target) if d["dataset"] == "transactions"]
    newest = max((d for d in versions if d["state"] == "validated"), key=lambda d: d["created_at"])
    if newest["rows"] < 100:
        path = training_file(tmp_path_factory.mktemp("trainable"), 2000)
        _, key, _ = drop_file(target, path, "transactions", "training")
        wait_for_version(target, key)


def test_logs_show_a_drops_ingest_lines_and_its_failed_training_jobs_log(
    newest_training_version_stays_trainable: None,
    target: Target,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a training file too small to train on, dropped with the CLI
    path = training_file(tmp_path, TOO_FEW_ROWS)
    code, out, _ = run(capsys, "drop", str(path), "--dataset", "transactions", "--json")
    assert code == 0
    key = json.loads(out)["key"]
    version = wait_for_version(target, key)
    assert version["state"] == "validated"

    # When the ingest function's lines are asked for
    code, out, _ = run(capsys, "logs", "ingest", "--since", "10m", "--json")
    # Then the invocation that ingested the drop is there, each line with its request id
    # and the object key as correlation id
    mine = [line for line in json_lines(out) if line["correlation_id"] == key]
    assert code == 0 and mine, out[-2000:]
    requests = {line["request_id"] for line in mine}
    assert len(requests) == 1 and None not in requests
    messages = [line["message"] for line in mine]
    assert messages[0].startswith("START RequestId:") and any(
        m.startswith("REPORT RequestId:") for m in messages
    )
    ingested = next(line for line in mine if line["message"] == "Ingested")
    assert ingested["fields"]["status"] == "validated"
    assert ingested["fields"]["version"] == version["version"]
    assert {line["log_group"] for line in mine} == {"/aws/lambda/driftline-dev-ingest"}
    # And the object's key names the same lines, for people
    code, out, _ = run(capsys, "logs", key)
    (request,) = requests
    assert code == 0
    assert f"ingest [{request}] ({key}) INFO Ingested status=validated" in out

    # When a training run on that version alone has failed (the run its drop started
    # learns from the champion's data too), and the execution's log is asked for
    execution = training_on(target, version["version"])
    assert finished(target, execution["name"])["status"] == "FAILED"
    code, out, _ = run(capsys, "logs", execution["name"], "--json")
    lines = json_lines(out)
    # Then it holds the execution's failure, the prepare function's lines with the
    # execution as correlation id, and the training job's own log
    assert code == 0
    assert any(
        line["message"].startswith("TaskFailed States.TaskFailed: AlgorithmError") for line in lines
    )
    prepared = [line for line in lines if line["source"] == "prepare-training"]
    assert prepared and {line["correlation_id"] for line in prepared} == {execution["arn"]}
    assert all(line["request_id"] for line in prepared)
    job_lines = [line for line in lines if line["source"].startswith("training job ")]
    job = job_lines[0]["source"].removeprefix("training job ")
    assert any("fewer than min_rows=100" in line["message"] for line in job_lines)

    # When the job itself is asked for
    code, out, _ = run(capsys, "logs", job)
    # Then its log shows why it failed, and its status line says so
    assert code == 0
    assert "Training failed: The train channel has" in out
    assert f"ERROR training job {job} Failed: AlgorithmError: The train channel has" in out

    # And `driftline status` names the command that explains the failed execution
    code, out, _ = run(capsys, "status", "--json")
    failures = {f["name"]: f for f in json.loads(out)["failures"]}
    named = failures[execution["name"]]
    assert named["logs_command"] == f"driftline logs {execution['name']}"
    code, out, _ = run(capsys, *shlex.split(named["logs_command"])[1:])
    assert code == 0 and "ExecutionFailed TrainingFailed" in out


def test_the_same_lines_come_through_the_aws_target(
    deployed: dict[str, str],
    local_cloud: LocalCloud,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given the AWS target pointed at the local cloud (as an account reached with the
    # user's own AWS settings), and a drop that the ingest function has handled
    bad = tmp_path / "bad.csv"  # new content: a new version, rejected like the sample
    salt = uuid.uuid4().hex[:6]
    bad.write_text((SAMPLES / "transactions-bad.csv").read_text().replace("\nt-", f"\nt-{salt}"))
    _, out, _ = run(capsys, "drop", str(bad), "--dataset", "transactions", "--json")
    key = json.loads(out)["key"]
    wait_for_version(Target("local"), key)
    for variable, value in {
        "AWS_ENDPOINT_URL": local_cloud.endpoint,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    # When the dropped file's lines are asked for with --target aws
    code, out, _ = run(capsys, "--target", "aws", "logs", key, "--json")
    # Then they are there, with their ids, as on the local target
    lines = json_lines(out)
    assert code == 0 and lines
    assert {line["correlation_id"] for line in lines} == {key}
    rejected = next(line for line in lines if line["message"] == "Ingested")
    assert rejected["fields"]["status"] == "rejected" and rejected["request_id"]


def test_follow_prints_an_execution_until_it_ends(
    newest_training_version_stays_trainable: None,
    target: Target,
    local_cloud: LocalCloud,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a training file whose training job the local cloud will fail before its
    # code runs (the job's name holds the version's first 8 digits)
    path = training_file(tmp_path, 2000)
    version = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    reason = f"CapacityError: no ml.m5.large left (injected for {version})"
    fault = {"kind": "training-job", "action": "fail", "reason": reason, "match": version[:8]}
    with armed_faults(local_cloud, fault):
        drop_file(target, path, "transactions", "training")
        execution = training_execution(target, version, timeout=120)
        # When its execution is followed from the start
        code, out, _ = run(capsys, "logs", execution["name"], "--follow", "--json")
    # Then following ended by itself with the execution, and showed it all in order
    assert code == 0
    assert finished(target, execution["name"], timeout=5)["status"] == "FAILED"
    lines = json_lines(out)
    messages = [line["message"] for line in lines]
    assert messages[0] == "ExecutionStarted"
    assert messages[-1].startswith("ExecutionFailed TrainingFailed")
    assert f"TaskFailed States.TaskFailed: {reason}" in messages
    # And the job, which wrote no line of its own, is explained by SageMaker's reason
    assert any(
        m.startswith("training job dl-dev-transactions-") and m.endswith(f"Failed: {reason}")
        for m in messages
    )
    # And polling again never printed a line twice
    seen = [(line["time"], line["source"], line["message"]) for line in lines]
    assert len(seen) == len(set(seen))


def test_a_name_that_is_nothing_of_the_app_lists_what_there_is(
    deployed: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "logs", "nosuch")
    assert code == 2
    assert err.startswith("error: 'nosuch' is not a function, execution, SageMaker job")
    assert "Functions: collect-capture, evaluate-model, ingest, join-labels, monitor-drift," in err
