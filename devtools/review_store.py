"""The review path's AWS resources as the ``HumanReview`` construct defines them (keys, index, TTL
attribute, redrive), created through any boto3 session (or anything with its ``client(service,
region_name=...)``, e.g. ``human_review.offline.OfflinePlatform``, which keeps its clients): moto's in tests,
the offline exercise and the review demo (``python -m human_review exercise --target offline``).

The key schema and names come from ``platform_spec.review``, which the construct reads too, so the tables
the handlers are tested against have the deployed tables' shape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from platform_spec.review import MAX_RECEIVE_COUNT, AuditTable, ReviewTable


@dataclass(frozen=True)
class ReviewResources:
    review_table: str
    audit_table: str
    queue_url: str
    dead_letter_url: str


def create_review_resources(
    session: Any, *, region: str, prefix: str = "review", visibility_timeout_s: int = 0
) -> ReviewResources:
    """Create both tables and both queues. ``visibility_timeout_s`` 0 makes a failed message visible again
    at once (the deployed queue waits ``QUEUE_VISIBILITY_TIMEOUT_S``): tests deliver it again without
    waiting."""
    dynamodb = session.client("dynamodb", region_name=region)
    sqs = session.client("sqs", region_name=region)
    review_table, audit_table = f"{prefix}-items", f"{prefix}-audit"
    dynamodb.create_table(
        TableName=review_table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": ReviewTable.KEY, "AttributeType": "S"},
            {"AttributeName": ReviewTable.PENDING_USE_CASE, "AttributeType": "S"},
            {"AttributeName": ReviewTable.CREATED_AT, "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": ReviewTable.KEY, "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": ReviewTable.PENDING_INDEX,
                "KeySchema": [
                    {"AttributeName": ReviewTable.PENDING_USE_CASE, "KeyType": "HASH"},
                    {"AttributeName": ReviewTable.CREATED_AT, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    dynamodb.create_table(
        TableName=audit_table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": AuditTable.SUBJECT, "AttributeType": "S"},
            {"AttributeName": AuditTable.EVENT, "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": AuditTable.SUBJECT, "KeyType": "HASH"},
            {"AttributeName": AuditTable.EVENT, "KeyType": "RANGE"},
        ],
    )
    dead_letter_url = sqs.create_queue(QueueName=f"{prefix}-dead-letters")["QueueUrl"]
    dead_letter_arn = sqs.get_queue_attributes(QueueUrl=dead_letter_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName=f"{prefix}-outputs",
        Attributes={
            "VisibilityTimeout": str(visibility_timeout_s),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
            ),
        },
    )["QueueUrl"]
    return ReviewResources(review_table, audit_table, queue_url, dead_letter_url)
