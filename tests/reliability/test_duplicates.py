"""Duplicates: at-least-once delivery must not become a second version or training run.

One good training file is dropped and trained on; then the same object is uploaded
again, its S3 event is delivered twice more (the function invoked directly, as a
redelivery would run it), and replayed once more after the idempotency store forgot
it. The lineage store, the bus and the training state machine must each show it once.
"""

from __future__ import annotations

import json

from driftline.target import Target
from tests.e2e.conftest import EventRecorder, wait_for
from tests.reliability.conftest import Figures, Pipeline
from tests.reliability.test_load import training_file


def training_runs(target: Target, version: str) -> list[dict[str, str]]:
    """Training executions the DatasetValidated rule started for ``version`` (a drift's
    retraining, started with ``{"dataset", "version", "retraining"}``, is not one)."""
    sfn = target.client("stepfunctions")
    machine = target.outputs("pipeline")["TrainingStateMachineArn"]
    runs = []
    for execution in sfn.list_executions(stateMachineArn=machine)["executions"]:
        detail = sfn.describe_execution(executionArn=execution["executionArn"])
        started_by = json.loads(detail["input"]).get("detail") or {}
        if started_by.get("version") == version:
            runs.append({"arn": detail["executionArn"], "status": detail["status"]})
    return runs


def test_duplicates_make_no_second_version_and_no_second_training_run(
    pipeline: Pipeline,
    target: Target,
    recorder: EventRecorder,
    training_recorder: EventRecorder,
    figures: Figures,
) -> None:
    # Given a good training file, dropped, validated and trained on
    run = pipeline.salt()
    key = f"transactions/duplicates-{run}/train.csv"
    body = training_file("d0d0", run, bad=False)
    first_version_id = pipeline.drop(key, body)
    validated = recorder.wait_for("DatasetValidated", key)["detail"]
    version = validated["version"]
    trained = training_recorder.wait_for(
        ("ModelRegistered", "ModelRejected", "TrainingFailed"), version, timeout=180, key="version"
    )
    assert trained["detail-type"] in ("ModelRegistered", "ModelRejected")

    # When the same object is uploaded again (a new S3 version, the same content)
    second_version_id = pipeline.drop(key, body)
    assert second_version_id != first_version_id

    # Then its own invocation finds the version and makes nothing new
    def outcomes() -> list[str] | None:
        statuses = [run.status or "" for run in pipeline.invocations(0).get(key, [])]
        return statuses if len(statuses) >= 2 else None

    assert wait_for(outcomes, 120, "the re-upload's ingestion") == ["validated", "duplicate"]

    # When the first upload's event is delivered twice more
    event = pipeline.s3_event(key, first_version_id, len(body))
    redelivered = [pipeline.invoke(event)["outcomes"][0] for _ in range(2)]
    # Then both are answered from the idempotency store: the first outcome, not a new one
    assert [o["status"] for o in redelivered] == ["validated", "validated"]
    assert {o["version"] for o in redelivered} == {version}

    # When the idempotency store has forgotten it (expiry) and the event is replayed
    for item in pipeline.idempotency.scan()["Items"]:
        pipeline.idempotency.delete_item(Key={"id": item["id"]})
    replayed = pipeline.invoke(event)["outcomes"][0]
    # Then the lineage store still knows the version
    assert replayed["status"] == "duplicate" and replayed["version"] == version

    # And there is one version, one DatasetValidated event and one training run
    records = [r for r in pipeline.records() if r["version"] == version]
    assert len(records) == 1 and records[0]["source_key"] == key
    announced = [
        e
        for e in recorder.seen
        if e["detail-type"] == "DatasetValidated" and e["detail"]["version"] == version
    ]
    assert len(announced) == 1
    runs = training_runs(target, version)
    assert len(runs) == 1 and runs[0]["status"] == "SUCCEEDED"

    figures.add(
        "Duplicates",
        "deliveries of one training file",
        "5 (upload, re-upload, event twice, replay after the idempotency store forgot)",
    )
    figures.add(
        "Duplicates", "dataset versions / DatasetValidated events / training runs", "1 / 1 / 1"
    )
