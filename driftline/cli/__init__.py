"""``driftline``: the one entry point for users, tests and CI (see README).

One module per command group: ``local`` (the local cloud), ``data`` (drop, sample),
``pipeline`` (train, infer), ``views`` (status, report), ``logs``, ``contracts``,
``demo``; ``main``
holds the command table and turns errors into exit codes (``failures``); ``base`` is
what they share, preconditions among it.
"""

from driftline.cli.base import DEMO_FOLDER, DEMO_REPORT, SAMPLE, SAMPLES
from driftline.cli.main import app, main

__all__ = ["DEMO_FOLDER", "DEMO_REPORT", "SAMPLE", "SAMPLES", "app", "main"]
