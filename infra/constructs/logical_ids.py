"""Keeping CloudFormation logical IDs when constructs move to another parent.

CDK derives a resource's logical ID from its construct path, and CloudFormation treats a
new logical ID as a new resource: a bucket or table that moved would be created empty
beside the old one, a named function or log group would fail to create beside its
namesake, and the monitoring stack's imports of the old IDs' exports would block the
update. A stack whose constructs moved declares each :class:`Moved` path prefix with
the path it had before; :func:`unique_id` is CDK's own rule (``makeUniqueId``), so the
resources keep exactly the IDs they were deployed with. Paths that did not move keep
CDK's allocation.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

# A construct with this id adds nothing to its children's IDs; one with the second adds
# nothing to their human-readable part (CDK's HIDDEN_ID and HIDDEN_FROM_HUMAN_ID).
HIDDEN = "Default"
HIDDEN_FROM_HUMAN = "Resource"
MAX_HUMAN_LENGTH = 240
MAX_ID_LENGTH = 255


def unique_id(components: Sequence[str]) -> str:
    """The logical ID CDK allocates to the construct path ``components`` below a stack."""
    path = [component for component in components if component != HIDDEN]
    if not path:
        raise ValueError("a logical ID needs at least one path component")
    if len(path) == 1:
        candidate = _alphanumeric(path[0])
        if len(candidate) <= MAX_ID_LENGTH:
            return candidate
    digest = hashlib.md5("/".join(path).encode(), usedforsecurity=False).hexdigest()
    human = "".join(
        _alphanumeric(component)
        for component in _without_repeats(path)
        if component != HIDDEN_FROM_HUMAN
    )
    return human[:MAX_HUMAN_LENGTH] + digest[:8].upper()


def _alphanumeric(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", text)


def _without_repeats(path: list[str]) -> list[str]:
    """CDK drops a component that the previous one ends with (``Bucket/Bucket``)."""
    kept: list[str] = []
    for component in path:
        if not kept or not kept[-1].endswith(component):
            kept.append(component)
    return kept


@dataclass(frozen=True)
class Moved:
    """Constructs now under ``prefix`` were under ``was`` when they were first deployed."""

    prefix: tuple[str, ...]
    was: tuple[str, ...]


def legacy_id(path: Sequence[str], moves: Sequence[Moved]) -> str | None:
    """The logical ID the element at ``path`` was deployed with, if it moved; else None."""
    for move in sorted(moves, key=lambda m: len(m.prefix), reverse=True):
        if tuple(path[: len(move.prefix)]) == move.prefix:
            return unique_id([*move.was, *path[len(move.prefix) :]])
    return None
