"""What serves an endpoint's traffic: fleets of variants and the share each gets.

A ``Fleet`` is the variants of one endpoint config with their weights; a
``LiveEndpoint`` holds the blue fleet and, while a blue/green deployment runs, the green
one and the share of requests routed to it. A request naming ``TargetVariant`` goes to
that variant of the blue fleet (or of the green one once it has all the traffic).
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

from driftline_localcloud.sagemaker.endpoint_serving import InvocationError, VariantServer
from driftline_localcloud.sagemaker.store import Description, now


@dataclass
class Fleet:
    """Variants that serve one endpoint config, and their traffic weights."""

    config_name: str
    servers: dict[str, VariantServer]
    weights: dict[str, float]

    def pick(self, target: str | None, endpoint: str) -> VariantServer:
        if target:
            if target not in self.servers:
                raise InvocationError(
                    "ValidationError",
                    f"Endpoint {endpoint} has no variant named {target!r}; its variants are "
                    f"{sorted(self.servers)}.",
                )
            return self.servers[target]
        names = [name for name in self.servers if self.weights.get(name, 0) > 0]
        if not names:
            raise InvocationError(
                "ValidationError",
                f"Endpoint {endpoint} has no variant with a weight above 0: name one with "
                "TargetVariant.",
            )
        chosen = random.choices(names, weights=[self.weights[name] for name in names])[0]
        return self.servers[chosen]

    def close(self) -> None:
        for server in self.servers.values():
            server.close()


@dataclass
class LiveEndpoint:
    """What serves an endpoint's traffic right now."""

    blue: Fleet | None = None
    green: Fleet | None = None
    green_share: float = 0.0  # of the traffic, while a deployment shifts it
    lock: threading.Lock = field(default_factory=threading.Lock)

    def route(self, target: str | None, endpoint: str) -> VariantServer:
        with self.lock:
            blue, green, share = self.blue, self.green, self.green_share
        if green is not None and (blue is None or (not target and random.random() < share)):
            return green.pick(target, endpoint)
        if blue is None:
            raise InvocationError(
                "ValidationError", f"Endpoint {endpoint} has no variant in service yet."
            )
        return blue.pick(target, endpoint)


def variant_summaries(config: Description, status: str | None = None) -> list[dict[str, Any]]:
    """ProductionVariants of DescribeEndpoint for the variants of ``config``."""
    summaries = []
    for variant in config["ProductionVariants"]:
        weight = float(variant.get("InitialVariantWeight", 1.0))
        item: dict[str, Any] = {
            "VariantName": variant["VariantName"],
            "CurrentWeight": weight,
            "DesiredWeight": weight,
        }
        if variant.get("ServerlessConfig"):
            item["CurrentServerlessConfig"] = variant["ServerlessConfig"]
            item["DesiredServerlessConfig"] = variant["ServerlessConfig"]
        else:
            item["CurrentInstanceCount"] = int(variant["InitialInstanceCount"])
            item["DesiredInstanceCount"] = int(variant["InitialInstanceCount"])
        if status is not None:
            item["VariantStatus"] = [{"Status": status, "StartTime": now()}]
        summaries.append(item)
    return summaries


def capture_summary(config: Description) -> dict[str, Any]:
    capture = config.get("DataCaptureConfig")
    if not capture:
        return {}
    return {
        "DataCaptureConfig": {
            "EnableCapture": bool(capture.get("EnableCapture", True)),
            "CaptureStatus": "Started" if capture.get("EnableCapture", True) else "Stopped",
            "CurrentSamplingPercentage": int(capture.get("InitialSamplingPercentage", 100)),
            "DestinationS3Uri": capture["DestinationS3Uri"],
            **({"KmsKeyId": capture["KmsKeyId"]} if capture.get("KmsKeyId") else {}),
        }
    }
