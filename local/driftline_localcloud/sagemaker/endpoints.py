"""SageMaker real-time endpoints: endpoint configs, endpoints and InvokeEndpoint.

An endpoint goes through AWS's states: ``Creating`` until every variant's processes
have loaded the model, then ``InService`` (or ``Failed`` with a FailureReason);
``Updating`` during a blue/green deployment (``RollingBack`` when an alarm trips) and
back to ``InService``; ``Deleting`` until its processes are gone. The stored
description is the Describe* answer; what serves traffic (``LiveEndpoint``: the blue
fleet, the green one during a deployment and the share of traffic it gets) lives
beside it. The deployments themselves run in ``deployments.py``. Nothing here knows the
emulator underneath (``ServingHost``).
"""

from __future__ import annotations

from typing import Any

from driftline_localcloud.sagemaker.containers import Processes
from driftline_localcloud.sagemaker.deployments import Deployments, check_deployment_config
from driftline_localcloud.sagemaker.endpoint_metrics import EndpointMetrics
from driftline_localcloud.sagemaker.endpoint_serving import (
    MAX_PAYLOAD_BYTES,
    InvocationError,
    ServingHost,
)
from driftline_localcloud.sagemaker.fleets import LiveEndpoint, capture_summary, variant_summaries
from driftline_localcloud.sagemaker.shapes import (
    Handler,
    check_name,
    describe,
    echo,
    page,
    sort_and_filter,
    summary,
)
from driftline_localcloud.sagemaker.store import (
    Description,
    RegionStore,
    Stores,
    arn,
    now,
    validation,
)

SERVING_STATES = ("InService", "Updating", "RollingBack", "SystemUpdating")
MAX_VARIANTS = 10


class EndpointService:
    """The endpoint operations over the shared stores, and InvokeEndpoint."""

    def __init__(self, stores: Stores, host: ServingHost, processes: Processes) -> None:
        self.stores, self.host, self.processes = stores, host, processes
        self.live: dict[str, LiveEndpoint] = {}  # endpoint ARN -> what serves it
        self.metrics = EndpointMetrics(host)
        self.deployments = Deployments(self)

    def dispatch_table(self) -> dict[str, Handler]:
        return {
            "CreateEndpointConfig": self.create_endpoint_config,
            "DescribeEndpointConfig": self.describe_endpoint_config,
            "DeleteEndpointConfig": self.delete_endpoint_config,
            "ListEndpointConfigs": self.list_endpoint_configs,
            "CreateEndpoint": self.create_endpoint,
            "DescribeEndpoint": self.describe_endpoint,
            "UpdateEndpoint": self.update_endpoint,
            "UpdateEndpointWeightsAndCapacities": self.update_weights,
            "DeleteEndpoint": self.delete_endpoint,
            "ListEndpoints": self.list_endpoints,
        }

    def shutdown(self) -> None:
        self.deployments.stop.set()
        for live in list(self.live.values()):
            for fleet in (live.blue, live.green):
                if fleet is not None:
                    fleet.close()
        self.metrics.close()

    def restore(self) -> list[str]:
        """Serve again the endpoints a restart kept (``persistence``): their processes ended
        with the local cloud that ran them, so each one not Failed goes through Creating
        with its current endpoint config, as an instance SageMaker replaces would. Weights
        set by UpdateEndpointWeightsAndCapacities go back to the config's. Returns the
        endpoints started."""
        started: list[str] = []
        with self.stores.lock:
            kept = [
                (
                    account,
                    region,
                    endpoint,
                    store.endpoint_configs.get(str(endpoint.get("EndpointConfigName", "")).lower()),
                )
                for (account, region), store in self.stores.regions.items()
                for endpoint in store.endpoints.values()
                if endpoint["EndpointArn"] not in self.live
            ]
        for account, region, endpoint, config in kept:
            self.live[endpoint["EndpointArn"]] = LiveEndpoint()
            if endpoint.get("EndpointStatus") == "Failed":
                continue
            if config is None:
                self.stores.update(
                    endpoint,
                    EndpointStatus="Failed",
                    FailureReason="The endpoint config was deleted before the local cloud "
                    "restarted; update the endpoint with a config that exists.",
                )
                continue
            self.stores.update(endpoint, EndpointStatus="Creating", FailureReason=None)
            self.deployments.start_create(account, region, endpoint, self.stores.snapshot(config))
            started.append(endpoint["EndpointName"])
        return started

    def _region(self, context: Any) -> RegionStore:
        return self.stores.region(context.account_id, context.region)

    # -- endpoint configs --------------------------------------------------------------
    def create_endpoint_config(self, context: Any, request: dict[str, Any]) -> dict[str, Any]:
        name = check_name(request.get("EndpointConfigName"), "endpointConfigName")
        store = self._region(context)
        check_variants(request.get("ProductionVariants"), store, context)
        if request.get("AsyncInferenceConfig") or request.get("ShadowProductionVariants"):
            raise validation("Asynchronous inference and shadow variants are not served locally.")
        config_arn = arn(context.account_id, context.region, "endpoint-config", name)
        variants = [
            {"InitialVariantWeight": 1.0, **variant} for variant in request["ProductionVariants"]
        ]
        with self.stores.lock:
            if name.lower() in store.endpoint_configs:
                raise validation(
                    f'Cannot create already existing endpoint configuration "{config_arn}".'
                )
            store.endpoint_configs[name.lower()] = {
                **echo(request, "DescribeEndpointConfig"),
                "ProductionVariants": variants,
                "EndpointConfigArn": config_arn,
                "CreationTime": now(),
            }
        return {"EndpointConfigArn": config_arn}

    def endpoint_config(self, context: Any, name: str) -> Description:
        config = self._region(context).endpoint_configs.get(str(name).lower())
        if config is None:
            config_arn = arn(context.account_id, context.region, "endpoint-config", str(name))
            raise validation(f'Could not find endpoint configuration "{config_arn}".')
        return config

    def describe_endpoint_config(self, context: Any, request: dict[str, Any]) -> dict[str, Any]:
        config = self.stores.snapshot(self.endpoint_config(context, request["EndpointConfigName"]))
        return describe(config, "DescribeEndpointConfig")

    def delete_endpoint_config(self, context: Any, request: dict[str, Any]) -> dict[str, Any]:
        # As on AWS, an endpoint keeps serving a deleted config: its fleet is already up.
        with self.stores.lock:
            self.endpoint_config(context, request["EndpointConfigName"])
            del self._region(context).endpoint_configs[request["EndpointConfigName"].lower()]
        return {}

    def list_endpoint_configs(self, context: Any, request: dict[str, Any]) -> dict[str, Any]:
        with self.stores.lock:
            configs = sort_and_filter(
                self._region(context).endpoint_configs.values(), request, "EndpointConfigName"
            )
            fields = ("EndpointConfigName", "EndpointConfigArn", "CreationTime")
            items, token = page([summary(config, fields) for config in configs], request)
        return {"EndpointConfigs": items, **({"NextToken": token} if token else {})}

    # -- endpoints ---------------------------------------------------------------------
    def create_endpoint(self, context: Any, request: dict[str, Any]) -> dict[str, Any]:
        name = check_name(request.get("EndpointName"), "endpointName")
        config = self.stores.snapshot(self.endpoint_config(context, request["EndpointConfigName"]))
        check_deployment_config(request.get("DeploymentConfig"))
        store = self._region(context)
        endpoint_arn = arn(context.account_id, context.region, "endpoint", name)
        moment = now()
        endpoint: Description = {
            "EndpointName": name,
            "EndpointArn": endpoint_arn,
            "EndpointConfigName": config["EndpointConfigName"],
            "EndpointStatus": "Creating",
            "CreationTime": moment,
            "LastModifiedTime": moment,
            **capture_summary(config),
        }
        with self.stores.lock:
            if name.lower() in store.endpoints:
                raise validation(f'Cannot create already existing endpoint "{endpoint_arn}".')
            store.endpoints[name.lower()] = endpoint
            self.live[endpoint_arn] = LiveEndpoint()
        self.deployments.start_create(context.account_id, context.region, endpoint, config)
        return {"EndpointArn": endpoint_arn}

    def endpoint(self, context: Any, name: str) -> Description:
        endpoint = self._region(context).endpoints.get(str(name).lower())
        if endpoint is None:
            endpoint_arn = arn(context.account_id, context.region, "endpoint", str(name))
            raise validation(f'Could not find endpoint "{endpoint_arn}".')
        return endpoint

    def describe_endpoint(self, context: Any, request: dict[str, Any]) -> dict[str, Any]:
        endpoint = self.stores.snapshot(self.endpoint(context, request["EndpointName"]))
        return describe(endpoint, "DescribeEndpoint")

    def update_endpoint(self, context: Any, request: dict[str, Any]) -> dict[str, Any]:
        if request.get("RetainAllVariantProperties") or request.get("RetainDeploymentConfig"):
            raise validation("RetainAllVariantProperties and RetainDeploymentConfig are not "
                             "supported locally: name the full config and deployment.")  # fmt: skip
        check_deployment_config(request.get("DeploymentConfig"))
        config = self.stores.snapshot(self.endpoint_config(context, request["EndpointConfigName"]))
        with self.stores.lock:
            endpoint = self.endpoint(context, request["EndpointName"])
            if endpoint["EndpointStatus"] != "InService":
                raise validation(
                    f'Cannot update in-progress endpoint "{endpoint["EndpointArn"]}" (status '
                    f"{endpoint['EndpointStatus']})."
                )
            self.stores.update(
                endpoint,
                EndpointStatus="Updating",
                FailureReason=None,
                LastDeploymentConfig=request.get("DeploymentConfig"),
                PendingDeploymentSummary={
                    "EndpointConfigName": config["EndpointConfigName"],
                    "ProductionVariants": variant_summaries(config, "Creating"),
                    "StartTime": now(),
                },
            )
        self.deployments.start_update(
            context.account_id, context.region, endpoint, config, request.get("DeploymentConfig")
        )
        return {"EndpointArn": endpoint["EndpointArn"]}

    def update_weights(self, context: Any, request: dict[str, Any]) -> dict[str, Any]:
        desired = request.get("DesiredWeightsAndCapacities") or []
        with self.stores.lock:
            endpoint = self.endpoint(context, request["EndpointName"])
            live = self.live[endpoint["EndpointArn"]]
            if endpoint["EndpointStatus"] != "InService" or live.blue is None:
                raise validation(f'Cannot update in-progress endpoint "{endpoint["EndpointArn"]}".')
            variants = {v["VariantName"]: v for v in endpoint["ProductionVariants"]}
            for item in desired:
                if item.get("VariantName") not in variants:
                    raise validation(
                        f"The variant {item.get('VariantName')!r} does not exist in endpoint "
                        f"{endpoint['EndpointName']}."
                    )
                if item.get("DesiredInstanceCount") not in (None, live_count(variants, item)):
                    raise validation("Changing instance counts is not supported locally.")
            for item in desired:
                if "DesiredWeight" in item:
                    weight = float(item["DesiredWeight"])
                    variants[item["VariantName"]].update(CurrentWeight=weight, DesiredWeight=weight)
                    with live.lock:
                        live.blue.weights[item["VariantName"]] = weight
            self.stores.update(endpoint)
        return {"EndpointArn": endpoint["EndpointArn"]}

    def delete_endpoint(self, context: Any, request: dict[str, Any]) -> dict[str, Any]:
        with self.stores.lock:
            endpoint = self.endpoint(context, request["EndpointName"])
            if endpoint["EndpointStatus"] in ("Creating", "Updating", "RollingBack", "Deleting"):
                raise validation(f'Cannot delete in-progress endpoint "{endpoint["EndpointArn"]}".')
            self.stores.update(endpoint, EndpointStatus="Deleting")
        self.deployments.start_delete(context.account_id, context.region, endpoint)
        return {}

    def list_endpoints(self, context: Any, request: dict[str, Any]) -> dict[str, Any]:
        with self.stores.lock:
            endpoints = sort_and_filter(
                self._region(context).endpoints.values(), request, "EndpointName", "EndpointStatus"
            )
            fields = ("EndpointName", "EndpointArn", "CreationTime", "LastModifiedTime",
                      "EndpointStatus")  # fmt: skip
            items, token = page([summary(endpoint, fields) for endpoint in endpoints], request)
        return {"Endpoints": items, **({"NextToken": token} if token else {})}

    # -- sagemaker-runtime -------------------------------------------------------------
    def invoke(self, account: str, region: str, request: dict[str, Any]) -> dict[str, Any]:
        name = str(request.get("EndpointName") or "")
        body = request.get("Body") or b""
        if isinstance(body, str):
            body = body.encode()
        if not body:
            raise InvocationError(
                "ValidationError", "The request body is empty: send at least one row."
            )
        if len(body) > MAX_PAYLOAD_BYTES:
            raise InvocationError(
                "ValidationError",
                f"The request body is {len(body)} bytes; InvokeEndpoint takes at most "
                f"{MAX_PAYLOAD_BYTES} bytes (6 MB): send fewer rows per request.",
                413,
            )
        with self.stores.lock:
            endpoint = self.stores.region(account, region).endpoints.get(name.lower())
            status = endpoint["EndpointStatus"] if endpoint else None
            live = self.live.get(endpoint["EndpointArn"]) if endpoint else None
        if endpoint is None or live is None:
            raise InvocationError(
                "ValidationError", f"Endpoint {name} of account {account} not found."
            )
        if status not in SERVING_STATES:
            raise InvocationError(
                "ValidationError",
                f"Endpoint {name} of account {account} is {status}, not in service.",
            )
        server = live.route(request.get("TargetVariant"), name)
        content_type = request.get("ContentType") or "application/octet-stream"
        try:
            answer = server.invoke(body, content_type, request.get("Accept") or "")
        except InvocationError as error:
            original = int(error.fields.get("OriginalStatusCode") or error.status)
            self.metrics.record(account, region, name, server.name, error=original)
            raise
        self.metrics.record(account, region, name, server.name, latency_us=answer.model_latency_us)
        return {
            "Body": answer.body,
            "ContentType": answer.content_type,
            "InvokedProductionVariant": answer.variant,
        }


# -- helpers ---------------------------------------------------------------------------
def check_variants(variants: Any, store: RegionStore, context: Any) -> None:
    if not isinstance(variants, list) or not variants:
        raise validation("ProductionVariants must list at least one variant.")
    if len(variants) > MAX_VARIANTS:
        raise validation(f"An endpoint config has at most {MAX_VARIANTS} production variants.")
    names = [variant.get("VariantName") for variant in variants]
    if len(set(names)) != len(names):
        raise validation(f"Variant names must be unique within an endpoint config: {names}.")
    serverless = [bool(variant.get("ServerlessConfig")) for variant in variants]
    if any(serverless) and not all(serverless):
        raise validation("An endpoint config cannot mix serverless and instance variants.")
    for variant in variants:
        check_name(variant.get("VariantName"), "variantName")
        if str(variant.get("ModelName", "")).lower() not in store.models:
            model_arn = arn(
                context.account_id, context.region, "model", str(variant.get("ModelName"))
            )
            raise validation(f'Could not find model "{model_arn}".')
        if not variant.get("ServerlessConfig") and not (
            variant.get("InstanceType") and variant.get("InitialInstanceCount")
        ):
            raise validation(
                f"Variant {variant['VariantName']} needs InstanceType and InitialInstanceCount, "
                "or a ServerlessConfig."
            )
        if float(variant.get("InitialVariantWeight", 1.0)) < 0:
            raise validation("InitialVariantWeight must be at least 0.")


def live_count(variants: dict[str, Description], item: dict[str, Any]) -> int | None:
    count = variants[item["VariantName"]].get("CurrentInstanceCount")
    return int(count) if count is not None else None
