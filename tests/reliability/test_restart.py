"""The local cloud restarted between two drops (this file runs last: it restarts).

The local cloud saves its services' state when it stops and loads it when it starts
(``local/driftline_localcloud/persistence.py``), so a restart keeps what was there: the
dropped object and its lineage, the stacks, functions and state machines, the registry
and its models. ``driftline local up`` then has nothing to deploy, and the next drop goes
end to end through what was restored: ingested by the function, recorded in the tables,
scored by the batch-inference state machine with the model the registry kept, with IAM
enforcement on.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from driftline import deploy
from driftline.actions import drop_file, wait_for_inference
from driftline.localcloud import LocalCloud
from driftline.samples import generate_transactions
from driftline.target import Target
from tests.e2e.conftest import wait_for, write_salted
from tests.e2e.test_batch_inference import END, approved_packages
from tests.reliability.conftest import Figures, Pipeline
from tests.reliability.test_load import scoring_file


def inventory(target: Target) -> dict[str, object]:
    """What a restart must keep, beyond one dropped file."""
    sagemaker = target.client("sagemaker")
    groups = [
        g["ModelPackageGroupName"]
        for g in sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"]
    ]
    return {
        "functions": sorted(
            f["FunctionName"] for f in target.client("lambda").list_functions()["Functions"]
        ),
        "state machines": sorted(
            m["name"] for m in target.client("stepfunctions").list_state_machines()["stateMachines"]
        ),
        "models": {
            group: len(
                sagemaker.list_model_packages(ModelPackageGroupName=group)[
                    "ModelPackageSummaryList"
                ]
            )
            for group in groups
        },
        "training jobs": sorted(
            j["TrainingJobName"]
            for j in sagemaker.list_training_jobs(MaxResults=100)["TrainingJobSummaries"]
        ),
    }


def test_a_restart_between_two_drops_keeps_the_state_and_the_next_drop_works(
    pipeline: Pipeline,
    local_cloud: LocalCloud,
    target: Target,
    figures: Figures,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an approved model in the registry (trained from a drop if there is none yet),
    # a file dropped and validated before the restart, and the app as deployed
    if not approved_packages(target):
        training = write_salted(
            tmp_path / "train.csv", generate_transactions(20_000, seed=404, end=END)
        )
        drop_file(target, training, "transactions", "training")
        wait_for(lambda: approved_packages(target) or None, 300, "an approved model", 1.0)
    # (`driftline demo`, run in-process earlier in a session, turns persistence off)
    monkeypatch.setenv("DRIFTLINE_LOCAL_PERSISTENCE", "1")
    run = pipeline.salt()
    before_key = f"scoring/restart-{run}/before.csv"
    pipeline.drop(before_key, scoring_file("e001", run, bad=False))
    (before,) = pipeline.wait_for_records({before_key}, timeout=120)[before_key]
    assert before["state"] == "validated"
    deploy.deploy_local(local_cloud)
    kept = inventory(target)
    body = target.client("s3").get_object(Bucket=pipeline.raw, Key=before_key)["Body"].read()

    # When the local cloud is stopped and started again, and `local up` deploys
    started = time.monotonic()
    assert local_cloud.stop()
    assert local_cloud.start()
    deployed = deploy.deploy_local(local_cloud)
    restarted = time.monotonic() - started

    # Then the state is kept: the raw object, its lineage record, the functions, state
    # machines, registry and jobs; and there was nothing to deploy
    assert (
        target.client("s3").get_object(Bucket=pipeline.raw, Key=before_key)["Body"].read() == body
    )
    after = Pipeline(target, target.outputs("data"), local_cloud)
    assert [r["state"] for r in after.records() if r["source_key"] == before_key] == ["validated"]
    assert inventory(target) == kept
    assert deployed is False
    # And the next drop goes end to end: ingested, then scored by the batch-inference
    # state machine with a model the registry kept
    after_key = f"scoring/restart-{run}/after.csv"
    after.drop(after_key, scoring_file("e002", run, bad=False))
    (record,) = after.wait_for_records({after_key}, timeout=180)[after_key]
    assert record["state"] == "validated"
    scored = wait_for_inference(target, record["version"], timeout=300)
    assert scored["status"] == "SUCCEEDED", scored
    assert scored["model_package_arn"] in approved_packages(target)
    assert scored["rows"] == record["valid_rows"]
    predictions = scored["predictions_uri"].removeprefix("s3://").split("/", 1)
    assert target.client("s3").head_object(Bucket=predictions[0], Key=predictions[1])
    figures.add(
        "Restart",
        "local cloud restarted between two drops",
        f"state kept (objects, lineage, stacks, functions, state machines, registry); "
        f"stop, start and `local up` in {restarted:.0f} s with nothing to deploy; the next "
        "drop validated and scored with the kept model",
    )
