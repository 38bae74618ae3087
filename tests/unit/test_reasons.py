"""Structured rejection reasons: the text form derived, old records read, DynamoDB's numbers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest
from driftline_runtime.events import DatasetRejected
from driftline_runtime.lineage import DatasetVersionRecord, LineageStore
from driftline_runtime.reasons import Reason, summary, texts
from moto import mock_aws

SHARE = Reason(
    code="table.max_bad_row_share",
    message="45 of 300 rows (15.00%) fail rules (amount.gt), above the limit of 5.00%",
    details={"bad_rows": 45, "rows": 300, "share": 0.15, "limit": 0.05, "rules": ["amount.gt"]},
)


def test_the_text_form_is_derived_from_code_and_message() -> None:
    assert SHARE.text == f"table.max_bad_row_share: {SHARE.message}"
    assert str(SHARE) == SHARE.text
    empty = Reason(code="empty_file", message="the object has 0 bytes")
    assert texts([SHARE, empty]) == [SHARE.text, "empty_file: the object has 0 bytes"]
    assert summary([SHARE, empty]) == f"{SHARE.text}; empty_file: the object has 0 bytes"


def test_a_reason_stored_as_text_reads_as_code_and_message() -> None:
    # Given a lineage record written before reasons were structured
    old = Reason.model_validate("schema.missing_column: column 'score' is missing")
    # Then its code is what came before the first ": "
    assert old == Reason(code="schema.missing_column", message="column 'score' is missing")


def test_dynamodbs_decimals_come_back_as_the_numbers_they_were() -> None:
    details = {"bad_rows": Decimal(45), "share": Decimal("0.15"), "rules": ["amount.gt"]}
    read = Reason(code="x", message="y", details=details)
    assert read.details == {"bad_rows": 45, "share": 0.15, "rules": ["amount.gt"]}
    assert isinstance(read.details["bad_rows"], int)


def test_a_rejection_event_carries_the_reasons_and_their_summary() -> None:
    event = DatasetRejected(
        dataset="transactions",
        kind="training",
        version="f58d9031514fc045",
        contract_version="1.0.0",
        source_bucket="raw",
        source_key="transactions/bad.csv",
        source_version_id=None,
        report_uri="s3://quarantine/transactions/f58d9031514fc045/report.json",
        reasons=[SHARE],
        quarantine_uri="s3://quarantine/transactions/f58d9031514fc045/bad.csv",
    )
    assert event.summary == SHARE.text
    # And a consumer parses the event it received back into the same reasons
    received = DatasetRejected.model_validate_json(event.model_dump_json())
    assert received.reasons == [SHARE] and received.summary == event.summary


@pytest.fixture
def lineage(aws_credentials: None) -> Iterator[LineageStore]:
    with mock_aws():
        boto3.client("dynamodb").create_table(
            TableName="lineage",
            KeySchema=[
                {"AttributeName": "dataset", "KeyType": "HASH"},
                {"AttributeName": "version", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "dataset", "AttributeType": "S"},
                {"AttributeName": "version", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield LineageStore(boto3.resource("dynamodb").Table("lineage"))


def record(reasons: list[Any]) -> DatasetVersionRecord:
    return DatasetVersionRecord(
        dataset="transactions",
        version="f58d9031514fc045",
        kind="training",
        state="rejected",
        rows=300,
        valid_rows=0,
        content_sha256="f58d",
        contract_version="1.0.0",
        source_bucket="raw",
        source_key="transactions/bad.csv",
        source_version_id=None,
        report_key="s3://quarantine/transactions/f58d9031514fc045/report.json",
        outputs={},
        reasons=reasons,
        created_at=datetime(2026, 11, 1, tzinfo=UTC),
    )


def test_the_lineage_store_keeps_reasons_with_their_details(lineage: LineageStore) -> None:
    # Given a rejected version whose reason holds fractions (DynamoDB refuses floats)
    assert lineage.create(record([SHARE]))
    # When it is read back
    stored = lineage.get("transactions", "f58d9031514fc045")
    # Then it is the same reason, numbers and all
    assert stored is not None and stored.reasons == [SHARE]
