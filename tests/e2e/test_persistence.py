"""The restore path of the local cloud's kept SageMaker state, in the local cloud's own
interpreter (installed by the session, not started), with another string-hash salt, as a
restart has. ``tests/unit/test_sagemaker_state.py`` covers the saved document and
``tests/e2e/test_restart.py`` and ``tests/reliability/test_restart.py`` restart the whole
local cloud.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

from driftline.localcloud import LocalCloud


@pytest.fixture(scope="module")
def cloud_python() -> Path:
    cloud = LocalCloud()
    cloud.install()
    return cloud.venv_python


def run(python: Path, script: str, hash_seed: int) -> Any:
    """Runs ``script`` with the local cloud's Python; it prints one JSON document."""
    environment = {**os.environ, "PYTHONHASHSEED": str(hash_seed)}
    result = subprocess.run(
        [str(python), "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_kept_endpoints_are_served_again_after_a_load(cloud_python: Path) -> None:
    # Given SageMaker's store as a load leaves it: an endpoint InService with its config,
    # one whose config was deleted, one Failed, and no process serving any of them
    result = run(
        cloud_python,
        """
        import json
        from driftline_localcloud.sagemaker.endpoints import EndpointService
        from driftline_localcloud.sagemaker.store import Stores, arn

        account, region = "000000000000", "us-east-1"
        stores = Stores()
        store = stores.region(account, region)
        config = {"EndpointConfigName": "cfg-v2", "ProductionVariants": [
            {"VariantName": "AllTraffic", "ModelName": "m-v2", "InitialVariantWeight": 1.0}]}
        store.endpoint_configs["cfg-v2"] = config
        for name, config_name, status in (
            ("scoring", "cfg-v2", "InService"),
            ("orphan", "cfg-gone", "InService"),
            ("broken", "cfg-v2", "Failed"),
        ):
            store.endpoints[name] = {
                "EndpointName": name, "EndpointArn": arn(account, region, "endpoint", name),
                "EndpointConfigName": config_name, "EndpointStatus": status,
            }
        service = EndpointService.__new__(EndpointService)
        service.stores, service.live = stores, {}
        created = []

        class Deployments:
            def start_create(self, account_, region_, endpoint, config_):
                created.append([endpoint["EndpointName"], config_["EndpointConfigName"]])

        service.deployments = Deployments()

        # When the endpoints are restored
        started = service.restore()
        print(json.dumps({
            "started": started,
            "created": created,
            "status": {n: e["EndpointStatus"] for n, e in store.endpoints.items()},
            "reason": store.endpoints["orphan"].get("FailureReason", ""),
            "live": sorted(service.live),
        }))
        """,
        hash_seed=5,
    )

    # Then the endpoint with its config is created again from that config (Creating until
    # its processes serve), the one without a config fails with a reason, and every one
    # is known to InvokeEndpoint again (which answers "not in service" until InService)
    assert result["started"] == ["scoring"]
    assert result["created"] == [["scoring", "cfg-v2"]]
    assert result["status"] == {"scoring": "Creating", "orphan": "Failed", "broken": "Failed"}
    assert "endpoint config was deleted" in result["reason"]
    assert len(result["live"]) == 3
