"""Every alarm's notification path, proven: set the alarm to ALARM and see its notification arrive at a
test subscription of the environment's topic (the readiness probe queue, ``ReadinessGateAccess``).

Against an environment (the readiness gate in the pipeline): every alarm's state is read first; then each
alarm of the environment's stack is set to OK (unless it is) and to ALARM with ``SetAlarmState``, its
notification must arrive at the probe queue within ``wait_s``, and the alarm is set back to the state it
was read in, also when the probe fails half-way. CloudWatch, SNS, KMS and SQS do the delivering.

Offline (``--offline``), what can be proven without AWS is proven, and what cannot is played by a stand-in:

1. the policies: for every alarm the synthesized template's topic policy and the topic key's policy are
   evaluated for the request CloudWatch makes (the compliance gate's ALARM-DELIVERY evaluator, issue 9), and
   the probe queue's policy and key policy for the request SNS makes to deliver to it;
2. the carriage: moto's SNS and SQS carry the message from a topic to a subscribed queue, and the same
   code that waits for it against AWS receives it. moto's CloudWatch records ``SetAlarmState`` but does not
   run alarm actions, so the gate publishes the notification CloudWatch would send, and only for an alarm
   whose policies step 1 found deliverable: an undeliverable alarm's message never arrives, and the gate
   holds on it.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from compliance.assembly import StackTemplate
from compliance.bedrock_rules import ALARM_TYPES, rule_alarm_delivery
from compliance.cfn_values import as_list, ref_target, resolve_value
from compliance.policy_eval import Request, UnsupportedPolicy, evaluate
from lambdas.canary_bake.bake import alarm_states

#: What a probe's notification must say (CloudWatch's alarm notification: a JSON message with these keys,
#: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html).
ALARM_STATE = "ALARM"
#: The state the probe sets an alarm to before ALARM (so that ALARM is a change of state), and the state a
#: probe's notification comes from.
OK_STATE = "OK"


@dataclass(frozen=True)
class AlarmProbe:
    """One alarm's proof: where it is, whether its notification arrived, and why not."""

    alarm: str  # logical ID (offline) or alarm name (deployed)
    arrived: bool
    problem: str = ""


def alarms_of(stack: StackTemplate) -> list[str]:
    """Logical IDs of every metric and composite alarm of ``stack``."""
    return [logical_id for kind in ALARM_TYPES for logical_id, _ in stack.resources_of_type(kind)]


def _resolve(stack: StackTemplate, value: Any) -> Any:
    partition = "aws-cn" if stack.region.startswith("cn-") else "aws"
    return resolve_value(value, account=stack.account, region=stack.region, partition=partition)


def probe_subscriptions(stack: StackTemplate) -> Iterator[tuple[str, str, str]]:
    """(subscription, topic, queue) logical IDs of every SQS subscription of a topic in ``stack``."""
    for logical_id, resource in stack.resources_of_type("AWS::SNS::Subscription"):
        props = resource.get("Properties") or {}
        topic, queue = ref_target(props.get("TopicArn")), ref_target(props.get("Endpoint"))
        if props.get("Protocol") == "sqs" and topic is not None and queue is not None:
            yield logical_id, topic, queue


def queue_problem(stack: StackTemplate, topic: str, queue: str) -> str | None:
    """Why SNS could not deliver ``topic``'s messages to ``queue`` (its queue policy and its KMS key
    policy, evaluated for SNS's ``sqs:SendMessage`` with ``aws:SourceArn`` the topic), or None."""
    context = {
        "aws:SourceArn": f"<{topic}>",
        "aws:SourceAccount": stack.account,
        "aws:SecureTransport": "true",
    }
    principal = ("Service", "sns.amazonaws.com")
    policies = [
        (resource.get("Properties") or {}).get("PolicyDocument") or {}
        for _, resource in stack.resources_of_type("AWS::SQS::QueuePolicy")
        if queue in {ref_target(q) for q in as_list((resource.get("Properties") or {}).get("Queues"))}
    ]
    if not policies:
        return f"queue {queue} has no queue policy letting SNS send to it"
    try:
        request = Request(principal, "sqs:SendMessage", f"<{queue}.Arn>", context)
        if not any(evaluate(_resolve(stack, p), request).allowed for p in policies):
            return f"the policy of queue {queue} does not let topic {topic} send to it"
        key = ref_target((stack.resources[queue].get("Properties") or {}).get("KmsMasterKeyId"))
        if key is None:
            return None
        key_policy = _resolve(stack, (stack.resources[key].get("Properties") or {}).get("KeyPolicy") or {})
        for action in ("kms:GenerateDataKey", "kms:Decrypt"):
            if not evaluate(key_policy, Request(principal, action, f"<{key}.Arn>", context)).allowed:
                return f"the policy of key {key} (queue {queue}) does not let SNS {action} for topic {topic}"
    except UnsupportedPolicy as error:
        return f"a policy of queue {queue} cannot be evaluated: {error}"
    return None


def deliverability(stack: StackTemplate) -> tuple[dict[str, str], list[str]]:
    """Step 1: (problem by alarm logical ID, problems of the probe subscription) as the synthesized
    policies stand. An alarm without a problem can reach its topic; the probe problems say whether the
    topic can reach the test subscription."""
    by_alarm: dict[str, str] = {}
    for finding in rule_alarm_delivery([stack]):
        by_alarm.setdefault(finding.resource, finding.message)
    subscriptions = list(probe_subscriptions(stack))
    if not subscriptions:
        return by_alarm, [f"{stack.name} has no SQS subscription of its topic to read notifications from"]
    probe = [p for _, topic, queue in subscriptions if (p := queue_problem(stack, topic, queue)) is not None]
    return by_alarm, probe


def await_notification(
    sqs: Any,
    queue_url: str,
    alarm_name: str,
    *,
    wait_s: float,
    clock: Callable[[], float] = time.monotonic,
) -> bool:
    """Read the probe queue until CloudWatch's ALARM notification of ``alarm_name`` arrives (True) or
    ``wait_s`` passes (False). Every message read is deleted: the queue only holds probes."""
    deadline = clock() + wait_s
    while True:
        remaining = deadline - clock()
        page = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=int(max(0, min(20, remaining)))
        )
        found = False
        for message in page.get("Messages", []):
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            found = found or _is_alarm(message.get("Body", ""), alarm_name)
        if found:
            return True
        if clock() >= deadline:
            return False


def _is_alarm(body: str, alarm_name: str) -> bool:
    """Whether an SQS message body (SNS's envelope around CloudWatch's JSON message) announces
    ``alarm_name`` entering ALARM."""
    try:
        envelope = json.loads(body)
        message = json.loads(envelope.get("Message", "{}")) if isinstance(envelope, dict) else {}
    except ValueError:
        return False
    return (
        isinstance(message, dict)
        and message.get("AlarmName") == alarm_name
        and message.get("NewStateValue") == ALARM_STATE
    )


# ==================================================================== offline: moto carries the message


@dataclass(frozen=True)
class OfflineProbeTopic:
    """moto's CloudWatch, SNS and SQS, with a notification topic whose SQS subscription is the probe queue."""

    cloudwatch: Any
    sns: Any
    sqs: Any
    topic: str
    queue_url: str


@contextlib.contextmanager
def offline_probe_topic(region: str) -> Iterator[OfflineProbeTopic]:
    """A notification topic in moto with the probe queue subscribed to it (what ``ReadinessGateAccess``
    subscribes in an environment), for the offline probe and its tests."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        session = boto3.Session(
            aws_access_key_id="offline", aws_secret_access_key="offline", region_name=region
        )
        sns, sqs = session.client("sns"), session.client("sqs")
        topic = sns.create_topic(Name="notifications")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="readiness-probe")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        yield OfflineProbeTopic(session.client("cloudwatch"), sns, sqs, topic, queue_url)


def carry_offline(stack: StackTemplate, *, wait_s: float = 0.0) -> list[AlarmProbe]:
    """Step 2 offline: every alarm of ``stack`` in moto's CloudWatch, set to ALARM, its notification
    published by the CloudWatch stand-in only if step 1 found its path deliverable, carried by moto's SNS
    to an SQS subscription and awaited there."""
    by_alarm, probe = deliverability(stack)
    results: list[AlarmProbe] = []
    with offline_probe_topic(stack.region) as offline:
        sns, sqs, cloudwatch = offline.sns, offline.sqs, offline.cloudwatch
        topic, queue_url = offline.topic, offline.queue_url
        for alarm in alarms_of(stack):
            stand_in_alarm(cloudwatch, alarm, namespace="BedrockPlatform/ReadinessProbe", actions=[topic])
            cloudwatch.set_alarm_state(
                AlarmName=alarm, StateValue=ALARM_STATE, StateReason="readiness gate probe"
            )
            blocked = by_alarm.get(alarm) or (probe[0] if probe else None)
            if blocked is None:
                _publish_as_cloudwatch(sns, topic, alarm, stack.region)
            arrived = await_notification(sqs, queue_url, alarm, wait_s=wait_s)
            cloudwatch.set_alarm_state(
                AlarmName=alarm, StateValue=OK_STATE, StateReason="readiness gate probe done"
            )
            results.append(
                AlarmProbe(
                    alarm, arrived, "" if arrived else f"no notification arrived: {blocked or 'not carried'}"
                )
            )
    return results


def stand_in_alarm(cloudwatch: Any, name: str, *, namespace: str, actions: Sequence[str] = ()) -> None:
    """An alarm of ``name`` in moto's CloudWatch, for offline gates. moto implements metric alarms only: a
    composite alarm is played by a metric alarm of its name (on a probe metric nothing publishes)."""
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace=namespace,
        MetricName="Probe",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=0,
        ComparisonOperator="GreaterThanThreshold",
        AlarmActions=list(actions),
    )


def _publish_as_cloudwatch(sns: Any, topic: str, alarm: str, region: str) -> None:
    """The notification CloudWatch publishes when an alarm enters ALARM (the keys the probe reads)."""
    message = {
        "AlarmName": alarm,
        "NewStateValue": ALARM_STATE,
        "NewStateReason": "readiness gate probe",
        "Region": region,
        "OldStateValue": OK_STATE,
    }
    sns.publish(TopicArn=topic, Subject=f'ALARM: "{alarm}" in {region}'[:100], Message=json.dumps(message))


# ==================================================================== deployed: CloudWatch carries it


def stack_alarm_names(cloudformation: Any, stack_name: str) -> list[str]:
    """The names of every alarm of the deployed stack (CloudFormation's physical IDs)."""
    names = []
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        for summary in page.get("StackResourceSummaries", []):
            if summary.get("ResourceType") in ALARM_TYPES and summary.get("PhysicalResourceId"):
                names.append(summary["PhysicalResourceId"])
    return names


def carry_deployed(
    cloudwatch: Any,
    sqs: Any,
    *,
    alarm_names: list[str],
    queue_url: str,
    wait_s: float,
    clock: Callable[[], float] = time.monotonic,
) -> list[AlarmProbe]:
    """Step 2 against an environment: every alarm's state read first; then each alarm to OK and to ALARM,
    its notification awaited at the probe queue, and the alarm set back to the state read, whatever
    happened in between (an error setting it, reading the queue).

    SetAlarmState invokes an alarm's actions only "when the updated state differs from the previous
    value", so an alarm already in ALARM is set to OK first, or no notification would come. And it is
    restored explicitly: a metric alarm returns to its actual state at its next evaluation, but "if you use
    SetAlarmState on a composite alarm, the composite alarm is not guaranteed to return to its actual
    state. It returns to its actual state only once any of its children alarms change state"
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_SetAlarmState.html): a composite
    left in OK by the probe would hide a real alarm from the canary bake until a child changes. An alarm
    that cannot be read (DescribeAlarms does not return it) is not probed: its state could not be put
    back."""
    before = alarm_states(cloudwatch, alarm_names)
    results = []
    for name in alarm_names:
        state = before.get(name)
        if state is None:
            results.append(
                AlarmProbe(
                    name,
                    False,
                    "not probed: DescribeAlarms did not return it, so its state could not be read",
                )
            )
            continue
        try:
            if state != OK_STATE:
                cloudwatch.set_alarm_state(
                    AlarmName=name, StateValue=OK_STATE, StateReason="readiness gate probe: from OK"
                )
            cloudwatch.set_alarm_state(
                AlarmName=name, StateValue=ALARM_STATE, StateReason="readiness gate probe"
            )
            arrived = await_notification(sqs, queue_url, name, wait_s=wait_s, clock=clock)
        finally:
            cloudwatch.set_alarm_state(
                AlarmName=name,
                StateValue=state,
                StateReason=f"readiness gate probe done: back to {state}, the state it was in before the probe",
            )
        results.append(
            AlarmProbe(
                name,
                arrived,
                "" if arrived else f"no notification arrived at the probe queue in {wait_s:g} s",
            )
        )
    return results


def summarize(results: list[AlarmProbe], policy_problems: Mapping[str, str] | None = None) -> list[str]:
    """Every problem, one line per alarm."""
    lines = [f"{r.alarm}: {r.problem}" for r in results if not r.arrived]
    for alarm, problem in (policy_problems or {}).items():
        if not any(line.startswith(f"{alarm}:") for line in lines):
            lines.append(f"{alarm}: {problem}")
    return lines
