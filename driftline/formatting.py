"""How the pipeline's facts are written for people, in the terminal and in the report.

``driftline status`` (``driftline.status_view``) and ``driftline report``
(``driftline.report``) show the same status document; these helpers make them write a
version, a time, a duration, a model package, a number, a state and the most drifted
features the same way. Each takes whatever the document holds (it may be absent, null
or of another type) and never raises.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from driftline_runtime.names import PREDICTION_FEATURE

MISSING = "-"

Tone = Literal["good", "bad", "warn", "info"]
# How a state reads at a glance; anything else is "info".
STATE_TONES: dict[str, Tone] = {
    "validated": "good",
    "rejected": "bad",
    "Approved": "good",
    "Rejected": "bad",
    "PendingManualApproval": "warn",
    "SUCCEEDED": "good",
    "Completed": "good",
    "FAILED": "bad",
    "Failed": "bad",
    "TIMED_OUT": "bad",
    "ABORTED": "warn",
    "Stopped": "warn",
    "RUNNING": "info",
    "InProgress": "info",
    "InService": "good",
    "deployed": "good",
    "rolled_back": "warn",
    "failed": "bad",
}


def tone(state: object) -> Tone:
    return STATE_TONES.get(str(state), "info")


def items(status: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    """A list of the status document; absent or null counts as empty."""
    return [item for item in status.get(key) or [] if isinstance(item, Mapping)]


def short_version(version: object) -> str:
    """A content-hash version as its first 8 characters; shorter names as they are."""
    text = "" if version is None else str(version)
    return text[:8] if len(text) > 12 else text


def timestamp(value: object, *, zone: bool = False) -> str:
    """ISO text or a datetime as ``2026-11-27 10:00:20`` (``... UTC`` with ``zone``);
    anything else as it is."""
    if value is None or value == "":
        return MISSING
    moment: datetime | None = value if isinstance(value, datetime) else None
    if moment is None:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            return str(value)
    text = f"{moment:%Y-%m-%d %H:%M:%S}"
    if not zone:
        return text
    name = moment.tzname() or ""
    return f"{text} {'UTC' if name in {'UTC', 'UTC+00:00'} else name}".strip()


def duration(started: object, stopped: object, *, minutes_after: float | None = None) -> str:
    """``12.3 s`` between two ISO times (in minutes past ``minutes_after`` seconds)."""
    try:
        seconds = (
            datetime.fromisoformat(str(stopped)) - datetime.fromisoformat(str(started))
        ).total_seconds()
    except ValueError:
        return MISSING
    if minutes_after is not None and seconds >= minutes_after:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


def package_name(arn: object) -> str:
    """A model package ARN as ``group v3``."""
    if not arn:
        return MISSING
    name = str(arn).rsplit(":model-package/", 1)[-1]
    group, _, version = name.rpartition("/")
    return f"{group} v{version}" if group and version.isdigit() else name


def execution_name(arn: object) -> str:
    """An execution ARN (or name) as its name."""
    return MISSING if not arn else str(arn).rsplit(":", 1)[-1]


def number(value: object, digits: int = 3) -> str:
    """Whole numbers with thousands separators, others with ``digits`` decimals."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return MISSING if value is None else str(value)
    if isinstance(value, int) or float(value).is_integer() and abs(value) >= 1:
        return f"{value:,.0f}"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.{digits}f}"


def feature_name(feature: str) -> str:
    """A feature's name, the prediction's drift as ``prediction``."""
    return "prediction" if feature == PREDICTION_FEATURE else feature


def top_drifted(event: Mapping[str, Any], count: int, *, else_all: bool = False) -> str:
    """``amount 1.23, channel 0.84 (+5 more)``: the drifted features by score (with
    ``else_all``, every scored feature when none drifted)."""
    scores: Mapping[str, Any] = event.get("features") or {}
    drifted = [str(f) for f in event.get("drifted_features") or []]
    if not drifted and else_all:
        drifted = list(scores)
    ranked = sorted(drifted, key=lambda f: -float(scores.get(f) or 0.0))
    shown = [
        feature_name(f) + (f" {float(scores[f]):.2f}" if f in scores else "")
        for f in ranked[:count]
    ]
    more = f" (+{len(ranked) - count} more)" if len(ranked) > count else ""
    return ", ".join(shown) + more if shown else "none"


def leading_metric(models: list[Mapping[str, Any]], default: str) -> str:
    """The primary metric the models share (their datasets' specs say it), else default;
    each model's other held-out metrics have columns of their own."""
    found = {str(m["primary_metric"]) for m in models if m.get("primary_metric")}
    return found.pop() if len(found) == 1 else default


def trigger_of(retraining: Mapping[str, Any]) -> str:
    """What asked for a retraining: drift or degraded quality, and in which dataset. A
    drift and a quality request of one batch that waited for labels are both served by
    the execution the labels started, so both rows name it."""
    trigger = str(retraining.get("trigger") or "drift").replace("_", " ")
    return f"{trigger} in {retraining.get('trigger_dataset')}"
