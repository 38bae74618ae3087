"""A ``driftline status --json`` document with every list filled, for the views' tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
HOSTILE = '<script>alert("x")</script>&"\''


def full_status(dataset: str = "transactions") -> dict[str, Any]:
    return {
        "datasets": [
            {
                "dataset": dataset,
                "kind": "training",
                "version": "a3f2d89373014dfb",
                "state": "validated",
                "rows": 2000,
                "source_key": f"{dataset}/20261127T100020Z-t.csv",
                "report_key": None,
                "reasons": [],
                "created_at": NOW.isoformat(),
            },
            {
                "dataset": dataset,
                "kind": "training",
                "version": "f58d9031514fc045",
                "state": "rejected",
                "rows": 300,
                "source_key": f"{dataset}/20261127T100028Z-bad.csv",
                "report_key": "reports/bad.json",
                "reasons": ["amount.gt: 15 of 300 rows fail"],
            },
        ],
        "executions": [
            {
                "state_machine": "training",
                "status": "SUCCEEDED",
                "started": "2026-11-27T10:00:21+00:00",
                "stopped": "2026-11-27T10:00:28+00:00",
            }
        ],
        "models": [
            {
                "group": "g-transactions",
                "version": 1,
                "approval": "Approved",
                "metrics": {"test:auc": 0.874, "test:accuracy": 0.97},
            },
            {
                "group": "g-transactions",
                "version": 2,
                "approval": "Rejected",
                "metrics": {"test:auc": 0.812, "test:accuracy": 0.96},
            },
        ],
        "inference_runs": [
            {
                "dataset": "scoring",
                "version": "b542644ec70d8217",
                "status": "Completed",
                "model_package_arn": "arn:aws:sagemaker:r:1:model-package/g-transactions/1",
                "predictions_uri": "s3://artifacts/predictions/b542/",
                "rows": 500,
                "started": "2026-11-27T10:01:00+00:00",
                "stopped": "2026-11-27T10:01:04+00:00",
                "drifted": True,
            }
        ],
        "drift_events": [
            {
                "dataset": "scoring",
                "version": "b542644ec70d8217",
                "time": "2026-11-27T10:01:05+00:00",
                "features": {"amount": 2.5, "channel": 0.9, "__prediction__": 1.2},
                "drifted_features": ["channel", "amount", "__prediction__"],
                "model_package_arn": None,
                "report_uri": "s3://artifacts/drift/b542.json",
            }
        ],
        "retrainings": [
            {
                "dataset": dataset,
                "trigger_dataset": "scoring",
                "trigger_version": "b542644ec70d8217",
                "execution": "arn:aws:states:r:1:execution:training:drift-b542",
                "status": "RUNNING",
                "started": "2026-11-27T10:01:06+00:00",
                "stopped": None,
            },
            {
                "dataset": dataset,
                "trigger_dataset": "scoring",
                "trigger_version": "b542644ec70d8217",
                "trigger": "model_quality",
                "execution": None,
                "status": "WAITING_FOR_LABELS",
                "started": None,
                "stopped": None,
            },
        ],
        "suppressed_retrainings": [
            {
                "dataset": dataset,
                "time": "2026-11-27T10:02:00+00:00",
                "trigger_dataset": "scoring",
                "trigger_version": "c0ffee0000000000",
                "until": "2026-11-27T11:01:06+00:00",
            }
        ],
        "endpoints": [
            {
                "name": f"dl-dev-{dataset}-live",
                "dataset": dataset,
                "model_version": "2",
                "status": "InService",
                "variants": [{"name": "champion", "model_version": "2", "weight": 1.0}],
                "last_deployment": {
                    "outcome": "deployed",
                    "time": "2026-11-27T10:05:48.156264+00:00",
                    "reason": None,
                },
            }
        ],
        "failures": [
            {
                "kind": "dataset_version",
                "name": f"{dataset} f58d9031514fc045",
                "status": "rejected",
                "reason": "amount.gt: 15 of 300 rows fail",
                "time": NOW.isoformat(),
                "logs_command": f"driftline logs {dataset}/20261127T100028Z-bad.csv",
            }
        ],
    }
