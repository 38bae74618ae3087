"""SageMaker's jobs, models and registry kept across restarts with MiniStack's persistence.

MiniStack saves, at shutdown, each service module named in ``app._state_map`` through its
``get_state`` and restores it at startup through ``load_persisted_state``
(``PERSIST_STATE=1``; files under ``STATE_DIR``). SageMaker is not one of its modules:
``register`` enters the shared provider's stores under the key ``driftline_sagemaker``,
so jobs, models, endpoints and the registry survive ``driftline local down`` and ``up``
with the buckets and functions (the model artifacts themselves are S3 objects, kept by
S3's persistence). Kept endpoints are served again once loaded: their processes ended
with the local cloud.
"""

from __future__ import annotations

import logging
from typing import Any

from driftline_localcloud.sagemaker.provider import SageMakerProvider
from ministack import app

STATE_KEY = "driftline_sagemaker"
logger = logging.getLogger(__name__)


class SageMakerState:
    """What MiniStack's persistence asks of a service module, over the provider's stores."""

    def __init__(self, provider: SageMakerProvider, handle_request: Any) -> None:
        self.provider = provider
        self.stores = provider.stores
        # Requests reach SageMaker through app.SERVICE_HANDLERS; this is for anything
        # that looks the module up by its key.
        self.handle_request = handle_request

    def get_state(self) -> dict[str, Any]:
        return self.stores.dump()

    def load_persisted_state(self, data: dict[str, Any]) -> None:
        self.stores.restore(data)
        self.provider.endpoints.restore()
        logger.info("SageMaker state restored")

    def reset(self) -> None:
        """MiniStack's reset route empties every service."""
        self.stores.clear()


def register(provider: SageMakerProvider, handle_request: Any) -> None:
    app._loaded_modules[STATE_KEY] = SageMakerState(provider, handle_request)
    app._state_map[STATE_KEY] = STATE_KEY
