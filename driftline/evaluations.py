"""A model package's paired evaluation, as ``status --json`` shows it.

``models[].evaluation`` is ``{holdout, challenger, champion: {model_version, metric} |
null}``: the holdout both models were measured on (its identity, rows and how it was
drawn), the package's primary metric on it and, when there was a champion, the
champion's metric on the same rows. Packages registered before the paired gate have no
holdout in their metadata: their ``holdout`` is null.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from driftline_runtime import names


def evaluation(metadata: Mapping[str, str]) -> dict[str, Any]:
    """``models[].evaluation`` from a package's customer metadata."""
    holdout = None
    if names.HOLDOUT_METADATA_KEY in metadata:
        holdout = {
            "id": metadata[names.HOLDOUT_METADATA_KEY],
            "rows": int(metadata.get(names.HOLDOUT_ROWS_METADATA_KEY, "0")),
            "split": metadata.get(names.HOLDOUT_SPLIT_METADATA_KEY),
        }
    # The package's own primary metric (test:rmse for a regression); a package registered
    # before it was recorded was judged by test:auc.
    primary = metadata.get(names.PRIMARY_METRIC_METADATA_KEY, names.PRIMARY_METRIC)
    challenger = metadata.get(f"{names.METRIC_METADATA_PREFIX}{primary}")
    champion = None
    if names.CHAMPION_VERSION_METADATA_KEY in metadata:
        champion = {
            "model_version": metadata[names.CHAMPION_VERSION_METADATA_KEY],
            "metric": float(metadata[names.CHAMPION_METRIC_METADATA_KEY]),
        }
    return {
        "holdout": holdout,
        "challenger": float(challenger) if challenger is not None else None,
        "champion": champion,
    }


def training_versions(
    metadata: Mapping[str, str], read_manifest: Callable[[str], bytes] | None = None
) -> list[str]:
    """The versions a package learned from: its metadata's list, or, for a window too
    long for a metadata value, the list in its run's manifest (``read_manifest`` reads an
    S3 URI)."""
    listed = metadata.get(names.TRAINING_VERSIONS_METADATA_KEY)
    if listed is None:
        own = metadata.get("dataset_version")
        return [own] if own else []
    if not listed.endswith(" versions"):
        return listed.split(",")
    manifest = metadata.get(names.TRAINING_MANIFEST_METADATA_KEY)
    if manifest is None or read_manifest is None:
        return []
    return [str(v["version"]) for v in json.loads(read_manifest(manifest))["versions"]]
