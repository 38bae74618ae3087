"""From each dropped file to what became of it: the chains ``driftline report`` draws.

Built from the status facts alone (``driftline.status.collect``): a rejected file ends in
quarantine, a training file in a model package, a scored batch in predictions and a
drift report.
"""

from __future__ import annotations

from typing import Any


def lineage_chains(facts: dict[str, Any]) -> list[dict[str, Any]]:
    """From each dropped file to what became of it: a model, predictions, or quarantine."""
    versions = {(d["dataset"], d["version"]): d for d in facts["datasets"]}
    packages = {m["arn"]: m for m in facts["models"]}
    chains: list[dict[str, Any]] = []

    def dropped(dataset: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {"kind": "raw object", "name": dataset["source_key"]},
            {
                "kind": "dataset version",
                "name": f"{dataset['dataset']} {dataset['version']}",
                "detail": f"{dataset['state']}, {dataset['rows']} rows",
                "uri": dataset.get("report_key"),
            },
        ]

    def package_step(model: dict[str, Any]) -> dict[str, Any]:
        return {
            "kind": "model package",
            "name": f"{model['group']} v{model['version']}",
            "detail": model["approval"],
            "uri": model["arn"],
        }

    for dataset in facts["datasets"]:
        if dataset["state"] == "rejected":
            steps = [
                *dropped(dataset),
                {"kind": "quarantine", "name": "; ".join(dataset["reasons"])[:200]},
            ]
            chains.append({"title": f"{dataset['source_key']} (rejected)", "steps": steps})
    for model in facts["models"]:
        source = versions.get((model.get("dataset"), model.get("dataset_version")))
        steps = dropped(source) if source else []
        steps += [
            {"kind": "training job", "name": model.get("training_job") or "-"},
            package_step(model),
        ]
        chains.append({"title": f"{model['group']} v{model['version']}", "steps": steps})
    for run in facts["inference_runs"]:
        if not run.get("predictions_uri"):
            continue
        source = versions.get((run["dataset"], run["version"]))
        steps = dropped(source) if source else []
        model = packages.get(run.get("model_package_arn") or "")
        if model is not None:
            steps.append(package_step(model))
        steps += [{"kind": "transform job", "name": job} for job in run.get("transform_jobs", [])]
        steps.append(
            {"kind": "predictions", "name": f"{run['rows']} rows", "uri": run["predictions_uri"]}
        )
        if run.get("drift_report_uri"):
            steps.append(
                {
                    "kind": "drift report",
                    "name": "drifted" if run.get("drifted") else "no drift",
                    "uri": run["drift_report_uri"],
                }
            )
        chains.append({"title": f"{run['dataset']} {run['version']} scored", "steps": steps})
    return chains
