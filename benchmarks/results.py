"""``build/bench.json``: every benchmark's figures, ``{name: {"value", "peer", "ratio"}}``.

Each benchmark records its own names and keeps the others' (a read, a merge and an
atomic replace), so ``make bench`` leaves one document with every figure of the run.
``peer`` is what the value is measured against in the same run (another tool, or the
goal it must meet); ``ratio`` is value / peer, or None where there is no peer.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

BENCH_JSON = Path(__file__).resolve().parent.parent / "build" / "bench.json"


def figure(value: float, peer: float | None) -> dict[str, Any]:
    ratio = None if not peer else value / peer
    return {"value": value, "peer": peer, "ratio": ratio}


def record(figures: dict[str, dict[str, Any]], path: Path = BENCH_JSON) -> Path:
    """Add (or replace) these figures in the bench document."""
    for name, entry in figures.items():
        if set(entry) != {"value", "peer", "ratio"}:
            raise ValueError(f"{name}: a figure holds value, peer and ratio, not {sorted(entry)}")
    document: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
    document.update(figures)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as out:
        json.dump(dict(sorted(document.items())), out, indent=2)
        out.write("\n")
    Path(out.name).replace(path)
    return path
