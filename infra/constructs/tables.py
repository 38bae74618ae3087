"""DynamoDB tables with the project's defaults: on demand, the project's KMS key, PITR."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct


def project_table(
    scope: Construct,
    name: str,
    *,
    partition: str,
    sort: str | None,
    key: kms.IKey,
    removal: RemovalPolicy,
    time_to_live: str | None = None,
) -> dynamodb.Table:
    # AWS::DynamoDB::Table rather than TableV2's GlobalTable: a single-region table is
    # all this needs, and the local cloud's CloudFormation supports it fully.
    return dynamodb.Table(
        scope,
        name,
        partition_key=dynamodb.Attribute(name=partition, type=dynamodb.AttributeType.STRING),
        sort_key=dynamodb.Attribute(name=sort, type=dynamodb.AttributeType.STRING)
        if sort
        else None,
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryption_key=key,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        time_to_live_attribute=time_to_live,
        removal_policy=removal,
    )
