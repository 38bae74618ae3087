"""What the pipeline holds and did: the facts behind ``driftline status``.

The JSON shape is a stable interface (see ARCHITECTURE): keys are only ever added.
"""

from __future__ import annotations

from typing import Any

from driftline_runtime.lineage import LineageStore

from driftline.target import Target


def collect(target: Target) -> dict[str, Any]:
    outputs = target.outputs("data")
    table = target._session.resource("dynamodb").Table(outputs["LineageTableName"])
    versions = LineageStore(table).dataset_versions()
    return {
        "datasets": [
            {
                "dataset": r.dataset,
                "kind": r.kind,
                "version": r.version,
                "state": r.state,
                "rows": r.valid_rows if r.state == "validated" else r.rows,
                "source_key": r.source_key,
                "report_key": r.report_key,
                "reasons": r.reasons,
                "created_at": r.created_at.isoformat(),
            }
            for r in versions
        ],
        "executions": [],
        "models": [],
        "drift_events": [],
    }
