"""The orchestrator's end of the review path: every answered output is queued for scoring; a held answer
(``review.hold_for_review``) is stored as a pending review item instead of being returned.

* Queueing (SQS ``SendMessage``) never changes the caller's answer: a failure is logged and counted
  (``ReviewEnqueueFailures``, which alarms) and the answer goes out as it would have.
* A held answer fails closed: without a stored item (DynamoDB ``PutItem``, written once) the caller gets
  503 ``REVIEW_UNAVAILABLE`` and no answer; with one, 202 and the review id (the request id), even if
  queueing it for scoring then fails (the item is already in the reviewers' pending list, unscored).
* Where the contract forbids storing text (``logging.prompts_and_responses: false``) the message carries
  no text: the orchestrator scores the output here (``platform_spec.review.score_output``, standard
  library, well under a millisecond) and queues the scores and the request's references.

botocore clients are created on the first answered request of a function wired to the review path, with
short timeouts (``platform_spec.review.STORE_*``) and one retry, so a slow store costs at most a few
seconds of the request's budget.
"""

from __future__ import annotations

import threading
from typing import Any

from platform_spec.contract import ReviewPolicy
from platform_spec.review import (
    ReviewMessage,
    ReviewReason,
    new_item,
    store_client_config,
)

__all__ = ["ReviewPath"]


class ReviewPath:
    """Writes held items to the review table and queues outputs for the scoring function."""

    def __init__(self, *, table_name: str, queue_url: str, region: str) -> None:
        self.table_name = table_name
        self.queue_url = queue_url
        self.region = region
        self._lock = threading.Lock()
        self._clients: tuple[Any, Any] | None = None

    def _setup(self) -> tuple[Any, Any]:
        with self._lock:
            if self._clients is None:
                import boto3
                from botocore.config import Config

                config = Config(**store_client_config())
                self._clients = (
                    boto3.client("dynamodb", region_name=self.region, config=config),
                    boto3.client("sqs", region_name=self.region, config=config),
                )
            return self._clients

    def hold(self, message: ReviewMessage, *, policy: ReviewPolicy, now: float) -> None:
        """Store a held answer as a pending item (once per request id); raises on any failure."""
        dynamodb, _ = self._setup()
        dynamodb.put_item(
            TableName=self.table_name,
            **new_item(message, policy=policy, reasons=(ReviewReason.ALL,), scores=None, now=now),
        )

    def enqueue(self, message: ReviewMessage) -> None:
        """Queue an output for the scoring function; raises on any failure."""
        _, sqs = self._setup()
        sqs.send_message(QueueUrl=self.queue_url, MessageBody=message.fitted().to_json())
