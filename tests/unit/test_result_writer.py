"""The Distributed Map's ResultWriter the local cloud writes the Score results with."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

# The local cloud's code runs in MiniStack's own environment; this part needs none of it.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "local"))
from driftline_localcloud.stepfunctions_result_writer import (  # noqa: E402
    results_folder,
    write_results,
)

sys.path.pop(0)

MAP_RUN = "arn:aws:states:us-east-1:000000000000:mapRun:dl-dev-batch/Score:0f1e2d"


class Bucket:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], Any] = {}

    def put(self, *, Bucket: str, Key: str, Body: bytes) -> None:  # noqa: N803 (boto3's names)
        self.objects[(Bucket, Key)] = json.loads(Body)


def test_results_go_to_a_file_the_manifest_names_as_aws_writes_them() -> None:
    # Given two iterations' results, one a caught failure
    results = [{"part": 0, "ok": True}, {"part": 1, "error": "AlgorithmError"}]
    bucket = Bucket()
    # When the ResultWriter writes them under the run's prefix
    state_result = write_results(bucket.put, "data", "inference/run-1", MAP_RUN, results)
    # Then the state's result names the manifest, which names the results file
    manifest_key = "inference/run-1/0f1e2d/manifest.json"
    assert state_result == {
        "MapRunArn": MAP_RUN,
        "ResultWriterDetails": {"Bucket": "data", "Key": manifest_key},
    }
    manifest = bucket.objects[("data", manifest_key)]
    (written,) = manifest["ResultFiles"]["SUCCEEDED"]
    assert manifest["ResultFiles"]["FAILED"] == []
    assert written["Key"] == "inference/run-1/0f1e2d/SUCCEEDED_0.json"
    # And each record holds its iteration's output as a JSON string, in item order
    records = bucket.objects[("data", written["Key"])]
    assert [json.loads(r["Output"]) for r in records] == results
    assert {r["Status"] for r in records} == {"SUCCEEDED"}
    assert records[1]["ExecutionArn"].endswith(":execution:dl-dev-batch/Score:0f1e2d:1")


def test_no_results_still_get_a_manifest() -> None:
    # Given a Map over no items
    bucket = Bucket()
    # When the ResultWriter writes
    write_results(bucket.put, "data", "runs/", MAP_RUN, [])
    # Then only the manifest is written, listing no result file
    assert list(bucket.objects) == [("data", "runs/0f1e2d/manifest.json")]
    assert bucket.objects[("data", "runs/0f1e2d/manifest.json")]["ResultFiles"]["SUCCEEDED"] == []


def test_the_prefix_gets_its_slash_once() -> None:
    assert results_folder("a/b", MAP_RUN) == "a/b/0f1e2d/"
    assert results_folder("a/b/", MAP_RUN) == "a/b/0f1e2d/"
    assert results_folder("", MAP_RUN) == "0f1e2d/"
