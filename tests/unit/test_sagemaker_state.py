"""SageMaker's state as the local cloud keeps it across restarts: written and read."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

# The local cloud's code runs in MiniStack's own environment; the store needs none of it.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "local"))
from driftline_localcloud.sagemaker.store import Stores  # noqa: E402

sys.path.pop(0)

CREATED = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def stores_with_a_registry_and_jobs() -> Stores:
    stores = Stores()
    store = stores.region("000000000000", "us-east-1")
    store.package_groups["dl-dev-transactions"] = {
        "ModelPackageGroupName": "dl-dev-transactions",
        "CreationTime": CREATED,
    }
    store.packages["dl-dev-transactions"].append(
        {"ModelPackageVersion": 1, "ModelApprovalStatus": "Approved", "CreationTime": CREATED}
    )
    store.models["dl-dev-m"] = {"ModelName": "dl-dev-m", "CreationTime": CREATED}
    store.training_jobs["done"] = {"TrainingJobStatus": "Completed", "CreationTime": CREATED}
    store.training_jobs["running"] = {"TrainingJobStatus": "InProgress", "CreationTime": CREATED}
    store.transform_jobs["stopping"] = {"TransformJobStatus": "Stopping"}
    return stores


def test_the_registry_models_and_jobs_survive_a_dump_and_restore_through_json() -> None:
    # Given a registry, a model and jobs in the stores
    before = stores_with_a_registry_and_jobs()
    # When they are written as JSON and read into fresh stores
    after = Stores()
    after.restore(json.loads(json.dumps(before.dump())))
    # Then the registry, the model and the finished job come back, timestamps as timestamps
    store = after.region("000000000000", "us-east-1")
    assert store.package_groups["dl-dev-transactions"]["CreationTime"] == CREATED
    assert store.packages["dl-dev-transactions"][0]["ModelApprovalStatus"] == "Approved"
    assert store.models["dl-dev-m"]["CreationTime"] == CREATED
    assert store.training_jobs["done"]["TrainingJobStatus"] == "Completed"
    # And a job whose process ended with the local cloud is failed, saying why
    running = store.training_jobs["running"]
    assert running["TrainingJobStatus"] == "Failed"
    assert "stopped while the job ran" in running["FailureReason"]
    assert store.transform_jobs["stopping"]["TransformJobStatus"] == "Failed"
    # And a new version still lands in the group's list
    store.packages["dl-dev-transactions"].append({"ModelPackageVersion": 2})
    assert len(store.packages["dl-dev-transactions"]) == 2


def test_state_of_an_unknown_version_is_refused() -> None:
    # Given state written by another format
    # When it is restored
    # Then it is refused by name, not half loaded
    with pytest.raises(ValueError, match="unknown SageMaker state version 7"):
        Stores().restore({"version": 7, "regions": []})


def test_clear_empties_every_region() -> None:
    stores = stores_with_a_registry_and_jobs()
    stores.clear()
    assert stores.dump() == {"version": 1, "regions": []}


def test_processing_jobs_and_endpoints_are_kept_and_an_older_document_still_loads() -> None:
    # Given a processing job, an endpoint config and an endpoint in the stores
    before = Stores()
    store = before.region("000000000000", "us-east-1")
    store.processing_jobs["validate"] = {"ProcessingJobStatus": "InProgress"}
    store.endpoint_configs["cfg"] = {"EndpointConfigName": "cfg", "CreationTime": CREATED}
    store.endpoints["live"] = {"EndpointName": "live", "EndpointStatus": "InService"}
    # When they go through JSON, and a document written before those fields existed is read
    document = json.loads(json.dumps(before.dump()))
    after = Stores()
    after.restore(document)
    older = {
        "version": 1,
        "regions": [
            {
                "account": "000000000000",
                "region": "eu-west-1",
                **{kind: {} for kind in ("training_jobs", "transform_jobs", "models")},
                "package_groups": {},
                "packages": {},
            }
        ],
    }
    after.restore(older)
    # Then the endpoint and its config come back, and the job that ran is failed, saying why
    kept = after.region("000000000000", "us-east-1")
    assert kept.endpoints["live"]["EndpointStatus"] == "InService"
    assert kept.endpoint_configs["cfg"]["CreationTime"] == CREATED
    assert kept.processing_jobs["validate"]["ProcessingJobStatus"] == "Failed"
    assert "stopped while the job ran" in kept.processing_jobs["validate"]["FailureReason"]
    # And the older document's region loads with the fields it lacked empty
    assert after.region("000000000000", "eu-west-1").endpoints == {}
