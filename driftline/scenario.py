"""``driftline demo``: the whole story on the local cloud, stage by stage.

train -> a model (v1 on a fresh local cloud), served on its real-time endpoint; a clean
batch -> predictions, no drift; a bad file -> quarantine; then the learning loop
(``learning_loop``): a drifted batch -> DriftDetected, the retraining waits for labels ->
its labels show a concept change (ModelQualityDegraded) -> the labelled rows train v2 on
the window, which beats v1 on the same recent holdout -> the next batch is scored by v2,
measured better; v2 goes out on the endpoint behind a blue/green canary, and a faulty
model is rolled back by its alarm (``realtime_demo``). Each stage waits with a deadline
and checks what it claims; the demo exits 0 only when every stage happened.

The data is generated for each run (seeded by the time unless ``--seed`` is given):
dataset versions are content hashes, so a second run against a kept local cloud brings
new versions instead of duplicates of the first run's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from driftline_runtime import names
from driftline_runtime.cooldown import COOLDOWN_SK
from rich.console import Console

from driftline import actions, endpoints, realtime_demo
from driftline.actions import CommandError
from driftline.learning_loop import LOOP_STAGES, LearningLoop
from driftline.localcloud import ROOT
from driftline.progress import StageProgress
from driftline.target import Target

TRAINING_ROWS = 20_000  # enough frauds (about 3 %) for a stable test AUC
BATCH_ROWS = 3_000
# The clean batch is BATCH_ROWS random rows of this many generated ones: drawn like the
# training data (see driftline.samples.random_rows).
CLEAN_POPULATION_ROWS = 200_000
BAD_FILE = ROOT / "samples" / "transactions-bad.csv"


# The training data ends this long before the batches: what is scored is newer than what
# the model learned from, and the retraining's time-ordered holdout is the newest rows.
TRAINING_LEAD = timedelta(days=10)


@dataclass(frozen=True)
class DemoFiles:
    training: Path
    clean: Path
    drifted: Path
    bad: Path
    drifted_labels: Path
    following: Path
    following_labels: Path


def generate(folder: Path, seed: int) -> DemoFiles:
    from driftline.samples import generate_transactions, random_rows, write_table  # noqa: PLC0415

    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC).replace(second=0, microsecond=0)

    def write(name: str, rows: int, offset: int, drift: float, labelled: bool) -> Path:
        table = generate_transactions(
            rows, seed=seed + offset, drift=drift, labelled=labelled, end=now - TRAINING_LEAD
        )
        return write_table(table, folder / name)

    def changed(name: str, offset: int) -> tuple[Path, Path]:
        """A drifted batch whose outcomes follow a new fraud pattern, and its labels."""
        table = generate_transactions(
            BATCH_ROWS, seed=seed + offset, drift=1.0, concept=1.0, end=now
        )
        labels = table.select(["transaction_id", "is_fraud"])
        return (
            write_table(table.drop_columns(["is_fraud"]), folder / f"{name}.csv"),
            write_table(labels, folder / f"{name}-labels.csv"),
        )

    clean = generate_transactions(CLEAN_POPULATION_ROWS, seed=seed + 1, labelled=False, end=now)
    drifted, drifted_labels = changed("scoring-drifted", 2)
    following, following_labels = changed("scoring-next", 3)
    return DemoFiles(
        training=write("transactions.csv", TRAINING_ROWS, 0, 0.0, True),
        clean=write_table(random_rows(clean, BATCH_ROWS, seed + 1), folder / "scoring.csv"),
        drifted=drifted,
        bad=BAD_FILE,
        drifted_labels=drifted_labels,
        following=following,
        following_labels=following_labels,
    )


def _auc(model: dict[str, Any]) -> str:
    value = model["metrics"].get(names.PRIMARY_METRIC)
    return "no test AUC" if value is None else f"test AUC {value:.3f}"


def _check_cooldown(target: Target) -> None:
    """A retraining window left open by an earlier run would hold the demo's retraining."""
    pipeline = target.outputs(names.PIPELINE_STACK)
    table = target.resource("dynamodb").Table(pipeline[names.COOLDOWN_TABLE_OUTPUT])
    window = table.get_item(Key={"dataset": "transactions", "sk": COOLDOWN_SK}).get("Item")
    if window and datetime.fromisoformat(window["until"]) > datetime.now(UTC):
        raise CommandError(
            f"A drift-triggered retraining ran on this local cloud recently; the cooldown holds "
            f"the next one until {window['until']}. Run `driftline local down` for a fresh demo."
        )


class Demo:
    def __init__(self, target: Target, files: DemoFiles, progress: StageProgress) -> None:
        self.target, self.files, self.progress = target, files, progress

    def drop(self, path: Path, dataset: str, kind: str) -> dict[str, Any]:
        _, key, _ = actions.drop_file(self.target, path, dataset, kind)
        return actions.wait_for_version(self.target, key)

    def run(self) -> None:
        _check_cooldown(self.target)
        with self.progress.stage("Train a model") as stage:
            version = self.drop(self.files.training, "transactions", "training")
            if version["state"] != "validated":
                raise CommandError(f"the training file was rejected: {version['reasons']}")
            model = actions.wait_for_model(self.target, version["version"])
            name = f"{model['group']} v{model['version']}"
            own_champion = model["approval"] == "Approved"
            if own_champion:
                stage.outcome(f"{name} Approved, {_auc(model)}")
            elif self._champion() is not None:
                # A kept local cloud may hold a better champion from an earlier run.
                stage.outcome(f"{name} {model['approval']}: {model['reason']}")
            else:
                raise CommandError(f"{name} was not approved: {model['reason']}")
        with self.progress.stage("Serve in real time") as stage:
            champion = self._champion()
            if champion is None:
                raise CommandError("no approved model to serve")
            realtime_demo.serving(self.target, champion["training_job"])
            rows = b"".join(self.files.clean.read_bytes().splitlines(keepends=True)[:101])
            scored = endpoints.score(self.target, "scoring", rows, self.files.clean.name)
            stage.outcome(
                f"{scored.endpoint} serves v{champion['version']}: "
                f"{len(scored.predictions)} rows scored, one prediction each"
            )
        with self.progress.stage("Score a clean batch") as stage:
            clean = self.drop(self.files.clean, "scoring", "inference")
            run = actions.wait_for_inference(self.target, clean["version"])
            self._check_scored(run, clean)
            if run["drifted"]:
                raise CommandError(f"the clean batch drifted: {run['drifted_features']}")
            jobs = len(run["transform_jobs"])
            stage.outcome(f"{run['rows']} predictions from {jobs} transform jobs, no drift")
        with self.progress.stage("Quarantine a bad file") as stage:
            bad = self.drop(self.files.bad, "transactions", "training")
            if bad["state"] != "rejected":
                raise CommandError("the bad file was not rejected")
            for reason in bad["reasons"]:
                self.progress.note(f"reason: {reason}")
            self.progress.note(f"report: {bad['report_key']}")
            stage.outcome(f"quarantined with a report of {len(bad['reasons'])} reason(s)")
        LearningLoop(
            self.target,
            self.progress,
            (self.files.drifted, self.files.drifted_labels),
            (self.files.following, self.files.following_labels),
            own_champion,
        ).run()
        realtime_demo.rollout(self.target, self.progress, champion, self.files.clean)

    def _champion(self) -> dict[str, Any] | None:
        return realtime_demo.newest_approved(self.target)

    @staticmethod
    def _check_scored(run: dict[str, Any], version: dict[str, Any]) -> None:
        if run["status"] != "SUCCEEDED":
            raise CommandError(f"batch inference {run['status']}: {run['error']}: {run['cause']}")
        if run["rows"] != version["rows"]:
            raise CommandError(f"{run['rows']} predictions for {version['rows']} rows")


STAGES = (
    "Generate sample data",
    "Train a model",
    "Serve in real time",
    "Score a clean batch",
    "Quarantine a bad file",
    *LOOP_STAGES,
    "Canary to the next model",
    "Roll back a faulty model",
)


def run_demo(target: Target, console: Console, folder: Path, seed: int) -> StageProgress:
    """The scenario; it succeeded when ``completed(progress)``."""
    with StageProgress(console, title="driftline demo") as progress:
        with progress.stage("Generate sample data") as stage:
            files = generate(folder, seed)
            stage.outcome(
                f"{TRAINING_ROWS} labelled, 3 x {BATCH_ROWS} to score (clean, 2 drifted with "
                f"a new fraud pattern) and their labels, seed {seed}"
            )
        try:
            Demo(target, files, progress).run()
        except CommandError:
            pass  # the failed stage says why, and the summary shows it
    return progress


def completed(progress: StageProgress) -> bool:
    """Every stage of the scenario ran, and none failed."""
    return not progress.failed and [r.name for r in progress.results] == list(STAGES)
