"""The environment's notification topic: KMS-encrypted, TLS-only, published to by alarms and budgets.

A topic policy replaces SNS's default policy, so every service that publishes needs its own statement,
and on a KMS-encrypted topic the key policy must let the same service use the key: CloudWatch and
AWS Budgets call KMS themselves when they publish
(https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services).
Both grants carry ``aws:SourceAccount`` and ``aws:SourceArn``, so the services act only for this
account's alarms and budgets (confused-deputy prevention:
https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html). SNS documents that these keys
are not supported in a key policy for EventBridge-to-topic delivery; CloudWatch alarms and Budgets are not
EventBridge. That the services send them on the KMS call cannot be proven offline; the gate rule
ALARM-DELIVERY evaluates both policies for the request each service makes.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions

from bedrock_constructs.keys import encryption_key
from bedrock_constructs.queues import acknowledge_not_redriven, dead_letter_queue
from constructs import Construct

#: Services that publish to the topic and so must be able to use its key.
PUBLISHERS = ("cloudwatch.amazonaws.com", "budgets.amazonaws.com")
#: CodeStar Notifications (the delivery pipeline's approval and failure notices) may publish instead, on a
#: topic that passes it as a publisher.
CODESTAR_NOTIFICATIONS = "codestar-notifications.amazonaws.com"
#: The statement id label of each publisher.
_LABELS = {
    "cloudwatch.amazonaws.com": "CloudWatchAlarms",
    "budgets.amazonaws.com": "Budgets",
    CODESTAR_NOTIFICATIONS: "CodeStarNotifications",
}


def publisher_conditions(service: str, stack: cdk.Stack) -> dict[str, dict[str, str]]:
    """The conditions under which ``service`` may publish (and use the key): for this account's sources
    only. CloudWatch alarms publish as ``arn:<partition>:cloudwatch:<region>:<account>:alarm:<name>``;
    AWS Budgets as ``arn:<partition>:budgets::<account>:budget/<name>``
    (https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-sns-policy.html)."""
    if service == "cloudwatch.amazonaws.com":
        source = stack.format_arn(
            service="cloudwatch",
            resource="alarm",
            resource_name="*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
    elif service == "budgets.amazonaws.com":
        source = stack.format_arn(service="budgets", region="", resource="*")
    elif service == CODESTAR_NOTIFICATIONS:
        # Notification rules of this account only; the service's documented topic policy conditions on
        # aws:SourceAccount (https://docs.aws.amazon.com/dtconsole/latest/userguide/set-up-sns.html).
        return {"StringEquals": {"aws:SourceAccount": stack.account}}
    else:
        raise ValueError(
            f"publisher_conditions(): unknown publisher {service!r}; use one of {sorted(_LABELS)}"
        )
    return {"StringEquals": {"aws:SourceAccount": stack.account}, "ArnLike": {"aws:SourceArn": source}}


class NotificationTopic(Construct):
    """An SNS topic for alarms and budget alerts, encrypted with its own rotated KMS key.

    CloudWatch alarms and AWS Budgets (``publishers``; CodeStar Notifications may be one) may publish and use
    the key, for this account's alarms and budgets only (``aws:SourceAccount`` and ``aws:SourceArn``); SNS may use the key to write undeliverable
    notifications to the dead-letter queue, for this account's topics only; the topic policy denies any
    request not made over TLS. Subscriptions come from the environment file.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        emails: Sequence[str] = (),
        https_endpoints: Sequence[str] = (),
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
        publishers: Sequence[str] = PUBLISHERS,
    ) -> None:
        super().__init__(scope, id)
        stack = cdk.Stack.of(self)
        self.key = encryption_key(
            self,
            "Key",
            description="Encrypts bedrock-platform alarm and budget notifications",
            removal_policy=removal_policy,
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name="bedrock-platform alerts",
            master_key=self.key,
            enforce_ssl=True,
        )
        for service in publishers:
            conditions = publisher_conditions(service, stack)
            label = _LABELS[service]
            self.topic.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"Allow{label}ToPublish",
                    principals=[iam.ServicePrincipal(service)],
                    actions=["sns:Publish"],
                    resources=[self.topic.topic_arn],
                    conditions=conditions,
                )
            )
            self.key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"Allow{label}ToUseTheKey",
                    principals=[iam.ServicePrincipal(service)],
                    actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                    resources=["*"],
                    conditions=conditions,
                )
            )
        # Notifications SNS could not deliver (a rejecting endpoint, a bounced address) are kept here
        # for 14 days instead of being dropped.
        self.dead_letters = dead_letter_queue(
            self,
            "DeadLetters",
            key=self.key,
            removal_policy=removal_policy,
            of="the notification subscriptions",
        )
        acknowledge_not_redriven(self.dead_letters, of="the notification subscriptions")
        # SNS writes undeliverable notifications to the dead-letter queue, which this key encrypts
        # (https://docs.aws.amazon.com/sns/latest/dg/sns-dead-letter-queues.html). The topic's own ARN
        # cannot be named here (the topic already references the key), so any topic of this account.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowSnsToWriteDeadLetters",
                principals=[iam.ServicePrincipal("sns.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": stack.format_arn(service="sns", resource="*")},
                },
            )
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
