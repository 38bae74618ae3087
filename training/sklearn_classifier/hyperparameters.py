"""The job's hyperparameters: as SageMaker hands them over (every value a string, or what
the toolkit already decoded), parsed and checked, an unknown or invalid one failing the
job with its name."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from .container import JobPaths, TrainingError

PROBLEMS = ("binary", "multiclass", "regression")
HIST_GRADIENT_BOOSTING, XGBOOST = "hist_gradient_boosting", "xgboost"
ALGORITHMS = (HIST_GRADIENT_BOOSTING, XGBOOST)


def _text(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("expected a column name")
    text = str(value).strip()
    if not text:
        raise ValueError("must not be empty")
    return text


def _columns(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else []
        except json.JSONDecodeError as error:
            raise ValueError('expected a JSON list of column names, e.g. ["card_id"]') from error
    if not isinstance(value, list):
        raise ValueError('expected a JSON list of column names, e.g. ["card_id"]')
    return tuple(_text(item) for item in value)


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError("expected a number")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError("expected a finite number")
    return number


def _integer(value: object) -> int:
    number = _number(value)
    if not number.is_integer():
        raise ValueError("expected a whole number")
    return int(number)


def _positive(parse: Callable[[object], Any]) -> Callable[[object], Any]:
    def parse_positive(value: object) -> Any:
        number = parse(value)
        if number <= 0:
            raise ValueError("must be greater than 0")
        return number

    return parse_positive


def _non_negative_integer(value: object) -> int:
    number = _integer(value)
    if not 0 <= number < 2**32:
        raise ValueError("must be within [0, 2**32)")
    return number


def _optional_depth(value: object) -> int | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null")):
        return None
    depth: int = _positive(_integer)(value)
    return depth


def _flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ValueError("expected true or false")


@dataclass(frozen=True)
class Hyperparameters:
    """The job's settings. SageMaker passes every value as a string (``"0.05"``, ``"4"``,
    ``'["card_id"]'``, ``"true"``); values the toolkit already decoded work as well."""

    # The dataset's columns come from its spec (the prepare step sets them): the script
    # names no column of any dataset.
    target_column: str = ""
    id_column: str = ""
    problem: str = "binary"  # binary | multiclass | regression
    # The model's input columns in order; empty: every column of the train channel but
    # the target, the id and exclude_columns.
    features: tuple[str, ...] = ()
    exclude_columns: tuple[str, ...] = ()
    # scikit-learn's HistGradientBoosting*, or XGBoost (in SageMaker's XGBoost container).
    algorithm: str = HIST_GRADIENT_BOOSTING
    learning_rate: float = 0.05
    max_iter: int = 300  # boosting iterations at most (early stopping may stop sooner)
    max_depth: int | None = 4  # "none" for no limit (the 31-leaf limit still applies)
    random_state: int = 42
    min_rows: int = 100  # fewer rows than this in the train channel fail the job
    # Stop when the loss on a 10 % hold-out of the train split stops improving.
    early_stopping: bool = True

    @classmethod
    def parse(cls, raw: Mapping[str, object]) -> Hyperparameters:
        settings = {key: value for key, value in raw.items() if not key.startswith("sagemaker_")}
        unknown = sorted(set(settings) - set(_PARSERS))
        if unknown:
            raise TrainingError(
                f"Unknown hyperparameter(s): {', '.join(unknown)}. This script takes "
                f"{', '.join(_PARSERS)}."
            )
        values: dict[str, Any] = {}
        for name, value in settings.items():
            try:
                values[name] = _PARSERS[name](value)
            except ValueError as error:
                raise TrainingError(
                    f"Hyperparameter {name}={value!r} is invalid: {error}."
                ) from error
        parsed = replace(cls(), **values)
        parsed.check()
        return parsed

    def check(self) -> None:
        for name in ("target_column", "id_column"):
            if not getattr(self, name):
                raise TrainingError(f"Hyperparameter {name} is required: the dataset's column.")
        if self.algorithm not in ALGORITHMS:
            raise TrainingError(
                f"Hyperparameter algorithm={self.algorithm!r} is invalid: one of "
                f"{', '.join(ALGORITHMS)}."
            )
        if self.problem not in PROBLEMS:
            raise TrainingError(
                f"Hyperparameter problem={self.problem!r} is invalid: one of {', '.join(PROBLEMS)}."
            )
        clash = {self.target_column, self.id_column} & set(self.features)
        if clash:
            raise TrainingError(
                f"Hyperparameter features lists the target or id column: {sorted(clash)}."
            )
        if self.target_column == self.id_column:
            raise TrainingError("Hyperparameters target_column and id_column name one column.")
        if self.target_column in self.exclude_columns:
            raise TrainingError(
                f"Hyperparameter exclude_columns lists the target column {self.target_column!r}."
            )

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["exclude_columns"] = list(self.exclude_columns)
        document["features"] = list(self.features)
        return document


_PARSERS: dict[str, Callable[[object], Any]] = {
    "target_column": _text,
    "id_column": _text,
    "problem": _text,
    "algorithm": _text,
    "features": _columns,
    "exclude_columns": _columns,
    "learning_rate": _positive(_number),
    "max_iter": _positive(_integer),
    "max_depth": _optional_depth,
    "random_state": _non_negative_integer,
    "min_rows": _positive(_integer),
    "early_stopping": _flag,
}


def read_hyperparameters(environ: Mapping[str, str], paths: JobPaths) -> Hyperparameters:
    text = environ.get("SM_HPS")
    source = "SM_HPS"
    if text is None:
        file = paths.config_dir / "hyperparameters.json"
        text = file.read_text(encoding="utf-8") if file.is_file() else "{}"
        source = str(file)
    try:
        raw = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as error:
        raise TrainingError(
            f"The hyperparameters in {source} are not valid JSON: {error}."
        ) from error
    if not isinstance(raw, dict):
        raise TrainingError(f"The hyperparameters in {source} are not a JSON object.")
    return Hyperparameters.parse(raw)
