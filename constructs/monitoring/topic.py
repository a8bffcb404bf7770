"""The environment's notification topic: KMS-encrypted, TLS-only, published to by alarms and budgets."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs

from bedrock_constructs.keys import encryption_key
from bedrock_constructs.nag import acknowledge
from constructs import Construct

#: Services that publish to the topic and so must be able to use its key.
PUBLISHERS = ("cloudwatch.amazonaws.com", "budgets.amazonaws.com")


class NotificationTopic(Construct):
    """An SNS topic for alarms and budget alerts, encrypted with its own rotated KMS key.

    CloudWatch alarms and AWS Budgets may publish (limited to this account by ``aws:SourceAccount``);
    the topic policy denies any request not made over TLS. Subscriptions come from the environment file.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        emails: Sequence[str] = (),
        https_endpoints: Sequence[str] = (),
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        account = cdk.Stack.of(self).account
        self.key = encryption_key(
            self,
            "Key",
            description="Encrypts bedrock-platform alarm and budget notifications",
            removal_policy=removal_policy,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowAlarmAndBudgetPublishers",
                principals=[iam.ServicePrincipal(p) for p in PUBLISHERS],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": account}},
            )
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name="bedrock-platform alerts",
            master_key=self.key,
            enforce_ssl=True,
        )
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowBudgetsToPublish",
                principals=[iam.ServicePrincipal("budgets.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": account}},
            )
        )
        # Notifications SNS could not deliver (a rejecting endpoint, a bounced address) are kept here
        # for 14 days instead of being dropped.
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.key,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
            removal_policy=removal_policy,
        )
        self.key.grant_encrypt_decrypt(iam.ServicePrincipal("sns.amazonaws.com"))
        for finding in ("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"):
            acknowledge(
                self.dead_letters,
                finding,
                "This queue is the dead-letter queue of the notification subscriptions; a dead-letter queue "
                "of its own would only move the same messages again.",
            )
        for email in emails:
            self.topic.add_subscription(
                subscriptions.EmailSubscription(email, dead_letter_queue=self.dead_letters)
            )
        for url in https_endpoints:
            self.topic.add_subscription(
                subscriptions.UrlSubscription(
                    url, protocol=sns.SubscriptionProtocol.HTTPS, dead_letter_queue=self.dead_letters
                )
            )
