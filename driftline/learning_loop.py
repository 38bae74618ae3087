"""The demo's second half: the learning loop, from drift to a better model in service.

A drifted batch whose outcomes follow a new fraud pattern (``concept=1``): drift is
detected but the retraining waits for labels (the champion already learned from every
labelled row there is); the batch's labels arrive and measure the champion as degraded;
the labelled rows are fed back, and the retraining on the window beats the champion on
the same, most recent holdout, and (the stage's rescore_trigger_batch, on in dev) scores
the drifted batch again; the next batch is scored by the new model, and its labels
measure it better than the old one was.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from driftline_runtime import names

from driftline import actions
from driftline import status as status_of
from driftline.actions import CommandError, wait_until
from driftline.progress import StageProgress
from driftline.target import Target

LOOP_STAGES = (
    "Score a drifted batch",
    "Labels reveal a concept change",
    "Retrain on the window",
    "Score the next batch with the new model",
)


def quality_of(target: Target, version: str, timeout: float = 180) -> dict[str, Any]:
    """Bounded wait until labels measured the model that scored batch ``version``."""

    def probe() -> dict[str, Any] | None:
        pipeline = target.outputs(names.PIPELINE_STACK)
        from driftline.quality_status import model_quality  # noqa: PLC0415

        found = model_quality(target, pipeline[names.PREDICTIONS_BUCKET_OUTPUT])
        return next((q for q in found if q["version"] == version), None)

    return wait_until(probe, timeout, f"the measured quality of batch {version}", 1.0)


def _measured(quality: dict[str, Any]) -> str:
    name = str(quality["primary_metric"]).upper()
    metric = quality["metrics"].get(quality["primary_metric"])
    measured = "n/a" if metric is None else f"{metric:.3f}"
    return (
        f"v{quality['model_version']} measured {name} {measured} on "
        f"{quality['labelled_rows']} labelled rows (test {name} "
        f"{quality['reference_metric']:.3f})"
    )


class LearningLoop:
    def __init__(
        self,
        target: Target,
        progress: StageProgress,
        drifted: tuple[Path, Path],
        following: tuple[Path, Path],
        own_champion: bool,
    ) -> None:
        self.target, self.progress = target, progress
        self.drifted, self.following = drifted, following
        # Whether the champion is the model this run trained (a fresh local cloud); a kept
        # one may hold an earlier run's, trained on other data, which v2 need not beat.
        self.own_champion = own_champion

    def drop(self, path: Path, dataset: str, kind: str) -> dict[str, Any]:
        _, key, _ = actions.drop_file(self.target, path, dataset, kind)
        return actions.wait_for_version(self.target, key)

    def score(self, path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
        version = self.drop(path, "scoring", "inference")
        run = actions.wait_for_inference(self.target, version["version"])
        if run["status"] != "SUCCEEDED":
            raise CommandError(f"batch inference {run['status']}: {run['error']}: {run['cause']}")
        return version, run

    def run(self) -> None:
        with self.progress.stage("Score a drifted batch") as stage:
            batch, run = self.score(self.drifted[0])
            if not run["drifted"]:
                raise CommandError("the drifted batch was not reported as drifted")
            waiting = self._retraining(batch["version"])
            features = [f for f in run["drifted_features"] if f != names.PREDICTION_FEATURE]
            stage.outcome(
                f"DriftDetected: {len(features)} features drifted; retraining "
                f"{waiting['status'].lower().replace('_', ' ')}"
            )
        with self.progress.stage("Labels reveal a concept change") as stage:
            labels = self.drop(self.drifted[1], "scoring-labels", "labels")
            before = quality_of(self.target, batch["version"])
            if not before["degraded"]:
                raise CommandError(f"the labels did not show the change: {_measured(before)}")
            stage.outcome(f"{_measured(before)}: ModelQualityDegraded")
        with self.progress.stage("Retrain on the window") as stage:
            fed = actions.wait_for_version(
                self.target, f"transactions/feedback-{labels['version']}.parquet"
            )
            v2 = actions.wait_for_model(self.target, fed["version"])
            evaluation = v2.get("evaluation") or {}
            champion = evaluation.get("champion") or {}
            holdout = evaluation.get("holdout") or {}
            paired = (
                f"AUC {evaluation.get('challenger', 0):.3f} vs v{champion.get('model_version')}'s "
                f"{champion.get('metric', 0):.3f} on the same {holdout.get('rows')}-row "
                f"{holdout.get('split')} holdout, trained on "
                f"{len(v2.get('training_versions') or [])} versions"
            )
            if v2["approval"] != "Approved" and self.own_champion:
                raise CommandError(f"v{v2['version']} {v2['approval']}: {paired}")
            rescored = ""
            if v2["approval"] == "Approved":
                self._rescored(batch["version"], str(v2["arn"]))
                rescored = f"; the drifted batch rescored by v{v2['version']}"
            stage.outcome(f"v{v2['version']} {v2['approval']}: {paired}{rescored}")
        with self.progress.stage("Score the next batch with the new model") as stage:
            following, _ = self.score(self.following[0])
            self.drop(self.following[1], "scoring-labels", "labels")
            after = quality_of(self.target, following["version"])
            if v2["approval"] != "Approved":  # only on a kept local cloud (see above)
                stage.outcome(f"{_measured(after)}; the champion stayed")
                return
            if after["model_version"] != str(v2["version"]):
                raise CommandError(f"the next batch was scored by v{after['model_version']}")
            better = after["metrics"].get("auc", 0) > before["metrics"].get("auc", 0)
            if not better:
                raise CommandError(f"{_measured(after)} is no better than {_measured(before)}")
            stage.outcome(
                f"{_measured(after)}; v{before['model_version']} had measured "
                f"{before['metrics'].get('auc', 0):.3f}"
            )

    def _rescored(self, version: str, package_arn: str) -> dict[str, Any]:
        """Bounded wait until the approved model has scored batch ``version`` again."""

        def probe() -> dict[str, Any] | None:
            runs = status_of.collect(self.target)["inference_runs"]
            return next(
                (
                    r
                    for r in runs
                    if r["version"] == version
                    and r["model_package_arn"] == package_arn
                    and r["status"] == "SUCCEEDED"
                ),
                None,
            )

        return wait_until(probe, 300, f"batch {version} rescored by {package_arn}", 2.0)

    def _retraining(self, version: str) -> dict[str, Any]:
        """The retraining the drifted batch asked for: waiting for labels (or started)."""

        def probe() -> dict[str, Any] | None:
            found = status_of.collect(self.target)["retrainings"]
            return next((r for r in found if r["trigger_version"] == version), None)

        return wait_until(probe, 120, f"the retraining batch {version} asked for", 1.0)
