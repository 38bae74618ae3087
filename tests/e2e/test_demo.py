"""The README's demo, as a user runs it, on the session's local cloud.

``driftline demo --keep`` reuses the running local cloud (and leaves it running for the
rest of the session). The session runs it first (``tests/e2e/conftest.py``), so in CI it
meets the fresh local cloud a new user's `make demo` does. Its data is seeded per run, so a
reused cloud's versions do not deduplicate it; the retraining cooldown is reset first.
"""

from __future__ import annotations

import re

import pytest

from driftline.cli import DEMO_REPORT, main
from driftline.scenario import STAGES
from driftline.target import Target
from tests.e2e.test_batch_inference import reset_cooldown

pytestmark = pytest.mark.e2e


def test_the_demo_tells_the_whole_story_and_leaves_a_report(
    deployed: dict[str, str], target: Target, capsys: pytest.CaptureFixture[str]
) -> None:
    reset_cooldown(target)
    DEMO_REPORT.unlink(missing_ok=True)
    # When the demo runs
    code = main(["demo", "--keep", "--seed", "4242"])
    output = capsys.readouterr()
    # Then every stage happened, in order, none failed, and it says so with exit code 0
    assert code == 0, output.err[-3000:]
    lines = output.err.splitlines()
    positions = [
        next(i for i, line in enumerate(lines) if line.startswith(f"{s}:")) for s in STAGES
    ]
    assert positions == sorted(positions)
    assert "FAILED" not in output.err
    assert re.search(r"Train a model: driftline-dev-transactions v\d+ ", output.err)
    assert "no drift" in output.err and "DriftDetected" in output.err
    assert "ModelQualityDegraded" in output.err
    # (On the session's kept local cloud the champion may be another test's model, so
    # the challenger is approved or rejected; on a fresh one the demo insists on Approved.)
    assert re.search(
        r"Retrain on the window: v\d+ (Approved|Rejected): AUC \d\.\d+ vs v\d+'s \d\.\d+ "
        r"on the same \d+-row time holdout",
        output.err,
    )
    # And an approved challenger rescores the drifted batch that asked for it (dev's
    # rescore_trigger_batch)
    retrained = next(line for line in lines if line.startswith("Retrain on the window:"))
    assert ("Approved" not in retrained) or "the drifted batch rescored by v" in retrained
    # And the endpoint served the model, took a new one behind a canary and rolled a
    # faulty one back
    assert re.search(r"Serve in real time: dl-dev-transactions-live serves v\d+", output.err)
    assert re.search(r"Canary to the next model: (v\d+ )?EndpointDeployed", output.err)
    assert "Roll back a faulty model: EndpointRolledBack" in output.err
    # And it leaves a self-contained report with the drift plots
    html = DEMO_REPORT.read_text()
    assert 'data-plot="psi"' in html and 'data-plot="distribution:amount"' in html
