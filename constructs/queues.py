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
    scope: Construct, id: str, *, key: kms.IKey, removal_policy: cdk.RemovalPolicy, of: str
) -> sqs.Queue:
    """A dead-letter queue (encrypted with ``key``, TLS only, 14 days) for ``of`` (e.g. "the review queue"),
    with its Serverless-SQSRedrivePolicy finding acknowledged.

    AwsSolutions-SQS3 passes a queue that an SQS queue (its ``RedrivePolicy``) or a Lambda function of the
    same stack names as its dead-letter queue (cdk-nag 3.0.2, ``rules/sqs/SQSQueueDLQ``); the dead-letter
    queue of anything else (an SNS subscription) acknowledges it with :func:`acknowledge_not_redriven`."""
    queue = sqs.Queue(
        scope,
        id,
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        enforce_ssl=True,
        retention_period=DEAD_LETTER_RETENTION,
        removal_policy=removal_policy,
    )
    acknowledge_all(queue, {"Serverless-SQSRedrivePolicy": _own_dead_letter_queue(of)})
    return queue


def acknowledge_not_redriven(queue: sqs.Queue, *, of: str) -> None:
    """Acknowledge AwsSolutions-SQS3 on a dead-letter queue that no SQS queue or Lambda function redrives to:
    the dead-letter queue of ``of`` (e.g. "the alarm topic's subscriptions"), which cdk-nag does not
    recognize as one."""
    acknowledge_all(
        queue,
        {
            "AwsSolutions-SQS3": f"{_own_dead_letter_queue(of)} cdk-nag recognizes a dead-letter queue only by "
            "an SQS queue's RedrivePolicy or a Lambda function's DeadLetterConfig, and this one is named by "
            "SNS subscriptions' RedrivePolicy."
        },
    )


def _own_dead_letter_queue(of: str) -> str:
    return f"This queue is the dead-letter queue of {of}; a dead-letter queue of its own would only move the same messages again."
