"""AWS clients created when first used, not when a function starts.

Creating a botocore client loads its service's model (tens of milliseconds each); a
function that creates every client it might need at import pays for all of them on
every cold start. A :class:`LazyClient` stands in for the client until a call is made.
"""

from __future__ import annotations

import threading
from typing import Any


class LazyClient:
    def __init__(self, service: str, **options: Any) -> None:
        self._service, self._options = service, options
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    import boto3

                    self._client = boto3.client(self._service, **self._options)
        return self._client

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


class _LazyTable:
    """A DynamoDB ``Table`` resource, created on first use."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._table: Any = None

    def __getattr__(self, attribute: str) -> Any:
        if self._table is None:
            import boto3

            self._table = boto3.resource("dynamodb").Table(self._name)
        return getattr(self._table, attribute)


def lazy_table(name: str) -> Any:
    return _LazyTable(name)
