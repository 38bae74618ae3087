"""A dataset's own training code (``TrainingSpec.source_dir``): where it is and whether it
holds what SageMaker's script mode runs.

The folder exists where the app is synthesised, not in Lambda, so the spec itself checks
only the names; synth (``infra.contracts_layer``) and ``driftline contracts check`` call
:func:`code_problems` with the project's folder and stop on any problem, before the
folder is packaged. What the folder holds:

- ``entry_point`` (``train.py`` unless the spec names another): the training script;
- ``inference.py`` (:data:`SERVING_PROGRAM`): ``model_fn`` / ``input_fn`` /
  ``predict_fn`` / ``output_fn``, which the training script copies into ``<model
  dir>/code/`` so that the model carries its serving code;
- optionally ``requirements.txt`` (:data:`REQUIREMENTS_FILE`), which the framework
  container installs before it runs the script.
"""

from __future__ import annotations

from pathlib import Path

from driftline_runtime.contracts import TrainingSpec

# The serving entry point every model's code/ holds (the register step's
# SAGEMAKER_PROGRAM), whether driftline's trainer or the dataset's own code wrote it.
SERVING_PROGRAM = "inference.py"
REQUIREMENTS_FILE = "requirements.txt"


def source_folder(training: TrainingSpec, project: Path) -> Path | None:
    """The folder of the dataset's own training code, or None for driftline's trainer."""
    if training.source_dir is None:
        return None
    folder = Path(training.source_dir).expanduser()
    return folder if folder.is_absolute() else project / folder


def code_problems(dataset: str, training: TrainingSpec, project: Path) -> list[str]:
    """Why the dataset's own training code cannot be packaged (empty: it can)."""
    folder = source_folder(training, project)
    if folder is None:
        return []
    where = f"dataset {dataset!r}: training.source_dir {training.source_dir!r}"
    if not folder.exists():
        return [f"{where} does not exist (looked for {folder})"]
    if not folder.is_dir():
        return [f"{where} is not a folder ({folder})"]
    problems = []
    for role, name in (("entry_point", training.entry_point), ("serving code", SERVING_PROGRAM)):
        if not (folder / name).is_file():
            problems.append(f"{where} holds no {name} (its {role}) in {folder}")
    return problems
