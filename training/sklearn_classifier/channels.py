"""Reading a channel: every CSV file of its folder (``*.csv``, ``*.csv.gz``), stacked."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from .container import TrainingError

LOG = logging.getLogger("train")


def _is_csv(path: Path, root: Path) -> bool:
    hidden = any(part.startswith(".") for part in path.relative_to(root).parts)
    return path.is_file() and not hidden and path.name.lower().endswith((".csv", ".csv.gz"))


def _read_csv(path: Path, channel: str) -> pd.DataFrame:
    try:
        # Text as it is: kinds are decided once, from the train split (see infer_kind).
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError as error:
        raise TrainingError(f"{path} in the {channel} channel is empty: no header row.") from error
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError) as error:
        raise TrainingError(
            f"{path} in the {channel} channel is not readable CSV: {error}."
        ) from error


def read_channel(name: str, folder: Path) -> pd.DataFrame:
    """All CSV files of one channel, stacked, with the first file's column order."""
    if not folder.is_dir():
        raise TrainingError(
            f"The {name} channel is missing: {folder} is not a folder (SM_CHANNEL_{name.upper()}). "
            f"The job needs train, validation and test channels, each a folder of CSV files "
            f"with a header row."
        )
    files = sorted(path for path in folder.rglob("*") if _is_csv(path, folder))
    if not files:
        others = sorted(p.name for p in folder.rglob("*") if p.is_file())[:5]
        found = f" (it holds {', '.join(others)})" if others else " (it is empty)"
        raise TrainingError(
            f"The {name} channel ({folder}) holds no CSV files (*.csv or *.csv.gz){found}."
        )
    frames = [_read_csv(path, name) for path in files]
    columns = list(frames[0].columns)
    for path, frame in zip(files[1:], frames[1:], strict=True):
        if set(frame.columns) != set(columns):
            raise TrainingError(
                f"{path} in the {name} channel has other columns than {files[0]}: "
                f"{sorted(set(frame.columns) ^ set(columns))} differ."
            )
    data = pd.concat([frame[columns] for frame in frames], ignore_index=True)
    if data.empty:
        raise TrainingError(
            f"The {name} channel has no rows: its {len(files)} CSV file(s) hold a header only."
        )
    LOG.info("%s: %d rows from %d file(s) in %s", name, len(data), len(files), folder)
    return data
