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
short timeouts (``platform_spec.api.STORE_*``) and one retry, and every call is bounded by the time the
request has left (``stores``): a call that cannot fit is cut to one shorter attempt or not made
(``NoTimeLeftError``), so a slow store never runs the function past its timeout. The handler reserves one
full attempt of the held answer's PutItem in the Bedrock budget (``platform_spec.api.post_answer_reserve_s``).
"""

from __future__ import annotations

from typing import Any

from platform_spec.contract import ReviewPolicy
from platform_spec.review import (
    ReviewMessage,
    ReviewReason,
    new_item,
)

from .stores import StoreClients

__all__ = ["ReviewPath"]


class ReviewPath:
    """Writes held items to the review table and queues outputs for the scoring function."""

    def __init__(self, *, table_name: str, queue_url: str, region: str) -> None:
        self.table_name = table_name
        self.queue_url = queue_url
        self.region = region
        self.dynamodb = StoreClients("dynamodb", region=region)
        self.sqs = StoreClients("sqs", region=region)

    def _setup(self) -> tuple[Any, Any]:
        """The clients with the configured bounds (those a call with time to spare uses)."""
        return self.dynamodb.within(None), self.sqs.within(None)

    def hold(
        self, message: ReviewMessage, *, policy: ReviewPolicy, now: float, ends: float | None = None
    ) -> None:
        """Store a held answer as a pending item (once per request id), ending by ``ends``
        (``time.monotonic()`` time; ``None``: unbounded); raises on any other failure.

        The write is conditional on the item not existing, and its key is this request's id, which no
        other request has; the scoring function writes it only after the message is queued, which comes
        after this. So a failed condition means this request's own write is already stored: botocore sent
        the PutItem again after the first one landed but its response was lost (a read timeout is retried,
        https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html). That is the hold
        succeeding, not a store failure: a 503 would leave a stored, unqueued item that no one scores."""
        try:
            self.dynamodb.within(ends).put_item(
                TableName=self.table_name,
                **new_item(message, policy=policy, reasons=(ReviewReason.ALL,), scores=None, now=now),
            )
        except Exception as exc:  # botocore's ClientError, without importing botocore at cold start
            error = getattr(exc, "response", None) or {}
            if (error.get("Error") or {}).get("Code") != "ConditionalCheckFailedException":
                raise

    def enqueue(self, message: ReviewMessage, *, ends: float | None = None) -> None:
        """Queue an output for the scoring function, ending by ``ends``; raises on any failure."""
        self.sqs.within(ends).send_message(QueueUrl=self.queue_url, MessageBody=message.fitted().to_json())
