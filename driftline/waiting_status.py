"""Retrainings that wait for labels, as ``status --json`` shows them in ``retrainings[]``.

The retraining gate records a request that found nothing newer than the champion's data
(``waiting#<event id>`` in the cooldown table). The next training run of that dataset is
the one labels started: such an entry is ``WAITING_FOR_LABELS`` until a training execution
of the dataset started after it, then ``STARTED_ON_LABELS`` with that execution.
"""

from __future__ import annotations

from typing import Any

from driftline_runtime.cooldown import WAITING_PREFIX

from driftline.target import Target


def waiting_retrainings(
    target: Target, table_name: str, training_runs: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """``training_runs``: the training executions, each with its dataset and start time."""
    table = target.resource("dynamodb").Table(table_name)
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = table.scan(**kwargs)
        items += [i for i in page["Items"] if str(i["sk"]).startswith(WAITING_PREFIX)]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    found = []
    for item in sorted(items, key=lambda i: str(i["time"])):
        trigger = item["trigger"]
        later = sorted(
            (
                run
                for run in training_runs
                if run["dataset"] == item["dataset"] and str(run["started"]) > str(item["time"])
            ),
            key=lambda run: str(run["started"]),
        )
        started = later[0] if later else None
        found.append(
            {
                "dataset": item["dataset"],
                "version": started["version"] if started else None,
                "trigger_dataset": trigger.get("dataset"),
                "trigger_version": trigger.get("version"),
                "trigger_report_uri": trigger.get("report_uri"),
                "trigger": trigger.get("trigger", "drift"),
                "execution": started["execution"] if started else None,
                "status": "STARTED_ON_LABELS" if started else "WAITING_FOR_LABELS",
                "outcome": started["outcome"] if started else None,
                "training_versions": started["training_versions"] if started else [],
                "waiting_since": str(item["time"]),
                "started": started["started"] if started else None,
                "stopped": started["stopped"] if started else None,
            }
        )
    return found
