"""The champion, scored on the challenger's held-out split: the gate's paired comparison.

When the dataset has an approved champion, the job gets its ``model.tar.gz`` as the
optional ``champion`` channel. The job loads it as the serving stack would
(``serving.model_fn``) and measures it on exactly the rows it measures the challenger
on, so the gate compares two numbers from one holdout instead of each model's number on
its own split (where an "improvement" may only be an easier split). The champion reads
its own feature columns from the test rows; a column it needs that the rows lack fails
the job with its name, since the comparison would otherwise not be on equal terms.
"""

from __future__ import annotations

import logging
import tarfile
import tempfile
from pathlib import Path

import pandas as pd
from driftline_runtime import names

from .container import TrainingError
from .features import InvalidInputError, prepare_features
from .pipeline import evaluate
from .serving import MODEL_FILE, model_fn
from .target import REGRESSION, Target, encode

LOG = logging.getLogger("train")
ARCHIVE = "model.tar.gz"


def champion_archive(folder: Path | None) -> Path | None:
    """The champion's ``model.tar.gz`` in its channel; None when there is no champion."""
    if folder is None or not folder.is_dir():
        return None
    archives = sorted(folder.rglob(ARCHIVE))
    if not archives:
        raise TrainingError(
            f"The champion channel ({folder}) holds no {ARCHIVE}: it must carry the approved "
            f"champion's model artefact."
        )
    return archives[0]


def score_champion(archive: Path, test: pd.DataFrame, target_column: str) -> dict[str, float]:
    """``champion:<measure>`` of the champion in ``archive`` on the test rows, measured
    for the champion's own problem type and classes."""
    with tempfile.TemporaryDirectory() as folder:
        try:
            with tarfile.open(archive, mode="r:gz") as tar:
                # Only the model file is read, as bytes: nothing else is unpacked anywhere.
                member = next(
                    (m for m in tar if m.isfile() and m.name.lstrip("./") == MODEL_FILE), None
                )
                extracted = tar.extractfile(member) if member is not None else None
                if extracted is None:
                    raise TrainingError(f"The champion's {ARCHIVE} holds no {MODEL_FILE}.")
                (Path(folder) / MODEL_FILE).write_bytes(extracted.read())
        except (tarfile.TarError, OSError, EOFError) as error:
            raise TrainingError(f"The champion's {ARCHIVE} is not readable: {error}.") from error
        try:
            model = model_fn(folder)
        except (ValueError, FileNotFoundError) as error:
            raise TrainingError(f"The champion's model does not load: {error}.") from error
    try:
        x = prepare_features(test, model.feature_kinds)
    except InvalidInputError as error:
        raise TrainingError(
            f"The champion cannot score the challenger's test split: {error}."
        ) from error
    target = Target(
        model.problem, target_column, () if model.problem == REGRESSION else model.classes
    )
    y = encode(test[target_column], names.HELD_OUT_SPLIT, target)
    measured = evaluate(model.pipeline, x, y, target)
    LOG.info("champion on the test split: %s", measured)
    return {names.champion_metric(measure): value for measure, value in measured.items()}
