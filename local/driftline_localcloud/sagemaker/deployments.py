"""Endpoint deployments: creation, blue/green updates with guardrails, deletion.

An update starts the new config's variants (the green fleet) beside the old ones
(blue), then shifts traffic as ``DeploymentConfig.BlueGreenUpdatePolicy`` says:
``ALL_AT_ONCE``, ``CANARY`` (a share for ``WaitIntervalInSeconds``, then the rest) or
``LINEAR`` (equal steps, each baked). After the last step the blue fleet waits
``TerminationWaitInSeconds`` before it is ended. Through every wait the
``AutoRollbackConfiguration`` alarms are read from CloudWatch; one in ``ALARM`` rolls
the deployment back (``RollingBack``): all traffic returns to blue, green is ended,
and the endpoint is ``InService`` on its old config with a FailureReason saying which
alarm tripped. A green fleet that cannot load its model rolls back the same way.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from driftline_localcloud.sagemaker.containers import JobFailure
from driftline_localcloud.sagemaker.endpoint_serving import VariantServer
from driftline_localcloud.sagemaker.fleets import Fleet, capture_summary, variant_summaries
from driftline_localcloud.sagemaker.store import Description, now, validation

if TYPE_CHECKING:
    from driftline_localcloud.sagemaker.endpoints import EndpointService

LOG = logging.getLogger(__name__)

ALARM_POLL_SECONDS = 1.0
MAX_ALARMS = 10
MAX_CANARY_PERCENT = 50


def check_deployment_config(config: dict[str, Any] | None) -> None:
    """What AWS would refuse in a DeploymentConfig, and what is not served locally."""
    if not config:
        return
    if config.get("RollingUpdatePolicy"):
        raise validation("RollingUpdatePolicy is not supported locally: use BlueGreenUpdatePolicy.")
    alarms = (config.get("AutoRollbackConfiguration") or {}).get("Alarms") or []
    if len(alarms) > MAX_ALARMS:
        raise validation(f"AutoRollbackConfiguration takes at most {MAX_ALARMS} alarms.")
    policy = config.get("BlueGreenUpdatePolicy")
    if not policy:
        return
    routing = policy.get("TrafficRoutingConfiguration") or {}
    kind = routing.get("Type")
    if kind not in ("ALL_AT_ONCE", "CANARY", "LINEAR"):
        raise validation(
            f"TrafficRoutingConfiguration.Type must be ALL_AT_ONCE, CANARY or LINEAR, got {kind!r}."
        )
    size_key = {"CANARY": "CanarySize", "LINEAR": "LinearStepSize"}.get(kind)
    if size_key is not None:
        check_step_size(kind, size_key, routing)


def check_step_size(kind: str, size_key: str, routing: dict[str, Any]) -> None:
    size = routing.get(size_key) or {}
    if size.get("Type") not in ("INSTANCE_COUNT", "CAPACITY_PERCENT"):
        raise validation(f"{size_key}.Type must be INSTANCE_COUNT or CAPACITY_PERCENT.")
    if not isinstance(size.get("Value"), int) or size["Value"] < 1:
        raise validation(f"{size_key}.Value must be a positive integer.")
    too_big = size["Type"] == "CAPACITY_PERCENT" and size["Value"] > MAX_CANARY_PERCENT
    if kind == "CANARY" and too_big:
        raise validation(f"A canary is at most {MAX_CANARY_PERCENT}% of the new fleet's capacity.")
    if routing.get("WaitIntervalInSeconds") is None:
        raise validation(f"A {kind} deployment needs WaitIntervalInSeconds.")


def traffic_steps(routing: dict[str, Any] | None, instances: int) -> list[tuple[float, float]]:
    """(share of traffic on the green fleet, seconds it bakes) before it takes all of it."""
    routing = routing or {}
    kind = routing.get("Type", "ALL_AT_ONCE")
    if kind == "ALL_AT_ONCE":
        return []
    wait = float(routing.get("WaitIntervalInSeconds") or 0)
    size = routing.get("CanarySize" if kind == "CANARY" else "LinearStepSize") or {}
    if size.get("Type") == "INSTANCE_COUNT":
        share = int(size["Value"]) / max(instances, 1)
    else:
        share = int(size.get("Value", 100)) / 100
    share = min(share, 1.0)
    if kind == "CANARY":
        return [(share, wait)] if share < 1 else []
    steps, current = [], share
    while current < 1 - 1e-9:
        steps.append((current, wait))
        current += share
    return steps


class Deployments:
    """Runs each create, update and delete on its own thread."""

    def __init__(self, service: EndpointService) -> None:
        self.service = service
        self.stop = threading.Event()

    def _thread(self, target: Any, *args: Any) -> None:
        threading.Thread(target=target, args=args, name="endpoint-deployment", daemon=True).start()

    def start_create(
        self, account: str, region: str, endpoint: Description, config: Description
    ) -> None:
        self._thread(self._create, account, region, endpoint, config)

    def start_update(
        self,
        account: str,
        region: str,
        endpoint: Description,
        config: Description,
        deployment: dict[str, Any] | None,
    ) -> None:
        self._thread(self._update, account, region, endpoint, config, deployment or {})

    def start_delete(self, account: str, region: str, endpoint: Description) -> None:
        self._thread(self._delete, account, region, endpoint)

    # -- the runs ------------------------------------------------------------------------
    def _launch(
        self, account: str, region: str, endpoint: Description, config: Description
    ) -> Fleet:
        """Every variant of ``config`` up and serving; raises JobFailure if one is not."""
        servers: dict[str, VariantServer] = {}
        service = self.service
        try:
            for variant in config["ProductionVariants"]:
                models = service.stores.region(account, region).models
                model = models.get(str(variant["ModelName"]).lower())
                if model is None:
                    raise JobFailure(f"Could not find model {variant['ModelName']!r}.")
                server = VariantServer(
                    service.host,
                    service.processes,
                    account,
                    region,
                    endpoint["EndpointName"],
                    variant,
                    service.stores.snapshot(model),
                    config.get("DataCaptureConfig"),
                )
                servers[variant["VariantName"]] = server
                server.start()
        except Exception:
            for server in servers.values():
                server.close()
            raise
        weights = {
            v["VariantName"]: float(v.get("InitialVariantWeight", 1.0))
            for v in config["ProductionVariants"]
        }
        return Fleet(config["EndpointConfigName"], servers, weights)

    def _create(
        self, account: str, region: str, endpoint: Description, config: Description
    ) -> None:
        stores = self.service.stores
        try:
            fleet = self._launch(account, region, endpoint, config)
        except Exception as error:
            LOG.info("Endpoint %s failed to start: %s", endpoint["EndpointName"], error)
            stores.update(endpoint, EndpointStatus="Failed", FailureReason=str(error)[:1024])
            return
        live = self.service.live[endpoint["EndpointArn"]]
        with live.lock:
            live.blue = fleet
        stores.update(
            endpoint,
            EndpointStatus="InService",
            ProductionVariants=deployed(config, fleet),
        )

    def _update(
        self,
        account: str,
        region: str,
        endpoint: Description,
        config: Description,
        deployment: dict[str, Any],
    ) -> None:
        stores, live = self.service.stores, self.service.live[endpoint["EndpointArn"]]
        policy = deployment.get("BlueGreenUpdatePolicy") or {}
        alarms = [
            alarm["AlarmName"]
            for alarm in (deployment.get("AutoRollbackConfiguration") or {}).get("Alarms") or []
        ]
        try:
            green = self._launch(account, region, endpoint, config)
        except Exception as error:
            self._roll_back(endpoint, None, f"The new endpoint config could not start: {error}")
            return
        instances = sum(
            int(v.get("InitialInstanceCount") or 1) for v in config["ProductionVariants"]
        )
        steps = traffic_steps(policy.get("TrafficRoutingConfiguration"), instances)
        termination_wait = float(policy.get("TerminationWaitInSeconds") or 0)
        with live.lock:
            live.green = green
        for share, wait in [*steps, (1.0, termination_wait)]:
            with live.lock:
                live.green_share = share
            self._pending_status(endpoint, "Baking")
            tripped = self._bake(account, region, alarms, wait)
            if tripped:
                self._roll_back(
                    endpoint,
                    green,
                    f"Deployment rolled back: alarm(s) {', '.join(tripped)} went into ALARM "
                    f"with {share:.0%} of the traffic on endpoint config "
                    f"{config['EndpointConfigName']}.",
                )
                return
        with live.lock:
            blue, live.blue, live.green, live.green_share = live.blue, green, None, 0.0
        stores.update(
            endpoint,
            EndpointStatus="InService",
            EndpointConfigName=config["EndpointConfigName"],
            ProductionVariants=deployed(config, green),
            PendingDeploymentSummary=None,
            DataCaptureConfig=capture_summary(config).get("DataCaptureConfig"),
        )
        if blue is not None:
            blue.close()

    def _bake(self, account: str, region: str, alarms: list[str], seconds: float) -> list[str]:
        """Waits ``seconds`` while no alarm trips; the alarms in ALARM, if one did."""
        deadline = time.monotonic() + seconds
        while True:
            if alarms:
                try:
                    states = self.service.host.alarm_states(account, region, alarms)
                except Exception as error:  # AWS rolls back when it cannot read its alarms
                    return [f"(unreadable: {error})"]
                tripped = [name for name in alarms if states.get(name) == "ALARM"]
                if tripped:
                    return tripped
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.stop.wait(min(ALARM_POLL_SECONDS, remaining)):
                return []

    def _roll_back(self, endpoint: Description, green: Fleet | None, reason: str) -> None:
        stores, live = self.service.stores, self.service.live[endpoint["EndpointArn"]]
        stores.update(endpoint, EndpointStatus="RollingBack")
        with live.lock:
            live.green, live.green_share = None, 0.0
        if green is not None:
            green.close()
        LOG.info("Endpoint %s: %s", endpoint["EndpointName"], reason)
        stores.update(
            endpoint,
            EndpointStatus="InService",
            FailureReason=reason[:1024],
            PendingDeploymentSummary=None,
        )

    def _pending_status(self, endpoint: Description, status: str) -> None:
        with self.service.stores.lock:
            pending = endpoint.get("PendingDeploymentSummary") or {}
            for variant in pending.get("ProductionVariants", []):
                variant["VariantStatus"] = [{"Status": status, "StartTime": now()}]

    def _delete(self, account: str, region: str, endpoint: Description) -> None:
        service = self.service
        with service.stores.lock:
            live = service.live.pop(endpoint["EndpointArn"], None)
        if live is not None:
            for fleet in (live.blue, live.green):
                if fleet is not None:
                    fleet.close()
        with service.stores.lock:
            service.stores.region(account, region).endpoints.pop(
                endpoint["EndpointName"].lower(), None
            )


def deployed(config: Description, fleet: Fleet) -> list[dict[str, Any]]:
    """DescribeEndpoint's ProductionVariants once ``fleet`` serves ``config``."""
    summaries = variant_summaries(config)
    for item in summaries:
        server = fleet.servers[item["VariantName"]]
        image = server.model.get("PrimaryContainer", {}).get("Image") or ""
        item["DeployedImages"] = [
            {"SpecifiedImage": image, "ResolvedImage": image, "ResolutionTime": now()}
        ]
    return summaries
