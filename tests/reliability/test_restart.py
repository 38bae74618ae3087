"""The local cloud restarted between two drops (this file runs last: it redeploys).

LocalStack's open-source core keeps no state between starts (no persistence), so a
restart cannot carry a dropped object over; what must hold is that nothing is left
half-there and that ``driftline local up`` (start, then deploy) gives a pipeline that
ingests the next drop as before. The test states exactly that.
"""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from driftline import deploy
from driftline.localcloud import LocalCloud
from driftline.target import Target
from tests.reliability.conftest import Figures, Pipeline
from tests.reliability.test_load import scoring_file


def test_a_restart_between_two_drops_loses_the_state_and_the_next_drop_works(
    pipeline: Pipeline, local_cloud: LocalCloud, target: Target, figures: Figures
) -> None:
    # Given a file dropped and validated before the restart
    run = pipeline.salt()
    before_key = f"scoring/restart-{run}/before.csv"
    pipeline.drop(before_key, scoring_file("e001", run, bad=False))
    (before,) = pipeline.wait_for_records({before_key}, timeout=120)[before_key]
    assert before["state"] == "validated"

    # When the local cloud is stopped, started and the app deployed again (`local up`)
    started = time.monotonic()
    assert local_cloud.stop()
    assert local_cloud.start()
    deploy.bootstrap_local(local_cloud)
    deploy.deploy(local_cloud)
    restarted = time.monotonic() - started

    # Then nothing of before is left: the raw object and its lineage record are gone
    with pytest.raises(ClientError):
        target.client("s3").head_object(Bucket=pipeline.raw, Key=before_key)
    after = Pipeline(target, target.outputs("data"), local_cloud)
    assert after.records() == []
    # And the next drop is ingested as before
    after_key = f"scoring/restart-{run}/after.csv"
    after.drop(after_key, scoring_file("e002", run, bad=False))
    (record,) = after.wait_for_records({after_key}, timeout=180)[after_key]
    assert record["state"] == "validated"
    figures.add(
        "Restart",
        "local cloud restarted between two drops",
        f"state gone (no persistence in LocalStack's open-source core); redeployed in "
        f"{restarted:.0f} s; the next drop validated",
    )
