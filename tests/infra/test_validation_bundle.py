"""The validation job's bundle runs as a zip application: it unpacks itself and starts
the job's entry point from the unpacked copy (its compiled modules cannot load from a zip)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from infra.platforms import asset_platform
from infra.validation_bundle import validation_bundle


def test_the_bundle_unpacks_itself_and_runs_the_job_entry_point(tmp_path: Path) -> None:
    # Given the bundle built for this machine, as the local cloud's deployment builds it
    bundle = validation_bundle(asset_platform("local", "x86_64"), ())
    work, message = tmp_path / "work", tmp_path / "output" / "message"
    # When it runs as the job's entry point does, without the job's settings
    environment = {
        "PATH": os.environ["PATH"],
        "WORK_DIRECTORY": str(work),
        "PYTHONDONTWRITEBYTECODE": "1",
        "DRIFTLINE_JOB_MESSAGE": str(message),
    }
    result = subprocess.run(
        [sys.executable, str(bundle)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )
    # Then the job ran from the unpacked copy and failed, naming the missing setting
    assert result.returncode == 1, result.stderr
    assert f"{work}/bundle/site/processing_job.py" in result.stderr
    assert "curated_bucket" in result.stderr
    # And wrote why where the job's exit message is read from
    assert message.read_text().startswith("ValidationError")
    assert (work / "bundle" / "site" / "pyarrow").is_dir()
