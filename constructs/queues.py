"""SQS queues as this project makes them: KMS-encrypted with a customer managed key, TLS only, with an
explicit removal policy; and a dead-letter queue, whose own lack of a dead-letter queue is acknowledged
with the reason."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs

from bedrock_constructs.nag import acknowledge_all
from constructs import Construct

#: How long a dead-letter queue keeps a message: SQS's maximum, the time an operator has to redrive it.
DEAD_LETTER_RETENTION = cdk.Duration.days(14)


def dead_letter_queue(
    scope: Construct,
    id: str,
    *,
    key: kms.IKey,
    removal_policy: cdk.RemovalPolicy,
    of: str,
    of_a_queue: bool = False,
) -> sqs.Queue:
    """A dead-letter queue (encrypted with ``key``, TLS only, 14 days) for ``of`` (e.g. "the notification
    subscriptions"), with its Serverless-SQSRedrivePolicy finding acknowledged, and AwsSolutions-SQS3 unless
    ``of_a_queue``: that rule does not fire on a queue that a queue of the same stack names in its redrive
    policy, where the acknowledgment would stand for no finding."""
    queue = sqs.Queue(
        scope,
        id,
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        enforce_ssl=True,
        retention_period=DEAD_LETTER_RETENTION,
        removal_policy=removal_policy,
    )
    acknowledge_all(
        queue,
        dict.fromkeys(
            ("Serverless-SQSRedrivePolicy",)
            if of_a_queue
            else ("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"),
            f"This queue is the dead-letter queue of {of}; a dead-letter queue of its own would only move the "
            "same messages again.",
        ),
    )
    return queue
