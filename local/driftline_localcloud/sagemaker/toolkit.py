"""How the sagemaker-training toolkit reads hyperparameters and hands them to a script.

Every hyperparameter reaches the container as a string; the toolkit JSON-decodes what
parses, renders values as ``SM_*`` environment variables and passes them to the script
as ``--name value`` arguments. The local cloud's training jobs do the same.
"""

from __future__ import annotations

import json
from typing import Any


def decode_hyperparameter(value: str) -> Any:
    """The toolkit's reading of a hyperparameter: JSON if it parses, else the string."""
    try:
        return json.loads(value)
    except (ValueError, TypeError):
        return value


def env_value(value: Any) -> str:
    """The toolkit's rendering of a value as an environment variable."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def command_arguments(hyperparameters: dict[str, Any]) -> list[str]:
    """The toolkit's ``--name value`` arguments, sorted by name."""
    arguments: list[str] = []
    for name in sorted(hyperparameters):
        value = hyperparameters[name]
        if isinstance(value, dict):
            value = ",".join(f"{k}={v}" for k, v in sorted(value.items()))
        arguments += [f"--{name}" if len(name) > 1 else f"-{name}", str(value)]
    return arguments
