"""The registry's events: SageMaker Model Package State Change on the default bus.

SageMaker puts one on the account's default event bus of the region when a model
package is created and when its approval status changes, with the package's
description as the detail (times as epoch milliseconds) and its ARN as the resource.
The local cloud does the same, so rules that react to an approval made by hand
(``aws sagemaker update-model-package --model-approval-status Approved``) run as on AWS.
Putting the event is best effort: a failure is logged and never fails the API call.

Nothing here knows the emulator underneath, so the event's shape is tested without
one; the provider hands ``announce`` its host's EventBridge client.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

LOG = logging.getLogger(__name__)

SOURCE = "aws.sagemaker"
DETAIL_TYPE = "SageMaker Model Package State Change"
DEFAULT_BUS = "default"

# The EventBridge client of an account and region.
EventsClient = Callable[[str, str], Any]


def epoch_millis(value: Any) -> Any:
    """Times as SageMaker's events and its Step Functions integrations carry them: epoch
    milliseconds, at any depth."""
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, dict):
        return {key: epoch_millis(item) for key, item in value.items()}
    if isinstance(value, list):
        return [epoch_millis(item) for item in value]
    return value


def state_change_entry(description: dict[str, Any]) -> dict[str, Any]:
    """The PutEvents entry for a package as DescribeModelPackage answers it."""
    return {
        "EventBusName": DEFAULT_BUS,
        "Source": SOURCE,
        "DetailType": DETAIL_TYPE,
        "Resources": [description["ModelPackageArn"]],
        "Detail": json.dumps(epoch_millis(description)),
    }


def announce(
    description: dict[str, Any],
    account: str,
    region: str,
    events: EventsClient,
) -> bool:
    """Put the package's state change on the default bus; False (and a log line) if it
    could not be put."""
    package = description.get("ModelPackageArn", "?")
    try:
        answer = events(account, region).put_events(Entries=[state_change_entry(description)])
    except Exception:  # the API call succeeded whatever EventBridge says
        LOG.exception("Could not put the state change of model package %s", package)
        return False
    if answer.get("FailedEntryCount"):
        LOG.error(
            "EventBridge refused the state change of model package %s: %s",
            package,
            answer.get("Entries"),
        )
        return False
    return True
