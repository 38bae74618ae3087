"""The training job, start to end: read, fit, measure, profile, write; or fail with a reason."""

from __future__ import annotations

import json
import logging
import os
import time
import traceback
from collections.abc import Mapping

import numpy as np
from driftline_runtime import names

from .baseline import build_baseline
from .champion import champion_archive, score_champion
from .channels import read_channel
from .container import CHANNELS, JobPaths, TrainingError, write_failure
from .dataset import select_features, split_xy
from .hyperparameters import Hyperparameters, read_hyperparameters
from .metrics import METRIC_NAMES, format_metric
from .outputs import TrainingResult, write_outputs
from .pipeline import build_pipeline, evaluate, iterations, predictions
from .target import BINARY, target_of

LOG = logging.getLogger("train")


def train(paths: JobPaths, settings: Hyperparameters) -> TrainingResult:
    frames = {name: read_channel(name, paths.channels[name]) for name in CHANNELS}
    features = select_features(frames["train"], settings)
    LOG.info("features: %s", ", ".join(f"{c} ({k})" for c, k in features.kinds.items()))
    target = target_of(
        frames["train"][settings.target_column], settings.problem, settings.target_column
    )
    if target.classes:
        LOG.info("%s problem, classes: %s", target.problem, ", ".join(target.classes))
    splits = {
        name: split_xy(frames[name], name, features, target, settings.min_rows) for name in CHANNELS
    }
    pipeline = build_pipeline(features, settings, target)
    started = time.monotonic()
    pipeline.fit(*splits["train"])
    LOG.info(
        "fitted in %.1f s, %d boosting iterations",
        time.monotonic() - started,
        iterations(pipeline),
    )
    result = TrainingResult(pipeline, features, settings, target)
    for name, (x, y) in splits.items():
        for measure, value in evaluate(pipeline, x, y, target).items():
            result.metrics[names.training_metric(name, measure)] = value
        if target.problem == BINARY:
            result.positive_rates[name] = float(np.mean(y))
    # The prediction's profile is of the held-out test split: a model scores the rows it
    # learned from more confidently than a new batch's.
    x_train, y_train = splits["train"]
    predicted = predictions(pipeline, splits[names.HELD_OUT_SPLIT][0], target)
    result.baseline = build_baseline(x_train, y_train, predicted, features, settings, target)
    archive = champion_archive(paths.champion)
    if archive is not None:
        test = frames[names.HELD_OUT_SPLIT]
        result.metrics.update(score_champion(archive, test, settings.target_column))
    return result


def print_metrics(values: Mapping[str, float]) -> None:
    """The measured metrics, in the regexes' order: a problem type measures only some, and
    the champion's appear only when the job was given one."""
    for name in METRIC_NAMES:
        if name in values:
            print(format_metric(name, values[name]), flush=True)


def run(environ: Mapping[str, str]) -> int:
    paths = JobPaths.from_environ(environ)
    try:
        settings = read_hyperparameters(environ, paths)
        LOG.info("hyperparameters: %s", json.dumps(settings.to_json()))
        result = train(paths, settings)
        print_metrics(result.metrics)
        write_outputs(result, paths)
    except TrainingError as error:
        write_failure(paths, str(error))
        return 1
    except Exception as error:  # a bug or a broken environment: still say what happened
        traceback.print_exc()
        write_failure(
            paths,
            f"Training failed unexpectedly with {type(error).__name__}: {error}. "
            f"The job's log holds the traceback.",
        )
        return 1
    return 0


def main() -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return run(os.environ)
