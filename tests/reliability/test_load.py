"""Load: 200 files dropped at once across two datasets; every one ends exactly once.

Most files are inference batches (``scoring``): a validated training file starts a
SageMaker training run, and 200 of those would measure the training runner, not
ingestion. A handful of good training files (``transactions``) still go through, so
the training rule is under the same load, and each must start exactly one run.
Batch inference is paused for the load (its rule disabled, then enabled again): 170
validated batches would otherwise start 170 batch transform runs, which again would
measure the SageMaker runner rather than ingestion.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from driftline.target import Target
from tests.e2e.conftest import wait_for
from tests.reliability.conftest import Figures, Pipeline, now_ms
from tests.reliability.corpus import TRAINING_SAMPLE, sample_rows, to_csv, with_values

FILES = 200
GOOD_SCORING, BAD_SCORING, GOOD_TRAINING, BAD_TRAINING = 170, 20, 4, 6
# The training job needs 100 rows in its train split and both classes in every split.
TRAINING_SAMPLE_ROWS = 300


@contextmanager
def scoring_paused(target: Target) -> Iterator[None]:
    """Disable the rule that starts batch inference on validated inference data, a while."""
    events = target.client("events")
    bus = target.outputs("data")["EventBusName"]
    (rule,) = [
        r["Name"]
        for r in events.list_rules(EventBusName=bus)["Rules"]
        if json.loads(r.get("EventPattern") or "{}").get("detail") == {"kind": ["inference"]}
    ]
    events.disable_rule(Name=rule, EventBusName=bus)
    try:
        yield
    finally:
        events.enable_rule(Name=rule, EventBusName=bus)


def marked(rows: list[dict[str, str]], run: str) -> list[dict[str, str]]:
    """The run's token in a nullable column: no content repeats an earlier run's."""
    rows[0]["customer_email"] = f"run-{run}@example.com"
    return rows


def training_file(salt: str, run: str, bad: bool) -> bytes:
    header, rows = sample_rows(salt, TRAINING_SAMPLE_ROWS, TRAINING_SAMPLE)
    marked(rows, run)
    for index, row in enumerate(rows):  # a fifth positive: every split sees both classes
        row["is_fraud"] = "1" if index % 5 == 0 else row["is_fraud"]
    if bad:
        rows = with_values(rows, "currency", ["XXX"] * (TRAINING_SAMPLE_ROWS // 2))
    return to_csv(header, rows)


def scoring_file(salt: str, run: str, bad: bool) -> bytes:
    header, rows = sample_rows(salt, 30)
    marked(rows, run)
    if bad:
        rows = with_values(rows, "amount", ["-5"] * 20)
    return to_csv(header, rows)


def test_200_concurrent_drops_end_exactly_once(
    pipeline: Pipeline, target: Target, figures: Figures
) -> None:
    # Given 200 files with distinct content: good and bad, inference and training
    plan = (
        [("scoring", False)] * GOOD_SCORING
        + [("scoring", True)] * BAD_SCORING
        + [("transactions", False)] * GOOD_TRAINING
        + [("transactions", True)] * BAD_TRAINING
    )
    assert len(plan) == FILES
    run = pipeline.salt()
    files: dict[str, tuple[bytes, bool]] = {}
    for index, (dataset, bad) in enumerate(plan):
        make = scoring_file if dataset == "scoring" else training_file
        files[f"{dataset}/load-{run}/{index:03d}.csv"] = (make(f"{index:04x}", run, bad), bad)
    assert len({body for body, _ in files.values()}) == FILES  # nothing dedupes by content
    machines = target.outputs("pipeline")["TrainingStateMachineArn"]
    sfn = target.client("stepfunctions")
    before = {
        e["executionArn"] for e in sfn.list_executions(stateMachineArn=machines)["executions"]
    }

    scoring_machine = target.outputs("pipeline")["BatchInferenceStateMachineArn"]
    scored_before = len(sfn.list_executions(stateMachineArn=scoring_machine)["executions"])

    # When they are all dropped at once (batch inference paused: its rule disabled)
    with scoring_paused(target):
        since = now_ms()
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(lambda item: pipeline.drop(item[0], item[1][0]), files.items()))
        uploaded = time.monotonic() - started
        records = pipeline.wait_for_records(set(files), timeout=600)
        elapsed = time.monotonic() - started
        # every DatasetValidated is out before batch inference is resumed
        pipeline.wait_until_published(records, timeout=120)
        # And the disabled rule started no batch inference
        scored = len(sfn.list_executions(stateMachineArn=scoring_machine)["executions"])
        assert scored == scored_before

    # Then each ends as exactly one dataset version: validated if good, rejected if bad
    lost = [key for key, found in records.items() if not found]
    twice = [key for key, found in records.items() if len(found) > 1]
    assert not lost and not twice
    states = {key: found[0]["state"] for key, found in records.items()}
    wrong = [
        key
        for key, (_, bad) in files.items()
        if states[key] != ("rejected" if bad else "validated")
    ]
    assert not wrong, wrong
    # And exactly one output: a manifest for each validated one, a report for each rejected
    for key, found in records.items():
        record = found[0]
        if record["state"] == "validated":
            manifest = pipeline.read_json(record["outputs"]["manifest"])
            assert manifest["source"]["key"] == key
        else:
            report = pipeline.read_json(record["report_key"])
            assert report["source"]["key"] == key and report["outcome"] == "rejected"
    # And each good training file started exactly one training run
    trained = {
        found[0]["version"]
        for key, found in records.items()
        if key.startswith("transactions/") and found[0]["state"] == "validated"
    }
    assert len(trained) == GOOD_TRAINING

    def training_runs() -> dict[str, int] | None:
        runs: dict[str, int] = {}
        for execution in sfn.list_executions(stateMachineArn=machines)["executions"]:
            if execution["executionArn"] in before:
                continue
            detail = sfn.describe_execution(executionArn=execution["executionArn"])
            version = json.loads(detail["input"]).get("detail", {}).get("version")
            if version is not None:  # not a retraining started by drift
                runs[version] = runs.get(version, 0) + 1
        return runs if set(runs) >= trained else None

    runs = wait_for(training_runs, 120, "a training run per good training file", interval=1)
    assert {version: runs[version] for version in trained} == dict.fromkeys(trained, 1)

    # And the figures: throughput, and what one invocation cost
    invocations = pipeline.invocations(since)
    per_key = [invocations.get(key, []) for key in files]
    memory = [run.max_memory_mb for runs in per_key for run in runs if run.max_memory_mb]
    durations = sorted(run.duration_ms for runs in per_key for run in runs)
    validated = sum(1 for state in states.values() if state == "validated")
    figures.add(
        "Load",
        "files dropped at once",
        f"{FILES} (scoring {GOOD_SCORING + BAD_SCORING}, "
        f"transactions {GOOD_TRAINING + BAD_TRAINING})",
    )
    figures.add(
        "Load", "outcome", f"{validated} validated, {FILES - validated} rejected, 0 lost, 0 twice"
    )
    figures.add(
        "Load", "training runs started", f"{len(trained)} for {len(trained)} good training files"
    )
    figures.add("Load", "upload of all files", f"{uploaded:.1f} s")
    figures.add(
        "Load", "drop -> last lineage record", f"{elapsed:.1f} s ({FILES / elapsed:.1f} files/s)"
    )
    if durations:
        figures.add(
            "Load",
            "ingest duration median / max",
            f"{durations[len(durations) // 2]:.0f} ms / {durations[-1]:.0f} ms",
        )
    if memory:
        figures.add("Load", "ingest Max Memory Used (max)", f"{max(memory)} MB")
