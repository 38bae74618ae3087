"""SageMaker's container contract for a training job: its folders and its failure file.

SageMaker (and the local cloud) hand a job its channels, hyperparameters and output
folders through ``SM_*`` variables; a missing one falls back to the toolkit's layout
under ``$SAGEMAKER_BASE_DIR`` (default ``/opt/ml``). On any error the job writes one
paragraph to ``<SM_OUTPUT_DIR>/failure``, which SageMaker reports as the job's
FailureReason.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from driftline_runtime import names

CHANNELS = names.SPLITS
DEFAULT_BASE_DIR = "/opt/ml"


class TrainingError(Exception):
    """A problem with the job's input or settings; the message is the failure reason."""


@dataclass(frozen=True)
class JobPaths:
    model_dir: Path
    output_data_dir: Path
    output_dir: Path
    config_dir: Path
    channels: dict[str, Path]
    # The optional channel with the approved champion's model.tar.gz (see champion.py).
    champion: Path | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> JobPaths:
        base = Path(environ.get("SAGEMAKER_BASE_DIR") or DEFAULT_BASE_DIR)

        def path(variable: str, default: Path) -> Path:
            value = environ.get(variable)
            return Path(value) if value else default

        data_dir = path("SM_INPUT_DATA_DIR", base / "input" / "data")
        return cls(
            model_dir=path("SM_MODEL_DIR", base / "model"),
            output_data_dir=path("SM_OUTPUT_DATA_DIR", base / "output" / "data"),
            output_dir=path("SM_OUTPUT_DIR", base / "output"),
            config_dir=path("SM_INPUT_CONFIG_DIR", base / "input" / "config"),
            channels={
                name: path(f"SM_CHANNEL_{name.upper()}", data_dir / name) for name in CHANNELS
            },
            champion=path(
                f"SM_CHANNEL_{names.CHAMPION_CHANNEL.upper()}", data_dir / names.CHAMPION_CHANNEL
            ),
        )


def write_failure(paths: JobPaths, reason: str) -> None:
    """One paragraph to ``<SM_OUTPUT_DIR>/failure``, where SageMaker looks for it."""
    paragraph = " ".join(reason.split())
    print(f"Training failed: {paragraph}", file=sys.stderr, flush=True)
    try:
        paths.output_dir.mkdir(parents=True, exist_ok=True)
        (paths.output_dir / "failure").write_text(paragraph + "\n", encoding="utf-8")
    except OSError as error:
        print(f"Could not write the failure file: {error}", file=sys.stderr, flush=True)
