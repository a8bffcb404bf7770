"""The readiness gate's alarm-delivery probe against an environment (``delivery.notifications.carry_deployed``)
leaves every alarm in the state it found it in: it reads the states first, probes each alarm from OK to
ALARM, and sets it back to the state it read, also when the probe fails half-way. moto's CloudWatch keeps
the alarms and their states and moto's SNS and SQS carry the notification; moto's CloudWatch runs no alarm
actions, so a stand-in publishes what CloudWatch would, on a change of state to ALARM only, as
SetAlarmState does (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_SetAlarmState.html:
"When the updated state differs from the previous value, the action configured for the appropriate state
is invoked")."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from delivery.notifications import carry_deployed, offline_probe_topic, stand_in_alarm

REGION = "us-east-1"
#: An alarm in each state CloudWatch has.
STATES = {"Api5xx": "OK", "Composite": "ALARM", "Budget": "INSUFFICIENT_DATA"}


class _CloudWatchActions:
    """moto's CloudWatch client, but SetAlarmState runs the alarm's ALARM action as CloudWatch does: on a
    change to ALARM, the notification is published to the topic. Every SetAlarmState is recorded;
    ``fail_on`` makes the call that sets that state fail once (throttled, denied)."""

    def __init__(self, inner: Any, sns: Any, topic: str) -> None:
        self.inner, self.sns, self.topic = inner, sns, topic
        self.calls: list[tuple[str, str]] = []
        self.fail_on: str | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def set_alarm_state(self, *, AlarmName: str, StateValue: str, StateReason: str) -> Any:
        self.calls.append((AlarmName, StateValue))
        if self.fail_on == StateValue:
            self.fail_on = None
            raise RuntimeError("SetAlarmState failed: Rate exceeded")
        (alarm,) = self.inner.describe_alarms(AlarmNames=[AlarmName])["MetricAlarms"]
        answer = self.inner.set_alarm_state(
            AlarmName=AlarmName, StateValue=StateValue, StateReason=StateReason
        )
        if StateValue == "ALARM" and alarm["StateValue"] != "ALARM":
            message = {"AlarmName": AlarmName, "NewStateValue": "ALARM", "OldStateValue": alarm["StateValue"]}
            self.sns.publish(TopicArn=self.topic, Message=json.dumps(message))
        return answer


@dataclass
class _Environment:
    cloudwatch: _CloudWatchActions
    sqs: Any
    queue_url: str
    names: list[str] = field(default_factory=lambda: list(STATES))

    def states(self) -> dict[str, str]:
        found = self.cloudwatch.inner.describe_alarms(AlarmNames=self.names)["MetricAlarms"]
        return {alarm["AlarmName"]: alarm["StateValue"] for alarm in found}


@pytest.fixture
def environment() -> Iterator[_Environment]:
    """An environment's alarms (one in each state) whose action is its topic, and the readiness probe
    queue subscribed to the topic."""
    with offline_probe_topic(REGION) as offline:
        sns, sqs, cloudwatch, topic = offline.sns, offline.sqs, offline.cloudwatch, offline.topic
        queue_url = offline.queue_url
        for name, state in STATES.items():
            stand_in_alarm(cloudwatch, name, namespace="BedrockPlatform/ReadinessProbe", actions=[topic])
            cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason="as deployed")
        yield _Environment(_CloudWatchActions(cloudwatch, sns, topic), sqs, queue_url)


def _probe(environment: _Environment, names: list[str] | None = None) -> Any:
    return carry_deployed(
        environment.cloudwatch,
        environment.sqs,
        alarm_names=names or environment.names,
        queue_url=environment.queue_url,
        wait_s=0,
    )


def test_every_alarm_is_back_in_the_state_it_was_in_after_the_probe(environment: _Environment) -> None:
    assert environment.states() == STATES
    probes = _probe(environment)
    assert [(p.alarm, p.arrived, p.problem) for p in probes] == [(name, True, "") for name in STATES]
    assert environment.states() == STATES
    # each alarm probed from OK to ALARM (no extra OK for one already in OK), then its own state again
    assert environment.cloudwatch.calls == [
        ("Api5xx", "ALARM"),
        ("Api5xx", "OK"),
        ("Composite", "OK"),
        ("Composite", "ALARM"),
        ("Composite", "ALARM"),
        ("Budget", "OK"),
        ("Budget", "ALARM"),
        ("Budget", "INSUFFICIENT_DATA"),
    ]


def test_an_alarm_already_in_alarm_is_probed_by_a_change_of_state(environment: _Environment) -> None:
    # setting ALARM on an alarm in ALARM changes nothing and sends nothing: the probe starts from OK
    (probe,) = _probe(environment, ["Composite"])
    assert probe.arrived, probe.problem
    assert environment.states()["Composite"] == "ALARM"


@pytest.mark.parametrize("fails", ["setting ALARM", "reading the probe queue"])
def test_a_probe_that_fails_half_way_puts_the_alarm_back(environment: _Environment, fails: str) -> None:
    if fails == "setting ALARM":
        environment.cloudwatch.fail_on = "ALARM"
    else:

        class _Unreadable:
            def receive_message(self, **_: Any) -> Any:
                raise RuntimeError("ReceiveMessage failed: AccessDenied")

        environment.sqs = _Unreadable()
    with pytest.raises(RuntimeError, match="failed"):
        _probe(environment, ["Budget"])
    assert environment.states() == STATES  # INSUFFICIENT_DATA again, not left in OK or ALARM
    assert environment.cloudwatch.calls[-1] == ("Budget", "INSUFFICIENT_DATA")


def test_an_alarm_whose_state_cannot_be_read_is_not_probed(environment: _Environment) -> None:
    (probe,) = _probe(environment, ["Deleted"])
    assert not probe.arrived and "could not be read" in probe.problem
    assert environment.cloudwatch.calls == []
