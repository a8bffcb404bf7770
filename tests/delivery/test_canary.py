"""The canary bake when rolling back fails: production (moto) whose UpdateAlias fails while a critical alarm
fires. The bake retries the roll back as its state machine does, and when it still fails says what is
wrong and how to fix it by hand; the roll-back step of the synthesized state machine hands the bake Lambda
an event it accepts. A bake whose execution stopped unfinished (timed out, aborted, failed) has its
canary share cleared by the event the synthesized EventBridge rule sends the bake Lambda."""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import pytest

from compliance.assembly import StackTemplate
from delivery.canary import RollBackFailed, offline_production, run_bake
from lambdas.canary_bake import bake
from platform_spec.delivery import (
    CANARY_WEIGHT,
    BakeDecision,
    manual_roll_back_command,
    roll_back_delays,
)
from platform_spec.fields import to_dict
from tests.support.delivery import FakeClock, bake_definition, resolve_parameters, transform_input
from tests.support.synth import Synthesized

ALARM = "Composite"
REGION = "us-west-2"
POLL = 600.0


class _FailingUpdates:
    """The Lambda client, but UpdateAlias fails its next ``failures`` calls (throttled, denied, a lost
    session); every other call goes through."""

    def __init__(self, inner: Any, failures: int) -> None:
        self.inner = inner
        self.failures = failures
        self.meta = inner.meta

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def update_alias(self, **kwargs: Any) -> Any:
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError("UpdateAlias failed: Rate exceeded")
        return self.inner.update_alias(**kwargs)


def _bake_with_an_alarm(failures: int) -> tuple[Any, list[Any] | RollBackFailed, FakeClock, dict[str, Any]]:
    """Begin (10 % on version 2), then the alarm fires and UpdateAlias fails ``failures`` times."""
    clock = FakeClock()
    with offline_production("prod", [ALARM], region=REGION) as production:
        flaky = _FailingUpdates(production.clients.lambda_, 0)
        clients = bake.Clients(
            production.clients.cloudformation, flaky, production.clients.cloudwatch, production.clients.ssm
        )

        def fire(_: float) -> None:
            production.set_alarm(ALARM, "ALARM")
            flaky.failures = failures

        outcome: list[Any] | RollBackFailed
        try:
            outcome = run_bake(
                clients,
                environment="prod",
                stack_name=production.stack_name,
                bake_seconds=3600,
                poll_seconds=POLL,
                clock=clock,
                sleep=clock.sleep,
                before_check=fire,
            )
        except RollBackFailed as error:
            outcome = error
        return production, outcome, clock, dict(production.live())


def test_a_roll_back_that_fails_is_retried_until_traffic_is_back_on_the_stable_version() -> None:
    # the check's own roll back fails, then the first two retries; the third attempt goes through
    _, trail, clock, live = _bake_with_an_alarm(failures=3)
    assert isinstance(trail, list)
    assert trail[-1].decision is BakeDecision.ROLLED_BACK
    assert "could not check the release: UpdateAlias failed" in trail[-1].detail
    assert live == {"version": "1", "routing": {}}
    assert clock.slept == [POLL, *roll_back_delays()[:2]]  # waited as the state machine's retrier does


def test_a_roll_back_that_keeps_failing_names_the_alias_and_the_manual_fix() -> None:
    production, error, clock, live = _bake_with_an_alarm(failures=1_000)
    assert isinstance(error, RollBackFailed)
    delays = roll_back_delays()
    assert clock.slept == [POLL, *delays]
    # what the message says is what production looks like: 10 % still on the release
    assert live == {"version": "1", "routing": {"2": CANARY_WEIGHT}}
    message = str(error)
    assert (
        f"the live alias of {production.function_name} still sends 10% of its traffic to version 2" in message
    )
    assert f"{len(delays) + 1} attempts; the last: UpdateAlias failed: Rate exceeded" in message
    command = manual_roll_back_command(production.function_name, REGION)
    assert message.endswith(command)
    assert "--name live --routing-config AdditionalVersionWeights={}" in command


def _delivery(synthesized: Synthesized) -> StackTemplate:
    (delivery,) = [s for s in synthesized.stacks if s.name == "Delivery/Pipeline"]
    return delivery


@contextmanager
def _production_for_the_handler(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, ModuleType]]:
    """Production in moto, and the bake Lambda's handler set up as the construct sets it up for it (its
    release role is moto's account's). The handler's clients are its own (through STS), but for
    CloudFormation: DescribeStacks is the stand-in's (``delivery.canary.StackOutputsStandIn``)."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with offline_production("prod", [ALARM], region=REGION) as production:
        monkeypatch.setenv("BAKE_ROLE_ARN", "arn:aws:iam::123456789012:role/bedrock-platform-prod-release")
        monkeypatch.setenv("BAKE_STACK_NAME", production.stack_name)
        monkeypatch.setenv("BAKE_REGION", REGION)
        monkeypatch.setenv("BAKE_ENVIRONMENT", "prod")
        monkeypatch.setenv("BAKE_SECONDS", "3600")
        from lambdas.canary_bake import handler

        own = handler.production_clients

        def clients(role_arn: str, region: str, session_name: str) -> bake.Clients:
            made = own(role_arn, region, session_name)
            return dataclasses.replace(made, cloudformation=production.clients.cloudformation)

        monkeypatch.setattr(handler, "production_clients", clients)
        yield production, handler


def test_the_state_machines_roll_back_step_hands_the_lambda_an_event_it_accepts(
    synthesized: Synthesized, monkeypatch: pytest.MonkeyPatch
) -> None:
    definition, _ = bake_definition(_delivery(synthesized))
    step = definition["States"]["RollBackOnError"]
    (catch,) = definition["States"]["Check"]["Catch"]
    assert catch["Next"] == "RollBackOnError"
    with _production_for_the_handler(monkeypatch) as (production, handler):
        state = bake.begin(
            production.clients, environment="prod", stack_name=production.stack_name, bake_seconds=3600, now=0
        )
        assert production.live() == {"version": "1", "routing": {"2": CANARY_WEIGHT}}
        # the check failed for good: Catch puts its error at ResultPath, beside the state
        error = {"Error": "Lambda.Unknown", "Cause": "The check timed out"}
        step_input = {**to_dict(state), catch["ResultPath"][2:]: error}
        event = resolve_parameters(step["Parameters"], step_input)
        answer = handler.lambda_handler(event, types.SimpleNamespace(aws_request_id="r-1"))
        assert answer["decision"] == BakeDecision.ROLLED_BACK
        assert "Lambda.Unknown: The check timed out" in answer["detail"]
        assert production.live() == {"version": "1", "routing": {}}


@pytest.mark.parametrize("status", ["TIMED_OUT", "ABORTED", "FAILED"])
def test_a_bake_that_stopped_unfinished_has_its_canary_share_cleared(
    synthesized: Synthesized, monkeypatch: pytest.MonkeyPatch, status: str
) -> None:
    delivery = _delivery(synthesized)
    ((_, rule),) = delivery.resources_of_type("AWS::Events::Rule")
    (target,) = rule["Properties"]["Targets"]
    ((function_id, _),) = [
        (k, f)
        for k, f in delivery.resources_of_type("AWS::Lambda::Function")
        if k.startswith("DeliveryCanaryBake")
    ]
    assert target["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    pattern = rule["Properties"]["EventPattern"]
    assert status in pattern["detail"]["status"]
    execution = "arn:aws:states:us-east-1:444444444444:execution:Bake:prod-release-1"
    # the event Step Functions sends when an execution ends (its detail, as EventBridge delivers it)
    event = {
        "source": pattern["source"][0],
        "detail-type": pattern["detail-type"][0],
        "detail": {"executionArn": execution, "status": status, "input": '{"environment": "prod"}'},
    }
    with _production_for_the_handler(monkeypatch) as (production, handler):
        bake.begin(
            production.clients, environment="prod", stack_name=production.stack_name, bake_seconds=3600, now=0
        )
        assert production.live() == {"version": "1", "routing": {"2": CANARY_WEIGHT}}
        abort = transform_input(target["InputTransformer"], event)
        answer = handler.lambda_handler(abort, types.SimpleNamespace(aws_request_id="r-2"))
        assert answer["execution"] == execution and answer["status"] == status
        assert answer["detail"].startswith(
            f"rolled back: the live alias of {production.function_name} serves"
        )
        assert production.live() == {"version": "1", "routing": {}}
        # a second event (EventBridge delivers at least once) changes nothing
        again = handler.lambda_handler(abort, types.SimpleNamespace(aws_request_id="r-3"))
        assert "nothing to roll back" in again["detail"]
        assert production.live() == {"version": "1", "routing": {}}


def test_clearing_a_stack_without_the_function_output_changes_nothing() -> None:
    with offline_production("prod", [ALARM], region=REGION) as production:
        bake.begin(
            production.clients, environment="prod", stack_name=production.stack_name, bake_seconds=3600, now=0
        )
        production.clients.cloudformation.outputs.clear()
        done = bake.clear_canary(production.clients, stack_name=production.stack_name)
        assert (
            done
            == f"stack {production.stack_name} has no output OrchestratorFunctionName: no live alias to clear"
        )
        assert production.live() == {"version": "1", "routing": {"2": CANARY_WEIGHT}}
