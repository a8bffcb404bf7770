"""The canary bake when rolling back fails: production (moto) whose UpdateAlias fails while a critical alarm
fires. The bake retries the roll back as its state machine does, and when it still fails says what is
wrong and how to fix it by hand; the roll-back step of the synthesized state machine hands the bake Lambda
an event it accepts. A bake whose execution stopped unfinished (timed out, aborted, failed) has its
canary share cleared by the event the synthesized EventBridge rule sends the bake Lambda. The bake judges
the new version by its own errors (Lambda's per-version metrics, in moto's CloudWatch), not by alarms that
sum every version, and promotes it only when it served at least ``bake.min_invocations`` through the live
alias during the whole bake (no traffic, or metrics under other dimensions, roll it back). A release version
that is the live version's code and configuration published again (a stage rollback redeploying the last
release) is not baked (moto's Lambda versions). The live alias and the live-version parameter agree after
a promotion that failed half-way is rolled back or cleared, and a check run again after its promotion's
answer was lost answers PROMOTED (moto's SSM). The release role's synthesized policy allows every call a
promotion, a roll back and a cleared canary make, on the resources IAM authorizes each on, and no other
action."""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import sys
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import pytest

from benchmarks.worst_inputs import BUSY_HOUR_TAILS
from compliance.assembly import StackTemplate
from compliance.cfn_values import as_list, resolve_value
from compliance.policy_eval import Request, evaluate
from delivery.canary import (
    STABLE_SOURCE,
    RollBackFailed,
    deployment_package,
    offline_production,
    roll_back_or_raise,
    run_bake,
)
from lambdas.canary_bake import bake
from platform_config import PlatformConfig
from platform_spec.delivery import (
    CANARY_WEIGHT,
    LIVE_ALIAS,
    VERSION_ERROR_WINDOW_MINUTES,
    BakeDecision,
    BakePolicy,
    Output,
    live_version_parameter,
    manual_parameter_command,
    manual_roll_back_command,
    release_role_name,
    roll_back_delays,
)
from platform_spec.fields import from_dict, to_dict
from tests.support.calls import Call, CallRecorder
from tests.support.delivery import (
    FakeClock,
    bake_definition,
    fail_cause,
    resolve_parameters,
    retrier_for,
    transform_input,
)
from tests.support.iam import role_statements
from tests.support.synth import Synthesized

ALARM = "Composite"
HANDLER_MODULE = "lambdas.canary_bake.handler"
REGION = "us-west-2"
POLL = 600.0
#: A bake's start on the real clock (CloudWatch keeps metrics by time).
START = 1_800_000_000.0


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


def _bake_an_hour(
    clients: bake.Clients, production: Any, clock: FakeClock, *, before_check: Callable[[float], None]
) -> list[Any]:
    """``run_bake`` of production for an hour on the fake clock, ``before_check`` before each check."""
    return run_bake(
        clients,
        environment="prod",
        stack_name=production.stack_name,
        bake_seconds=3600,
        poll_seconds=POLL,
        clock=clock,
        sleep=clock.sleep,
        before_check=before_check,
    )


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
            outcome = _bake_an_hour(clients, production, clock, before_check=fire)
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
    assert manual_parameter_command(live_version_parameter("prod"), "1", REGION) in message
    assert "--name live --routing-config AdditionalVersionWeights={}" in command


@pytest.mark.parametrize("stop", [KeyboardInterrupt, SystemExit])
def test_a_bake_run_by_hand_that_is_interrupted_leaves_no_canary_behind(stop: type[BaseException]) -> None:
    # GIVEN `python -m delivery.gates canary --env prod` run by hand (run_bake on the real clock, for
    # bake.minutes: days in a terminal), version 2 at 10 % after its Begin
    clock = FakeClock()
    with offline_production("prod", [ALARM], region=REGION) as production:
        waits = 0

        def sleep(seconds: float) -> None:
            nonlocal waits
            waits += 1
            if waits == 2:  # WHEN the person presses Ctrl-C (or the process is told to exit) mid-bake
                assert production.live() == {"version": "1", "routing": {"2": CANARY_WEIGHT}}
                raise stop()
            clock.sleep(seconds)

        with pytest.raises(stop):
            run_bake(
                production.clients,
                environment="prod",
                stack_name=production.stack_name,
                bake_seconds=3600,
                poll_seconds=POLL,
                clock=clock,
                sleep=sleep,
            )
        # THEN no share is left on a version nobody watches any more (no state machine, no abort behind
        # it): live serves the stable version alone, and the parameter names it
        assert production.live() == {"version": "1", "routing": {}}
        assert _live_parameter(production) == "1"


class _FailingParameterWrites:
    """The SSM client, but PutParameter fails once ``failing`` (SSM refuses writes); every other call goes
    through."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.failing = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def put_parameter(self, **kwargs: Any) -> Any:
        if self.failing:
            raise RuntimeError("PutParameter failed: Rate exceeded")
        return self.inner.put_parameter(**kwargs)


def _run_aws_cli(command: str, production: Any) -> None:
    """One ``aws <service> <operation> --option value ...`` command of the message, as the AWS CLI sends it
    (options in CamelCase, ``--flag`` true, the shorthand ``Key={}`` an empty map), through the production
    clients (moto)."""
    import shlex

    words = shlex.split(command)
    assert words[0] == "aws", command
    service, operation, options = words[1], words[2], words[3:]
    params: dict[str, Any] = {}
    while options:
        name = "".join(part.title() for part in options.pop(0)[2:].split("-"))
        if not options or options[0].startswith("--"):
            params[name] = True
            continue
        value = options.pop(0)
        if value.endswith("={}"):
            params[name] = {value[: -len("={}")]: {}}
        else:
            params[name] = value
    params.pop("Region")
    client = {"ssm": production.clients.ssm, "lambda": production.clients.lambda_}[service]
    getattr(client, operation.replace("-", "_"))(**params)


def test_the_manual_fix_of_a_stuck_roll_back_restores_the_alias_and_the_parameter() -> None:
    # GIVEN a bake whose promotion named version 2 in the live-version parameter and then failed before the
    # alias moved (10 % still on 2), and whose roll back keeps failing (Lambda and SSM both refuse writes)
    clock = FakeClock()
    with offline_production("prod", [ALARM], region=REGION) as production:
        parameter = live_version_parameter("prod")
        lambda_ = _FailingUpdates(production.clients.lambda_, 0)
        ssm = _FailingParameterWrites(production.clients.ssm)
        clients = bake.Clients(production.clients.cloudformation, lambda_, production.clients.cloudwatch, ssm)

        def half_promoted(_: float) -> None:
            production.clients.ssm.put_parameter(Name=parameter, Value="2", Type="String", Overwrite=True)
            production.set_alarm(ALARM, "ALARM")
            lambda_.failures = 1_000
            ssm.failing = True

        with pytest.raises(RollBackFailed) as stuck:
            _bake_an_hour(clients, production, clock, before_check=half_promoted)
        assert production.live() == {"version": "1", "routing": {"2": CANARY_WEIGHT}}
        assert production.clients.ssm.get_parameter(Name=parameter)["Parameter"]["Value"] == "2"
        # WHEN a person runs the commands the message gives, in its order
        message = str(stuck.value)
        assert f"{parameter} (the version the next deploy serves) may name it too" in message
        commands = message.split("Fix: in the production account run ", 1)[1].split(" and then ")
        assert [c.split()[:3] for c in commands] == [
            ["aws", "ssm", "put-parameter"],
            ["aws", "lambda", "update-alias"],
        ]
        for command in commands:
            _run_aws_cli(command, production)
        # THEN live serves the stable version alone, and the next deploy keeps it there
        assert production.live() == {"version": "1", "routing": {}}
        assert production.clients.ssm.get_parameter(Name=parameter)["Parameter"]["Value"] == "1"


def _delivery(synthesized: Synthesized) -> StackTemplate:
    (delivery,) = [s for s in synthesized.stacks if s.name == "Delivery/Pipeline"]
    return delivery


@contextmanager
def _production_for_the_handler(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, ModuleType]]:
    """Production in moto, and the bake Lambda's handler set up as the construct sets it up for it (its
    release role is moto's account's). The handler's clients are its own (through STS), but for
    CloudFormation: DescribeStacks is the stand-in's (``delivery.canary.StackOutputsStandIn``). The handler is
    imported anew inside moto, as at a cold start: its STS client, made at import, takes moto's credentials
    (one made by an earlier import, outside moto, has none)."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with offline_production("prod", [ALARM], region=REGION) as production:
        monkeypatch.setenv("BAKE_ROLE_ARN", "arn:aws:iam::123456789012:role/bedrock-platform-prod-release")
        monkeypatch.setenv("BAKE_STACK_NAME", production.stack_name)
        monkeypatch.setenv("BAKE_REGION", REGION)
        monkeypatch.setenv("BAKE_ENVIRONMENT", "prod")
        monkeypatch.setenv("BAKE_SECONDS", "3600")
        monkeypatch.setenv("BAKE_POLICY", json.dumps(to_dict(BakePolicy())))
        monkeypatch.delitem(sys.modules, HANDLER_MODULE, raising=False)
        handler = importlib.import_module(HANDLER_MODULE)

        own = handler.production_clients

        def clients(role_arn: str, region: str, session_name: str) -> bake.Clients:
            made = own(role_arn, region, session_name)
            return dataclasses.replace(made, cloudformation=production.clients.cloudformation)

        monkeypatch.setattr(handler, "production_clients", clients)
        yield production, handler


@pytest.mark.slow  # ~1.4 CPU-s: STS, moto production and the bake handler
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
        _name_live(production, "2")  # a promotion that wrote the parameter, then timed out
        # the check failed for good: Catch puts its error at ResultPath, beside the state
        error = {"Error": "Lambda.Unknown", "Cause": "The check timed out"}
        step_input = {**to_dict(state), catch["ResultPath"][2:]: error}
        event = resolve_parameters(step["Parameters"], step_input)
        answer = handler.lambda_handler(event, types.SimpleNamespace(aws_request_id="r-1"))
        assert answer["decision"] == BakeDecision.ROLLED_BACK
        assert "Lambda.Unknown: The check timed out" in answer["detail"]
        assert production.live() == {"version": "1", "routing": {}}
        assert _live_parameter(production) == "1"


def _abort_event(synthesized: Synthesized, *, execution: str, machine: str, status: str) -> Any:
    """What the synthesized stopped-execution rule hands the bake Lambda for ``execution`` of ``machine``
    ending in ``status``: the event Step Functions sends (its detail, as EventBridge delivers it) through the
    target's InputTransformer."""
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
    event = {
        "source": pattern["source"][0],
        "detail-type": pattern["detail-type"][0],
        "detail": {
            "executionArn": execution,
            "stateMachineArn": machine,
            "status": status,
            "input": '{"environment": "prod"}',
        },
    }
    return transform_input(target["InputTransformer"], event)


def _bake_machine(*executions: str) -> tuple[str, dict[str, str]]:
    """The bake's state machine in moto's delivery account, with an execution per name in ``executions``
    (running): its ARN, and each execution's."""
    import boto3

    states = boto3.client("stepfunctions", region_name=REGION)
    machine = states.create_state_machine(
        name="Bake",
        definition=json.dumps(
            {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 60, "End": True}}}
        ),
        roleArn="arn:aws:iam::123456789012:role/bake-state-machine",
    )["stateMachineArn"]
    started = {
        name: states.start_execution(stateMachineArn=machine, name=name)["executionArn"]
        for name in executions
    }
    return machine, started


def _stop(execution: str) -> None:
    import boto3

    boto3.client("stepfunctions", region_name=REGION).stop_execution(executionArn=execution)


@pytest.mark.parametrize("status", ["TIMED_OUT", "ABORTED", "FAILED"])
def test_a_bake_that_stopped_unfinished_has_its_canary_share_cleared(
    synthesized: Synthesized, monkeypatch: pytest.MonkeyPatch, status: str
) -> None:
    with _production_for_the_handler(monkeypatch) as (production, handler):
        machine, started = _bake_machine("prod-release-1")
        execution = started["prod-release-1"]
        bake.begin(
            production.clients, environment="prod", stack_name=production.stack_name, bake_seconds=3600, now=0
        )
        assert production.live() == {"version": "1", "routing": {"2": CANARY_WEIGHT}}
        _name_live(production, "2")  # the execution stopped inside a promotion, after its parameter write
        _stop(execution)
        abort = _abort_event(synthesized, execution=execution, machine=machine, status=status)
        answer = handler.lambda_handler(abort, types.SimpleNamespace(aws_request_id="r-2"))
        assert answer["execution"] == execution and answer["status"] == status
        assert answer["detail"].startswith(
            f"rolled back: the live alias of {production.function_name} serves"
        )
        assert production.live() == {"version": "1", "routing": {}}
        assert _live_parameter(production) == "1"
        # a second event (EventBridge delivers at least once) changes nothing
        again = handler.lambda_handler(abort, types.SimpleNamespace(aws_request_id="r-3"))
        assert "nothing to roll back" in again["detail"]
        assert production.live() == {"version": "1", "routing": {}}
        assert _live_parameter(production) == "1"


@pytest.mark.slow  # ~1.5 CPU-s: STS, moto production, Step Functions and the bake handler
def test_a_late_abort_leaves_the_canary_of_the_bake_that_runs_now_alone(
    synthesized: Synthesized, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN bake A stopped inside its promotion (version 2 named in the parameter, 10 % on it), and its
    # abort delayed (Lambda retries a failed or throttled asynchronous event for up to an hour) until the
    # next release's bake B has begun: version 3 gets the canary share
    with _production_for_the_handler(monkeypatch) as (production, handler):
        machine, started = _bake_machine("release-a", "release-b")
        _begin(production)
        _name_live(production, "2")
        _stop(started["release-a"])
        _publish(production, ZipFile=deployment_package("def lambda_handler(e, c):\n    return 3\n"))
        began = _begin(production, now=START + 60)
        # B's Begin put the parameter back on the version live serves, and moved the share to its release
        assert began.decision is BakeDecision.HOLD, began.detail
        assert began.detail.endswith(f"; {live_version_parameter('prod')} named 2, now 1")
        assert production.live() == {"version": "1", "routing": {"3": CANARY_WEIGHT}}
        # WHEN A's abort runs
        abort = _abort_event(synthesized, execution=started["release-a"], machine=machine, status="ABORTED")
        answer = handler.lambda_handler(abort, types.SimpleNamespace(aws_request_id="r-4"))
        # THEN it leaves B's canary alone (clearing it would roll B back as "the live alias changed")
        assert answer["detail"].startswith(
            f"left alone: execution {started['release-b']} of the bake is running"
        )
        assert production.live() == {"version": "1", "routing": {"3": CANARY_WEIGHT}}
        assert _live_parameter(production) == "1"
        assert bake.check(production.clients, began, now=START + 120).decision is BakeDecision.HOLD
        # AND once B has ended too, an abort clears what is left
        _stop(started["release-b"])
        cleared = handler.lambda_handler(abort, types.SimpleNamespace(aws_request_id="r-5"))
        assert cleared["detail"].startswith("rolled back"), cleared["detail"]
        assert production.live() == {"version": "1", "routing": {}}


def test_an_abort_that_cannot_list_the_running_bakes_clears_the_canary(
    synthesized: Synthesized, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a canary left on an unbaked version is the worse error: without an answer from Step Functions (here,
    # the state machine is not found), the abort clears as before
    with _production_for_the_handler(monkeypatch) as (production, handler):
        _begin(production)
        machine = f"arn:aws:states:{REGION}:123456789012:stateMachine:Missing"
        abort = _abort_event(
            synthesized,
            execution=f"{machine}:gone".replace("stateMachine", "execution"),
            machine=machine,
            status="FAILED",
        )
        answer = handler.lambda_handler(abort, types.SimpleNamespace(aws_request_id="r-6"))
        assert answer["detail"].startswith("rolled back"), answer["detail"]
        assert production.live() == {"version": "1", "routing": {}}


def _notification_topic() -> tuple[str, Callable[[], list[str]]]:
    """The delivery account's notification topic in moto, with a queue subscribed: its ARN, and a reader
    of the messages published to it since."""
    import boto3

    sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="notifications")["TopicArn"]
    queue = sqs.create_queue(QueueName="people")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
    )

    def read() -> list[str]:
        found = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        return [m["Body"] for m in found]

    return topic, read


@pytest.mark.parametrize("refused", ["UpdateAlias", "AssumeRole"])
def test_an_abort_that_cannot_clear_the_canary_tells_a_person_what_is_stuck_and_the_fix(
    synthesized: Synthesized, monkeypatch: pytest.MonkeyPatch, refused: str
) -> None:
    # GIVEN a bake that timed out with version 2 at 10 % (its pipeline action failed: the Prod stage rolls
    # back, which does not touch the alias), and production refusing the abort's UpdateAlias, or the release
    # role refusing to be assumed (its trust policy changed, the role deleted)
    with _production_for_the_handler(monkeypatch) as (production, handler):
        topic, read = _notification_topic()
        monkeypatch.setenv("BAKE_NOTIFICATIONS", topic)
        machine, started = _bake_machine("release-a")
        _begin(production)
        _stop(started["release-a"])
        made = handler.production_clients

        def refusing(role_arn: str, region: str, session_name: str) -> bake.Clients:
            if refused == "AssumeRole":
                raise RuntimeError("AssumeRole failed: AccessDenied")
            clients = made(role_arn, region, session_name)
            return dataclasses.replace(clients, lambda_=_FailingUpdates(clients.lambda_, 99))

        monkeypatch.setattr(handler, "production_clients", refusing)
        abort = _abort_event(synthesized, execution=started["release-a"], machine=machine, status="TIMED_OUT")
        # WHEN the abort runs: it fails, so Lambda retries it (then its dead-letter topic gets the raw event)
        with pytest.raises(RuntimeError, match=f"{refused} failed"):
            handler.lambda_handler(abort, types.SimpleNamespace(aws_request_id="r-9"))
        assert production.live() == {"version": "1", "routing": {"2": CANARY_WEIGHT}}
        # THEN a person is told, in words, what is stuck and the commands that clear it by hand
        (message,) = read()
        assert started["release-a"] in message and "TIMED_OUT" in message, message
        assert f"{refused} failed" in message and f"{CANARY_WEIGHT:.0%}" in message, message
        # (without the release role the function's name is unknown: the message says how to find it)
        function = production.function_name if refused == "UpdateAlias" else "<function>"
        assert f"aws lambda get-alias --region {REGION} --function-name {function} --name {LIVE_ALIAS}" in (
            message
        ), message
        parameter = manual_parameter_command(live_version_parameter("prod"), "<its FunctionVersion>", REGION)
        assert parameter in message, message
        assert manual_roll_back_command(function, REGION) in message, message


def _begin_event(synthesized: Synthesized, *, execution: str, machine: str) -> Any:
    """What the synthesized Begin state hands the bake Lambda in ``execution`` of ``machine`` (the state
    machine's input is the pipeline action's, ``{"environment": "prod"}``)."""
    definition, _ = bake_definition(_delivery(synthesized))
    context = {"Execution": {"Id": execution}, "StateMachine": {"Id": machine}}
    return resolve_parameters(
        definition["States"]["Begin"]["Parameters"], {"environment": "prod"}, context=context
    )


@pytest.mark.slow  # ~1.5 CPU-s: STS, moto production, Step Functions and the bake handler
def test_a_bake_begun_while_another_runs_moves_nothing_and_names_the_execution_to_stop(
    synthesized: Synthesized, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN bake A running with version 2 at 10 % while its pipeline action is gone (CodePipeline's "stop and
    # abandon" unlocks the stage without stopping the execution, and the stage can be retried: pipelines-stop
    # .html), and bake B started for it (the retried stage, or a bake started by hand)
    with _production_for_the_handler(monkeypatch) as (production, handler):
        machine, started = _bake_machine("release-a", "release-b")
        _begin(production)
        event = _begin_event(synthesized, execution=started["release-b"], machine=machine)
        # WHEN B begins: without a guard it takes the alias, and A's next check finds the alias changed and
        # rolls back to the stable version, B's canary or B's promotion with it
        try:
            handler.lambda_handler(event, types.SimpleNamespace(aws_request_id="r-7"))
            outcome, error_name = "B began beside A", None
        except Exception as error:
            outcome, error_name = str(error), type(error).__name__
        # THEN it fails, naming A and the command that stops it, and the alias is A's as it was
        assert started["release-a"] in outcome, outcome
        stop = f"aws stepfunctions stop-execution --region {REGION} --execution-arn {started['release-a']}"
        assert stop in outcome, outcome
        assert production.live() == {"version": "1", "routing": {"2": CANARY_WEIGHT}}
        # AND the state machine tries it again briefly (ListExecutions is eventually consistent: an execution
        # that ended moments ago may still be listed), then ends with that text (NotStarted)
        definition, _ = bake_definition(_delivery(synthesized))
        begin = definition["States"]["Begin"]
        retrier = retrier_for(begin, str(error_name))
        assert retrier is not None and retrier["ErrorEquals"] == [error_name], begin["Retry"]
        (catch,) = begin["Catch"]
        error_output = {"Error": error_name, "Cause": json.dumps({"errorMessage": outcome})}
        assert started["release-a"] in fail_cause(definition["States"][catch["Next"]], error_output)
        # AND once A has stopped (its abort leaves the alias to B), B begins
        _stop(started["release-a"])
        began = handler.lambda_handler(event, types.SimpleNamespace(aws_request_id="r-8"))
        assert began["decision"] == BakeDecision.HOLD, began["detail"]
        assert production.live() == {"version": "1", "routing": {"2": CANARY_WEIGHT}}


def test_a_begin_that_hangs_is_tried_again_and_one_that_fails_ends_with_its_reason(
    synthesized: Synthesized,
) -> None:
    definition, _ = bake_definition(_delivery(synthesized))
    begin = definition["States"]["Begin"]
    # A hung step (an SSM or CloudFormation read that never answers: the function's timeout, Lambda.Unknown,
    # or the task's, States.Timeout) is tried again instead of failing a release that waited for its
    # approval: Begin only reads, and what it writes (the alias's share, the parameter) it writes the same
    # way each time.
    # https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html: "Unhandled
    # errors in Lambda are reported as Lambda.Unknown ... These include out-of-memory errors and function
    # timeouts."
    for error in ("States.Timeout", "Lambda.Unknown"):
        retrier = retrier_for(begin, error)
        assert retrier is not None and retrier["MaxAttempts"] >= 1, (error, begin["Retry"])
    # One that fails for good ends the execution with the step's own message (the pipeline's action and the
    # execution's failure show it), not a fixed "could not start"
    with offline_production("prod", [ALARM], region=REGION) as production:
        production.clients.cloudformation.outputs.clear()
        with pytest.raises(LookupError) as raised:
            _begin(production)
    (catch,) = begin["Catch"]
    error_output = {
        "Error": "LookupError",
        "Cause": json.dumps({"errorMessage": str(raised.value), "errorType": "LookupError"}),
    }
    cause = fail_cause(definition["States"][catch["Next"]], error_output)
    assert "deploy this commit to prod first" in cause, cause


@pytest.mark.parametrize("release", ["a new version", "the version live serves"])
def test_a_bake_that_begins_after_a_stopped_promotion_names_the_version_live_serves(release: str) -> None:
    # A stopped inside its promotion (parameter naming version 2, never promoted) and its abort left the
    # alias to the next bake: that bake's Begin names the version live serves, whatever it decides
    with offline_production("prod", [ALARM], region=REGION) as production:
        _begin(production)
        _name_live(production, "2")
        if release == "a new version":
            _publish(production, ZipFile=deployment_package("def lambda_handler(e, c):\n    return 3\n"))
        else:  # a stage rollback redeployed the live version itself
            production.clients.cloudformation.outputs[Output.RELEASE_VERSION] = "1"
        began = _begin(production, now=START + 60)
        assert began.decision is (BakeDecision.HOLD if release == "a new version" else BakeDecision.SKIP)
        assert _live_parameter(production) == "1", began.detail
        assert began.detail.endswith(f"; {live_version_parameter('prod')} named 2, now 1")


def test_clearing_a_stack_without_the_function_output_changes_nothing() -> None:
    with offline_production("prod", [ALARM], region=REGION) as production:
        bake.begin(
            production.clients, environment="prod", stack_name=production.stack_name, bake_seconds=3600, now=0
        )
        production.clients.cloudformation.outputs.clear()
        done = bake.clear_canary(
            production.clients,
            stack_name=production.stack_name,
            parameter_name=live_version_parameter("prod"),
        )
        assert (
            done
            == f"stack {production.stack_name} has no output OrchestratorFunctionName: no live alias to clear"
        )
        assert production.live() == {"version": "1", "routing": {"2": CANARY_WEIGHT}}


# ==================================================================== the new version's own errors


def _check_after(
    minute: float,
    *,
    canary: tuple[int, int],
    stable: tuple[int, int],
    check_at: float = POLL,
    policy: BakePolicy | None = None,
    durations_ms: tuple[float, float] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Begin at START (10 % on version 2 beside version 1), record ``(invocations, errors)`` of each version
    through the live alias ``minute`` minutes in (each invocation taking ``durations_ms``: the canary's,
    the stable version's), and check ``check_at`` seconds in."""
    with offline_production("prod", [ALARM], region=REGION) as production:
        state = _begin(production, bake_seconds=3 * 3600, policy=policy)
        assert production.live() == {"version": "1", "routing": {"2": CANARY_WEIGHT}}
        for index, (version, (invocations, errors)) in enumerate((("2", canary), ("1", stable))):
            production.record_invocations(
                version,
                invocations=invocations,
                errors=errors,
                at=START + minute * 60,
                duration_ms=durations_ms[index] if durations_ms else None,
            )
        # every version's errors summed (FunctionName alone), as the FunctionErrors alarm sees them
        production.clients.cloudwatch.put_metric_data(
            Namespace="AWS/Lambda",
            MetricData=[
                {
                    "MetricName": "Errors",
                    "Dimensions": [{"Name": "FunctionName", "Value": production.function_name}],
                    "Value": canary[1] + stable[1],
                }
            ],
        )
        after = bake.check(production.clients, state, now=START + check_at)
        return after, dict(production.live())


def test_a_canary_that_fails_where_the_stable_version_does_not_is_rolled_back() -> None:
    # 10 of its 100 invocations failed: diluted 1:9 into the function's 1,000, it is 1 %
    after, live = _check_after(2, canary=(100, 10), stable=(900, 0))
    assert after.decision is BakeDecision.ROLLED_BACK
    assert "version 2: 10 of 100 invocations failed (10.0%)" in after.detail
    assert "above the limit 1.0% and the stable version 1: 0 of 900 invocations failed (0.0%)" in after.detail
    assert live == {"version": "1", "routing": {}}


def test_the_stable_versions_errors_never_roll_a_good_release_back() -> None:
    after, live = _check_after(2, canary=(100, 0), stable=(900, 90))
    assert after.decision is BakeDecision.HOLD, after.detail
    assert live == {"version": "1", "routing": {"2": CANARY_WEIGHT}}


def test_a_fault_both_versions_share_is_not_the_releases() -> None:
    # the same 10 % on both (an upstream both call): rolling back would not mend it
    after, _ = _check_after(2, canary=(100, 10), stable=(900, 90))
    assert after.decision is BakeDecision.HOLD, after.detail
    # but a canary that fails more than the stable version does is rolled back
    after, _ = _check_after(2, canary=(100, 25), stable=(900, 90))
    assert after.decision is BakeDecision.ROLLED_BACK
    assert "more often than the stable version's rate gives by chance" in after.detail, after.detail


def test_a_canary_a_little_above_a_shared_fault_rate_is_chance_not_a_verdict() -> None:
    # 6 % of the canary's 100 beside 5 % of the stable 900 (callers' requests Bedrock rejects, an upstream
    # both call): at the same 5 % rate, 6 or more in 100 happens 38 % of the time. Comparing shares alone
    # rolled this release back; so would 2x the shared rate on so few invocations (P = 0.2 %).
    for canary in ((100, 6), (100, 10)):
        after, live = _check_after(2, canary=canary, stable=(900, 45))
        assert after.decision is BakeDecision.HOLD, after.detail
        assert live == {"version": "1", "routing": {"2": CANARY_WEIGHT}}
    # the chance the rule allows, by the binomial tail it reads
    assert bake.binomial_tail(6, 100, 0.05) == pytest.approx(0.384, abs=0.001)
    assert bake.binomial_tail(25, 100, 0.1) < bake.SHARED_FAULT_SIGNIFICANCE


def test_too_few_errors_are_no_verdict_and_old_ones_leave_the_window() -> None:
    policy = BakePolicy()
    few = policy.min_errors - 1
    after, _ = _check_after(2, canary=(10, few), stable=(90, 0))
    assert after.decision is BakeDecision.HOLD, after.detail
    after, _ = _check_after(2, canary=(10, few + 1), stable=(90, 0))
    assert after.decision is BakeDecision.ROLLED_BACK
    # errors more than VERSION_ERROR_WINDOW_MINUTES before a check are not that check's
    late = (VERSION_ERROR_WINDOW_MINUTES + 5) * 60
    after, _ = _check_after(2, canary=(100, 50), stable=(900, 0), check_at=late)
    assert after.decision is BakeDecision.HOLD, after.detail
    # a stricter policy rolls back what the default holds
    strict = BakePolicy(max_error_rate=0.001, min_errors=1)
    after, _ = _check_after(2, canary=(500, 1), stable=(4500, 0), policy=strict)
    assert after.decision is BakeDecision.ROLLED_BACK
    after, _ = _check_after(2, canary=(500, 1), stable=(4500, 0))
    assert after.decision is BakeDecision.HOLD


def test_a_canary_whose_invocations_take_far_longer_than_the_stable_versions_is_rolled_back() -> None:
    # every answer twice as slow (a longer prompt, a retry loop, the fallback taken every time), no errors
    after, live = _check_after(2, canary=(100, 0), stable=(900, 0), durations_ms=(6000, 3000))
    assert after.decision is BakeDecision.ROLLED_BACK, after.detail
    assert "the new version is slower than the stable one: version 2: 6000 ms per invocation" in after.detail
    assert "100% longer than the stable version 1: 3000 ms" in after.detail
    assert "(bake.max_latency_increase 50%)" in after.detail
    assert live == {"version": "1", "routing": {}}


@pytest.mark.parametrize(
    ("canary", "stable", "durations_ms", "policy"),
    [
        ((100, 0), (900, 0), (4200, 3000), BakePolicy()),  # 40 % longer: within the default 50 %
        ((100, 0), (900, 0), (600, 200), BakePolicy()),  # three times as long, but 400 ms: below the floor
        ((30, 0), (900, 0), (9000, 3000), BakePolicy()),  # too few canary invocations for a mean
        ((100, 0), (900, 0), (3000, 6000), BakePolicy()),  # faster than the stable version
        ((100, 0), (900, 0), (9000, 3000), BakePolicy(max_latency_increase=None)),  # latency not judged
    ],
)
def test_latency_within_the_policy_or_too_little_to_judge_holds(
    canary: tuple[int, int],
    stable: tuple[int, int],
    durations_ms: tuple[float, float],
    policy: BakePolicy,
) -> None:
    after, live = _check_after(2, canary=canary, stable=stable, durations_ms=durations_ms, policy=policy)
    assert after.decision is BakeDecision.HOLD, after.detail
    assert live == {"version": "1", "routing": {"2": CANARY_WEIGHT}}


def test_a_stricter_latency_policy_rolls_back_what_the_default_holds() -> None:
    strict = BakePolicy(max_latency_increase=0.25)
    after, _ = _check_after(2, canary=(100, 0), stable=(900, 0), durations_ms=(4200, 3000), policy=strict)
    assert after.decision is BakeDecision.ROLLED_BACK, after.detail


@pytest.mark.parametrize("slow", [False, True])
def test_a_few_slow_invocations_are_chance_not_a_slower_release(slow: bool) -> None:
    # Two canary invocations that ran to 28 s (a slow model turn either version may meet) among its 50 in
    # the hour move its mean by over a second, half as long again as a 2 s stable version: a rule on means
    # would roll a good release back on chance, 864 checks in a 72-hour bake. Most of its minutes being
    # slower is a slower release.
    with offline_production("prod", [ALARM], region=REGION) as production:
        state = _begin(production, bake_seconds=3 * 3600)
        typical = 4000.0 if slow else 2000.0
        for minute in range(24):  # 48 canary answers, 2 a minute, beside the stable version's 18 a minute
            at = START + (minute + 1) * 60
            production.record_invocations("2", invocations=2, errors=0, at=at, duration_ms=typical)
            production.record_invocations("1", invocations=18, errors=0, at=at, duration_ms=2000.0)
        for minute in (30, 40):  # the two slow ones, each alone in its minute
            production.record_invocations(
                "2", invocations=1, errors=0, at=START + minute * 60, duration_ms=28000
            )
        after = bake.check(production.clients, state, now=START + 50 * 60)
    assert (after.decision is BakeDecision.ROLLED_BACK) is slow, after.detail


def test_the_bake_lambda_is_configured_as_its_handler_reads_it(
    synthesized: Synthesized, config: PlatformConfig
) -> None:
    from lambdas.canary_bake.handler import Settings

    delivery = _delivery(synthesized)
    ((_, function),) = [
        (k, f)
        for k, f in delivery.resources_of_type("AWS::Lambda::Function")
        if k.startswith("DeliveryCanaryBake")
    ]
    variables = function["Properties"]["Environment"]["Variables"]
    read = {value for name, value in vars(Settings).items() if name.isupper()}
    assert set(variables) == read
    assert config.delivery is not None
    policy = config.delivery.bake
    assert from_dict(BakePolicy, json.loads(variables[Settings.POLICY])) == policy


# ==================================================================== promotion fails closed

#: The bake these tests run to its end: three hours, so invocations early in it are outside the last
#: check's VERSION_ERROR_WINDOW_MINUTES and count only in the whole-bake count.
BAKE = 3 * 3600.0


def _bake_to_the_end(record: Any, *, policy: BakePolicy | None = None) -> tuple[Any, dict[str, Any], str]:
    """Begin at START, let ``record(production)`` publish what live served, and check when the bake is over.
    The check's state, the live alias and the live-version parameter after it."""
    with offline_production("prod", [ALARM], region=REGION) as production:
        state = _begin(production, bake_seconds=BAKE, policy=policy)
        assert state.decision is BakeDecision.HOLD
        record(production)
        after = bake.check(production.clients, state, now=START + BAKE)
        return after, dict(production.live()), _live_parameter(production)


def test_a_canary_that_served_enough_over_the_whole_bake_is_promoted() -> None:
    enough = BakePolicy().min_invocations

    def record(production: Any) -> None:
        # half in the bake's first minutes, half near its end: only the whole bake holds them all
        for minute, share in ((10, enough // 2), (170, enough - enough // 2)):
            production.record_invocations("2", invocations=share, errors=0, at=START + minute * 60)
            production.record_invocations("1", invocations=9 * share, errors=0, at=START + minute * 60)

    after, live, parameter = _bake_to_the_end(record)
    assert after.decision is BakeDecision.PROMOTED, after.detail
    assert f"{enough} invocations of it through live (bake.min_invocations {enough})" in after.detail
    assert live == {"version": "2", "routing": {}} and parameter == "2"


def test_a_canary_that_served_too_few_is_rolled_back_not_promoted() -> None:
    few = BakePolicy().min_invocations - 1

    def record(production: Any) -> None:
        production.record_invocations("2", invocations=few, errors=0, at=START + 600)
        production.record_invocations("1", invocations=9 * few, errors=0, at=START + 600)

    after, live, parameter = _bake_to_the_end(record)
    assert after.decision is BakeDecision.ROLLED_BACK
    assert (
        f"version 2 served {few} invocations through live during the 180-minute bake (version 1: {9 * few}), "
        f"fewer than bake.min_invocations {few + 1}: promoting it would release untested code" in after.detail
    )
    assert "check that traffic reached the alias" in after.detail and "ExecutedVersion" in after.detail
    assert live == {"version": "1", "routing": {}} and parameter == "1"
    # a smaller minimum in the policy promotes the same canary
    after, _, _ = _bake_to_the_end(record, policy=BakePolicy(min_invocations=few))
    assert after.decision is BakeDecision.PROMOTED, after.detail


def test_a_canary_whose_metrics_carry_other_dimensions_is_not_promoted() -> None:
    def record(production: Any) -> None:
        # plenty of traffic, but published without ExecutedVersion (per alias, and per function): the bake's
        # query matches no metric and reads zero, which must not pass for a quiet canary
        for dimensions in (
            [
                {"Name": "FunctionName", "Value": production.function_name},
                {"Name": "Resource", "Value": f"{production.function_name}:live"},
            ],
            [{"Name": "FunctionName", "Value": production.function_name}],
        ):
            production.clients.cloudwatch.put_metric_data(
                Namespace="AWS/Lambda",
                MetricData=[
                    {
                        "MetricName": "Invocations",
                        "Dimensions": dimensions,
                        "Timestamp": datetime.fromtimestamp(START + 600, UTC),
                        "Value": 100_000,
                    }
                ],
            )

    after, live, parameter = _bake_to_the_end(record)
    assert after.decision is BakeDecision.ROLLED_BACK
    assert "version 2 served 0 invocations through live" in after.detail
    assert live == {"version": "1", "routing": {}} and parameter == "1"


# ==================================================================== the live code published again


def _begin(
    production: Any, now: float = START, *, bake_seconds: float = 3600, policy: BakePolicy | None = None
) -> Any:
    """``begin`` in the offline production, with ``policy``'s limits (the defaults without)."""
    policy = policy or BakePolicy()
    return bake.begin(
        production.clients,
        environment="prod",
        stack_name=production.stack_name,
        bake_seconds=bake_seconds,
        now=now,
        policy=policy,
    )


def _publish(production: Any, **change: Any) -> str:
    """What a deploy does: $LATEST changed (``ZipFile`` for its code, else its configuration), a version
    published, and the stack's ``ReleaseVersion`` output naming it."""
    functions = production.clients.lambda_
    if "ZipFile" in change:
        functions.update_function_code(FunctionName=production.function_name, **change)
    else:
        functions.update_function_configuration(FunctionName=production.function_name, **change)
    version = str(functions.publish_version(FunctionName=production.function_name)["Version"])
    production.clients.cloudformation.outputs[Output.RELEASE_VERSION] = version
    return version


def _live_parameter(production: Any) -> str:
    found = production.clients.ssm.get_parameter(Name=live_version_parameter("prod"))
    return str(found["Parameter"]["Value"])


def _name_live(production: Any, version: str) -> None:
    production.clients.ssm.put_parameter(
        Name=live_version_parameter("prod"), Value=version, Type="String", Overwrite=True
    )


def test_a_stage_rollback_that_republishes_the_live_code_is_not_baked_again() -> None:
    with offline_production("prod", [ALARM], region=REGION) as production:
        # the release (version 2) is baked and rolled back: live serves version 1 alone
        state = _begin(production)
        assert state.decision is BakeDecision.HOLD and "differs in CodeSha256" in state.detail
        production.set_alarm(ALARM, "ALARM")
        assert bake.check(production.clients, state, now=START + POLL).decision is BakeDecision.ROLLED_BACK
        production.set_alarm(ALARM, "OK")
        # the stage rollback deploys the last release's template and asset: version 1's code, a new number
        republished = _publish(production, ZipFile=deployment_package(STABLE_SOURCE))
        assert republished == "3"
        again = _begin(production, now=START + 2 * POLL)
        assert again.decision is BakeDecision.SKIP
        assert "version 3 is version 1's code and configuration published again" in again.detail
        assert production.live() == {"version": "3", "routing": {}}
        assert _live_parameter(production) == "3"  # every later deploy keeps it


def test_a_change_of_code_or_configuration_is_baked() -> None:
    with offline_production("prod", [ALARM], region=REGION) as production:
        # version 2 is new code: the offline production's release
        assert _begin(production).decision is BakeDecision.HOLD
        assert production.live() == {"version": "1", "routing": {"2": CANARY_WEIGHT}}
    with offline_production("prod", [ALARM], region=REGION) as production:
        # the live code with one environment variable changed
        production.clients.lambda_.update_function_code(
            FunctionName=production.function_name, ZipFile=deployment_package(STABLE_SOURCE)
        )
        _publish(production, Environment={"Variables": {"ROUTE": "fallback"}})
        state = _begin(production)
        assert state.decision is BakeDecision.HOLD
        assert "differs in Environment.Variables" in state.detail and "CodeSha256" not in state.detail
        assert production.live() == {"version": "1", "routing": {"3": CANARY_WEIGHT}}


class _NoConfigurations:
    """The Lambda client of a release role that may not read version configurations (a stage rollback to a
    template from before it could)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def get_function_configuration(self, **_: Any) -> Any:
        raise RuntimeError("AccessDeniedException: not authorized to perform lambda:GetFunctionConfiguration")


def test_versions_that_cannot_be_compared_are_baked() -> None:
    with offline_production("prod", [ALARM], region=REGION) as production:
        production.clients.lambda_.update_function_code(
            FunctionName=production.function_name, ZipFile=deployment_package(STABLE_SOURCE)
        )
        _publish(production, ZipFile=deployment_package(STABLE_SOURCE))
        clients = dataclasses.replace(
            production.clients, lambda_=_NoConfigurations(production.clients.lambda_)
        )
        state = bake.begin(
            clients, environment="prod", stack_name=production.stack_name, bake_seconds=3600, now=START
        )
        assert state.decision is BakeDecision.HOLD
        assert "GetFunctionConfiguration failed: AccessDeniedException" in state.detail
        assert production.live()["routing"] == {"3": CANARY_WEIGHT}


def test_the_binomial_tail_of_a_busy_hour_stops_at_once_where_its_terms_underflow(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 10 million canary invocations in the hour, a count far past the stable rate: every term of the tail
    # is below the smallest float. The sum is 0 and must stop at once, not walk all 10 million terms (the
    # bake Lambda has 256 MB, a seventh of a vCPU, and a one-minute step timeout; the time is the
    # benchmark's, item 12)
    terms: list[float] = []

    class _CountingMath:
        def __getattr__(self, name: str) -> Any:
            return getattr(math, name)

        def exp(self, value: float) -> float:
            terms.append(value)
            return math.exp(value)

    monkeypatch.setattr(bake, "math", _CountingMath())
    for errors, invocations, rate in BUSY_HOUR_TAILS:
        terms.clear()
        assert bake.binomial_tail(errors, invocations, rate) == 0.0
        assert len(terms) == 1, (errors, invocations, rate, len(terms))


def test_a_crashing_canary_is_rolled_back_even_beside_a_shared_rate_of_answered_5xx() -> None:
    # The stable version never crashes but answers 20 % of its requests 500 (a fault both versions share:
    # a bug already in the stable code, a grant refused to both). The canary answers the same 20 % and, on
    # top, crashes on 3 % (Lambda's own Errors: timeouts, unhandled exceptions). Lambda's Errors alone roll
    # it back (3 % against 0 %: the rule before ServerErrors); added to the shared 500s, 230 of 1,000 at
    # the stable 20 % happens ~1 % of the time, which would hold it.
    from platform_spec.api import METRICS_NAMESPACE, SERVICE_NAME, Dimension, Metric

    with offline_production("prod", [ALARM], region=REGION) as production:
        state = _begin(production, bake_seconds=3 * 3600)
        at = START + 2 * 60
        for version, invocations, crashed, answered in (("2", 1000, 30, 200), ("1", 9000, 0, 1800)):
            production.record_invocations(version, invocations=invocations, errors=crashed, at=at)
            production.clients.cloudwatch.put_metric_data(
                Namespace=METRICS_NAMESPACE,
                MetricData=[
                    {
                        "MetricName": Metric.SERVER_ERRORS,
                        "Dimensions": [
                            {"Name": Dimension.SERVICE, "Value": SERVICE_NAME},
                            {"Name": Dimension.ENVIRONMENT, "Value": "prod"},
                            {"Name": Dimension.FUNCTION_VERSION, "Value": version},
                        ],
                        "Timestamp": datetime.fromtimestamp(at, UTC),
                        "Value": answered,
                    }
                ],
            )
        after = bake.check(production.clients, state, now=START + POLL)
        assert after.decision is BakeDecision.ROLLED_BACK, after.detail
        assert production.live() == {"version": "1", "routing": {}}


def test_a_canarys_own_500s_are_rolled_back_even_beside_a_shared_rate_of_refused_requests() -> None:
    # Callers send requests Bedrock refuses (502 UpstreamRejected) to both versions: 20 % of each. The
    # canary also answers 3 % with 500 (its own bug). All counts together, 230 of 1,000 at the stable 20 %
    # is chance (~1 %); its own (without the 502s), 30 of 1,000 against none: it is rolled back.
    from platform_spec.api import METRICS_NAMESPACE, SERVICE_NAME, Dimension, Metric

    with offline_production("prod", [ALARM], region=REGION) as production:
        state = _begin(production, bake_seconds=3 * 3600)
        at = START + 2 * 60
        for version, invocations, own_500s, refused in (("2", 1000, 30, 200), ("1", 9000, 0, 1800)):
            production.record_invocations(version, invocations=invocations, errors=0, at=at)
            dimensions = [
                {"Name": Dimension.SERVICE, "Value": SERVICE_NAME},
                {"Name": Dimension.ENVIRONMENT, "Value": "prod"},
                {"Name": Dimension.FUNCTION_VERSION, "Value": version},
            ]
            production.clients.cloudwatch.put_metric_data(
                Namespace=METRICS_NAMESPACE,
                MetricData=[
                    {
                        "MetricName": name,
                        "Dimensions": dimensions,
                        "Timestamp": datetime.fromtimestamp(at, UTC),
                        "Value": value,
                    }
                    for name, value in ((Metric.SERVER_ERRORS, own_500s), (Metric.UPSTREAM_REJECTED, refused))
                    if value
                ],
            )
        after = bake.check(production.clients, state, now=START + POLL)
        assert after.decision is BakeDecision.ROLLED_BACK, after.detail
        assert "version 2: 30 of 1000 invocations failed" in after.detail, after.detail
        assert production.live() == {"version": "1", "routing": {}}


# ==================================================================== the alias and the parameter agree


def _served_enough(production: Any) -> None:
    """What live served during a bake that may be promoted: the minimum through the canary, nine times it
    through the stable version."""
    enough = BakePolicy().min_invocations
    production.record_invocations("2", invocations=enough, errors=0, at=START + 600)
    production.record_invocations("1", invocations=9 * enough, errors=0, at=START + 600)


def test_a_promotion_that_failed_half_way_is_rolled_back_with_the_parameter_naming_the_stable_version() -> (
    None
):
    # The bake is over and the canary may be promoted: the promotion writes the parameter (version 2), then
    # UpdateAlias fails. The check fails, and the state machine's RollBackOnError (run_bake's roll back
    # here) puts the alias back on version 1: the parameter must name version 1 again, or the next deploy
    # would resolve version 2, which was never promoted, as live.
    with offline_production("prod", [ALARM], region=REGION) as production:
        state = _begin(production, bake_seconds=BAKE)
        _served_enough(production)
        flaky = _FailingUpdates(production.clients.lambda_, failures=1)
        clients = dataclasses.replace(production.clients, lambda_=flaky)
        with pytest.raises(RuntimeError, match="UpdateAlias failed"):
            bake.check(clients, state, now=START + BAKE)
        # half-way: the parameter names the release, the alias still bakes it beside the stable version
        assert _live_parameter(production) == "2"
        assert production.live() == {"version": "1", "routing": {"2": CANARY_WEIGHT}}
        after = roll_back_or_raise(clients, state, "the bake could not check the release", lambda _: None)
        assert after.decision is BakeDecision.ROLLED_BACK
        assert production.live() == {"version": "1", "routing": {}}
        assert _live_parameter(production) == "1"


def test_clearing_a_canary_names_the_version_the_alias_serves_alone_in_the_parameter() -> None:
    # A bake whose execution stopped (timed out, aborted) inside a promotion, after the parameter write.
    with offline_production("prod", [ALARM], region=REGION) as production:
        _begin(production)
        _name_live(production, "2")
        done = bake.clear_canary(
            production.clients,
            stack_name=production.stack_name,
            parameter_name=live_version_parameter("prod"),
        )
        assert production.live() == {"version": "1", "routing": {}}
        assert _live_parameter(production) == "1"
        assert done.endswith(f"; {live_version_parameter('prod')} named 2, now 1")
        # an alias already cleared (an earlier abort that failed at the parameter) still has it named
        _name_live(production, "2")
        again = bake.clear_canary(
            production.clients,
            stack_name=production.stack_name,
            parameter_name=live_version_parameter("prod"),
        )
        assert "nothing to roll back" in again and _live_parameter(production) == "1"
        assert production.live() == {"version": "1", "routing": {}}


def test_a_check_run_again_after_its_promotion_answer_was_lost_answers_promoted() -> None:
    # The check promoted (parameter, then alias), but its answer never reached the state machine (the task
    # timed out after the alias moved): Step Functions runs the same check again on the same state. Live
    # serves version 2 alone and the parameter names it: that is the promotion done, not a hand-changed alias.
    with offline_production("prod", [ALARM], region=REGION) as production:
        state = _begin(production, bake_seconds=BAKE)
        _served_enough(production)
        assert bake.check(production.clients, state, now=START + BAKE).decision is BakeDecision.PROMOTED
        again = bake.check(production.clients, state, now=START + BAKE + 60)
        assert again.decision is BakeDecision.PROMOTED, again.detail
        assert "an earlier attempt of this check promoted it" in again.detail
        assert production.live() == {"version": "2", "routing": {}}
        assert _live_parameter(production) == "2"


@pytest.mark.parametrize("case", ["parameter names the stable version", "bake not over"])
def test_an_alias_moved_to_the_release_is_no_promotion_unless_the_bake_promoted_it(case: str) -> None:
    # The alias serves version 2 alone, but the parameter does not name it (a hand change, not the bake's
    # promotion), or the bake is not over: the alias changed during the bake, and the check rolls back.
    with offline_production("prod", [ALARM], region=REGION) as production:
        state = _begin(production, bake_seconds=BAKE)
        _served_enough(production)
        production.clients.lambda_.update_alias(
            FunctionName=production.function_name,
            Name="live",
            FunctionVersion="2",
            RoutingConfig={"AdditionalVersionWeights": {}},
        )
        now = START + BAKE
        if case == "bake not over":
            _name_live(production, "2")
            now = START + BAKE / 2
        after = bake.check(production.clients, state, now=now)
        assert after.decision is BakeDecision.ROLLED_BACK
        assert "the live alias changed during the bake" in after.detail
        assert production.live() == {"version": "1", "routing": {}}
        assert _live_parameter(production) == "1"


# ==================================================================== the release role allows what the bake calls


def _recorder(clients: bake.Clients) -> CallRecorder:
    """Every AWS call the bake makes through its clients while recording: the moto-backed clients' through
    botocore's events, the stand-in's DescribeStacks by hand (it is no botocore client)."""
    recorder = CallRecorder()
    for client in (clients.lambda_, clients.cloudwatch, clients.ssm):
        recorder.watch_client(client)  # lambda, cloudwatch, ssm: their IAM prefixes too
    stand_in = clients.cloudformation
    describe = stand_in.describe_stacks

    def recorded_describe(**params: Any) -> Any:
        recorder.record("cloudformation", "DescribeStacks", params)
        return describe(**params)

    stand_in.describe_stacks = recorded_describe
    return recorder


def _authorized_on(
    call: Call,
    *,
    production: Any,
    function_arn: str,
    alias_arn: str,
    account: str,
    region: str,
) -> list[str]:
    """The resources IAM may authorize ``call`` on; the release role must allow each. A call this does not
    know fails the test: whoever adds one to the bake says here what IAM evaluates it on.

    - Lambda restricts actions on a function "by function, version, or alias ARN"
      (https://docs.aws.amazon.com/lambda/latest/dg/lambda-api-permissions-ref.html): a call naming an alias
      or a version must be allowed on that qualified ARN and on the function's.
    - SSM: a parameter's ARN is ``arn:aws:ssm:<region>:<account>:parameter/<name without its leading />``
      (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssystemsmanager.html).
    - CloudWatch: DescribeAlarms returns composite alarms only when granted on ``*`` (API_DescribeAlarms), and
      GetMetricData's one resource type holds every metric: both must be allowed on ``*`` itself.
    - CloudFormation: DescribeStacks on the stack's ID (the ARN IAM evaluates, ``AWS::StackId`` in the template).
    """
    prefix, operation, params = call
    if prefix == "lambda" and operation in ("GetAlias", "UpdateAlias", "GetFunctionConfiguration"):
        assert params["FunctionName"] == production.function_name, params
        qualifier = params.get("Name") or params.get("Qualifier")
        if qualifier is None:
            return [function_arn]
        return [function_arn, alias_arn if qualifier == LIVE_ALIAS else f"{function_arn}:{qualifier}"]
    if prefix == "ssm" and operation in ("GetParameter", "PutParameter"):
        return [f"arn:aws:ssm:{region}:{account}:parameter/{params['Name'].lstrip('/')}"]
    if prefix == "cloudwatch" and operation in ("DescribeAlarms", "GetMetricData"):
        return ["*"]
    if prefix == "cloudformation" and operation == "DescribeStacks":
        assert params["StackName"] == production.stack_name, params
        return ["<AWS::StackId>"]
    raise AssertionError(
        f"the bake calls {prefix}:{operation}: say above which resource IAM authorizes it on"
    )


@pytest.mark.slow  # ~2 CPU-s: three bakes in moto production
def test_the_release_role_allows_every_call_the_bake_makes_and_nothing_it_does_not(
    synthesized: Synthesized, stages: Any
) -> None:
    # GIVEN the release role's identity policy as production's template has it
    platform = stages["prod"].platform
    assert platform.release_access is not None and platform.api is not None
    prod = next(s for s in synthesized.stacks if s.name == "Prod/Platform")
    role = platform.get_logical_id(platform.release_access.role.node.default_child)
    account, region = platform.account, platform.region
    statements = role_statements(prod.template, role)
    document = resolve_value({"Statement": statements}, account=account, region=region)
    orchestrator = platform.api.orchestrator
    function_arn, alias_arn = (
        resolve_value(platform.resolve(arn), account=account, region=region)
        for arn in (orchestrator.function.function_arn, orchestrator.alias.function_arn)
    )
    me = ("AWS", f"arn:aws:iam::{account}:role/{release_role_name('prod')}")
    # WHEN the bake promotes a release, rolls one back on an alarm, and clears one whose execution stopped
    with offline_production("prod", [ALARM], region=REGION) as production:
        recorded = _recorder(production.clients)
        with recorded.recording():
            state = _begin(production, bake_seconds=BAKE)
            assert bake.check(production.clients, state, now=START + 60).decision is BakeDecision.HOLD
        _served_enough(production)
        with recorded.recording():
            assert bake.check(production.clients, state, now=START + BAKE).decision is BakeDecision.PROMOTED
        _publish(production, ZipFile=deployment_package("def lambda_handler(e, c):\n    return 3\n"))
        with recorded.recording():
            state = _begin(production, now=START + BAKE)
        production.set_alarm(ALARM, "ALARM")
        with recorded.recording():
            after = bake.check(production.clients, state, now=START + BAKE + 60)
        assert after.decision is BakeDecision.ROLLED_BACK, after.detail
        production.set_alarm(ALARM, "OK")
        _publish(production, ZipFile=deployment_package("def lambda_handler(e, c):\n    return 4\n"))
        with recorded.recording():
            _begin(production, now=START + BAKE + 120)
            done = bake.clear_canary(
                production.clients,
                stack_name=production.stack_name,
                parameter_name=live_version_parameter("prod"),
            )
        assert done.startswith("rolled back"), done
    # THEN IAM allows each call on each resource it may be authorized on
    denied = [
        f"{prefix}:{operation} on {resource}"
        for call in recorded.calls
        for prefix, operation, _ in [call]
        for resource in _authorized_on(
            call,
            production=production,
            function_arn=function_arn,
            alias_arn=alias_arn,
            account=account,
            region=region,
        )
        if not evaluate(document, Request(me, f"{prefix}:{operation}", resource)).allowed
    ]
    assert not denied, f"the release role does not allow: {sorted(set(denied))}"
    # AND the role is granted no action the bake never calls
    granted = {str(a) for s in statements if s["Effect"] == "Allow" for a in as_list(s["Action"])}
    called = {f"{prefix}:{operation}" for prefix, operation, _ in recorded.calls}
    assert granted == called, f"granted, never called: {granted - called}; called: {called - granted}"
