"""The lineage store: one record per dataset version, in DynamoDB.

A record says where a version came from (source object, content hash, contract
version), what became of it (validated or rejected, rows) and where its outputs are.
Later stages add their own records (training jobs, models, predictions) that point at
these by dataset and version.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from driftline_runtime.reasons import Reason


class DatasetVersionRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    dataset: str
    version: str
    kind: Literal["training", "inference", "labels"] | None
    state: Literal["validated", "rejected"]
    rows: int
    valid_rows: int
    content_sha256: str
    contract_version: str | None
    source_bucket: str
    source_key: str
    source_version_id: str | None
    report_key: str
    outputs: dict[str, str]
    # Why it was rejected (records written before reasons were structured hold text,
    # which Reason reads as ``code: message``).
    reasons: list[Reason] = []
    created_at: datetime
    event_published: bool = False


class LineageStore:
    def __init__(self, table: Any) -> None:
        """``table`` is a boto3 DynamoDB ``Table`` resource."""
        self._table = table

    def get(self, dataset: str, version: str) -> DatasetVersionRecord | None:
        item = self._table.get_item(
            Key={"dataset": dataset, "version": version}, ConsistentRead=True
        ).get("Item")
        return DatasetVersionRecord.model_validate(item) if item else None

    def create(self, record: DatasetVersionRecord) -> bool:
        """Store a new version; False if that version exists already (a duplicate)."""
        client = self._table.meta.client
        try:
            self._table.put_item(
                # DynamoDB takes numbers as Decimal, never float (reasons' details hold some).
                Item=json.loads(record.model_dump_json(), parse_float=Decimal),
                ConditionExpression="attribute_not_exists(version)",
            )
        except client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def mark_published(self, dataset: str, version: str) -> None:
        self._table.update_item(
            Key={"dataset": dataset, "version": version},
            UpdateExpression="SET event_published = :yes",
            ExpressionAttributeValues={":yes": True},
        )

    def latest_validated(self, dataset: str) -> DatasetVersionRecord | None:
        """The newest validated version of ``dataset`` (by arrival), or None."""
        newest: DatasetVersionRecord | None = None
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "dataset = :dataset",
            "ExpressionAttributeValues": {":dataset": dataset},
            "ConsistentRead": True,
        }
        while True:
            page = self._table.query(**kwargs)
            for item in page["Items"]:
                record = DatasetVersionRecord.model_validate(item)
                if record.state == "validated" and (
                    newest is None or record.created_at > newest.created_at
                ):
                    newest = record
            if "LastEvaluatedKey" not in page:
                return newest
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def dataset_versions(self) -> list[DatasetVersionRecord]:
        records: list[DatasetVersionRecord] = []
        kwargs: dict[str, Any] = {}
        while True:
            page = self._table.scan(**kwargs)
            records += [DatasetVersionRecord.model_validate(i) for i in page["Items"]]
            if "LastEvaluatedKey" not in page:
                return sorted(records, key=lambda r: r.created_at)
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
