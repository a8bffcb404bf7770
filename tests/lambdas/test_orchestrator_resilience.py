"""``invoke_with_resilience`` and its parts, with a fake client, clock and sleep (no network, no waiting)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, ParamValidationError, ReadTimeoutError

from lambdas.orchestrator.bedrock import (
    AttemptRecord,
    BedrockClients,
    FailureKind,
    MalformedResponseError,
    Outcome,
    RouteTarget,
    attempt_read_timeout,
    backoff_seconds,
    classify,
    invoke_with_resilience,
    parse_converse_response,
    route_deadline,
)
from lambdas.orchestrator.routing import CircuitBreaker
from lambdas.orchestrator.settings import ResilienceSettings

POLICY = ResilienceSettings(
    max_attempts_per_route=3,
    backoff_base_s=0.1,
    backoff_max_s=0.3,
    connect_timeout_s=0.5,
    read_timeout_s=5.0,
    min_attempt_s=0.5,
)
OK = {
    "output": {"message": {"role": "assistant", "content": [{"text": "fine"}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 10, "outputTokens": 2, "totalTokens": 12},
    "metrics": {"latencyMs": 42},
}


def client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "x"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Converse"
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass(frozen=True)
class AnswersAfter:
    """A scripted outcome: OK after ``seconds``, or a read timeout if the attempt cannot wait that long."""

    seconds: float


class ScriptedClients:
    """Answers per route from a script of outcomes (dict = response, exception = raised, AnswersAfter);
    records calls."""

    def __init__(self, clock: FakeClock, script: dict[str, list[Any]], call_seconds: float = 0.01) -> None:
        self.clock = clock
        self.script = {route: list(outcomes) for route, outcomes in script.items()}
        self.call_seconds = call_seconds
        self.calls: list[tuple[str, float]] = []  # (route, read timeout)

    def client_for(self, read_timeout_s: float) -> Any:
        outer = self

        class _Client:
            def converse(self, **kwargs: Any) -> dict[str, Any]:
                route = kwargs["modelId"]
                outer.calls.append((route, read_timeout_s))
                outcome = outer.script[route].pop(0) if outer.script.get(route) else OK
                if isinstance(outcome, AnswersAfter):
                    if outcome.seconds <= read_timeout_s:
                        outer.clock.now += outcome.seconds
                        return dict(OK)
                    outcome = ReadTimeoutError(endpoint_url="http://stub")
                if isinstance(outcome, ReadTimeoutError):
                    outer.clock.now += read_timeout_s
                    raise outcome
                outer.clock.now += outer.call_seconds
                if isinstance(outcome, BaseException):
                    raise outcome
                return dict(outcome)

        return _Client()


PLAN = [
    RouteTarget(route="primary", arguments={"modelId": "primary"}, circuit_key="uc/primary"),
    RouteTarget(route="fallback", arguments={"modelId": "fallback"}, circuit_key=None),
]


def run(
    script: dict[str, list[Any]],
    *,
    budget_s: float = 20.0,
    policy: ResilienceSettings = POLICY,
    circuit: CircuitBreaker | None = None,
    rand: Callable[[], float] = lambda: 0.5,
) -> tuple[Any, ScriptedClients, FakeClock]:
    clock = FakeClock()
    clients = ScriptedClients(clock, script)
    result = invoke_with_resilience(
        plan=PLAN,
        clients=clients,
        policy=policy,
        deadline=clock() + budget_s,
        circuit=circuit,
        clock=clock,
        sleep=clock.sleep,
        rand=rand,
    )
    return result, clients, clock


def test_backoff_is_capped_exponential_with_full_jitter() -> None:
    assert [backoff_seconds(n, POLICY, lambda: 1.0) for n in (1, 2, 3, 4)] == pytest.approx(
        [0.1, 0.2, 0.3, 0.3]
    )
    assert backoff_seconds(3, POLICY, lambda: 0.0) == 0.0
    assert backoff_seconds(2, POLICY, lambda: 0.25) == pytest.approx(0.05)


def test_retries_sleep_between_attempts_then_fall_back() -> None:
    result, clients, clock = run({"primary": [client_error("ThrottlingException", 429)] * 3})

    assert result.outcome is Outcome.ANSWERED
    assert result.route == "fallback"
    assert [route for route, _ in clients.calls] == ["primary", "primary", "primary", "fallback"]
    assert clock.sleeps == pytest.approx([0.05, 0.1])  # rand 0.5 x (0.1, 0.2); none after the last attempt
    assert [a.result for a in result.attempts] == ["ThrottlingException"] * 3 + ["ok"]


def test_success_reports_model_answer() -> None:
    result, _, _ = run({})

    assert result.outcome is Outcome.ANSWERED
    assert result.calls == 1
    assert result.answer is not None
    assert (result.answer.text, result.answer.input_tokens, result.answer.output_tokens) == ("fine", 10, 2)
    assert result.answer.model_latency_ms == 42


def test_total_calls_never_exceed_two_routes_of_attempts() -> None:
    error = client_error("ServiceUnavailableException", 503)
    result, clients, _ = run({"primary": [error] * 10, "fallback": [error] * 10})

    assert result.outcome is Outcome.UNAVAILABLE
    assert len(clients.calls) == 2 * POLICY.max_attempts_per_route


def test_all_throttled_is_throttled() -> None:
    error = client_error("ThrottlingException", 429)
    result, _, _ = run({"primary": [error] * 3, "fallback": [error] * 3})
    assert result.outcome is Outcome.THROTTLED


def test_validation_is_rejected_without_retry_or_fallback() -> None:
    result, clients, clock = run({"primary": [client_error("ValidationException", 400)]})

    assert result.outcome is Outcome.REJECTED
    assert clients.calls == [("primary", 5.0)]
    assert clock.sleeps == []


def test_each_route_gets_an_equal_share_of_the_time_left() -> None:
    # two routes, 20 s left: the first may use 10 s; the last always gets everything left
    assert route_deadline(100.0, 120.0, 2, POLICY) == pytest.approx(110.0)
    assert route_deadline(100.0, 120.0, 1, POLICY) == pytest.approx(120.0)
    # a share shorter than one attempt (connect 0.5 + minimum 0.5) is widened to it, if time allows
    assert route_deadline(100.0, 101.2, 2, POLICY) == pytest.approx(101.0)
    assert route_deadline(100.0, 100.8, 2, POLICY) == pytest.approx(100.8)
    assert route_deadline(100.0, 99.0, 2, POLICY) == pytest.approx(100.0)  # past the deadline: nothing


def test_an_attempt_window_covers_connecting_and_reading() -> None:
    # read timeout = min(configured 5 s, window - connect 0.5 s); below the 0.5 s minimum, no attempt
    assert attempt_read_timeout(100.0, 110.0, POLICY) == pytest.approx(5.0)
    assert attempt_read_timeout(100.0, 102.0, POLICY) == pytest.approx(1.5)
    assert attempt_read_timeout(100.0, 101.0, POLICY) == pytest.approx(0.5)
    assert attempt_read_timeout(100.0, 100.9, POLICY) is None


def test_a_hanging_primary_leaves_the_fallback_its_share() -> None:
    # GIVEN 10 s of budget and a primary that never answers in time
    hang = ReadTimeoutError(endpoint_url="http://stub")
    result, clients, clock = run({"primary": [hang] * 3}, budget_s=10.0, rand=lambda: 0.0)

    # THEN the primary's one attempt is cut at its 5 s share minus the 0.5 s connect allowance, the
    # 0.5 s left of its share cannot hold another attempt, and the fallback answers with time to spare
    assert clients.calls == [("primary", pytest.approx(4.5)), ("fallback", pytest.approx(5.0))]
    assert result.outcome is Outcome.ANSWERED
    assert result.route == "fallback"
    assert clock.now - 100.0 < 10.0


def test_read_timeouts_on_every_route_are_timed_out() -> None:
    # GIVEN 6 s of budget and models that never answer in time
    hang = ReadTimeoutError(endpoint_url="http://stub")
    result, clients, _ = run({"primary": [hang] * 3, "fallback": [hang] * 3}, budget_s=6.0, rand=lambda: 0.0)

    # THEN primary: 3 s share -> 2.5 s read, then 0.5 s left (no attempt fits); fallback: the 3.5 s left
    # -> 3 s read, then nothing fits
    assert [timeout for _, timeout in clients.calls] == pytest.approx([2.5, 3.0])
    assert result.outcome is Outcome.TIMED_OUT


def test_a_fallback_that_kept_failing_inside_its_share_is_unavailable_not_timed_out() -> None:
    # the primary hung (its share ran out), but the fallback used all its attempts: that is a 503
    hang = ReadTimeoutError(endpoint_url="http://stub")
    error = client_error("ServiceUnavailableException", 503)
    result, _, _ = run({"primary": [hang] * 3, "fallback": [error] * 3}, budget_s=20.0)

    assert result.outcome is Outcome.UNAVAILABLE


def test_backoff_that_does_not_fit_moves_to_the_next_route() -> None:
    # GIVEN a budget where the primary's share holds one attempt but not a backoff and a second one
    error = client_error("InternalServerException", 500)
    result, clients, clock = run({"primary": [error] * 3}, budget_s=2.2, rand=lambda: 1.0)

    # THEN no sleep: the fallback starts at once, in the time a backoff would have wasted
    assert clock.sleeps == []
    assert [route for route, _ in clients.calls] == ["primary", "fallback"]
    assert result.outcome is Outcome.ANSWERED
    assert result.route == "fallback"


def test_quota_errors_on_every_route_are_quota_exceeded() -> None:
    quota = client_error("ServiceQuotaExceededException", 400)
    result, clients, _ = run({"primary": [quota], "fallback": [quota]})

    assert result.outcome is Outcome.QUOTA_EXCEEDED
    assert len(clients.calls) == 2  # no retry on the same route


def test_timeouts_weigh_more_in_the_circuit() -> None:
    clock = FakeClock()
    circuit = CircuitBreaker(
        failure_threshold=5, timeout_threshold=2, window_s=30, cooldown_s=15, clock=clock
    )

    circuit.record_failure("hang", timed_out=True)
    assert circuit.allow("hang")
    circuit.record_failure("hang", timed_out=True)
    assert not circuit.allow("hang")  # two timeouts

    circuit.record_failure("mixed", timed_out=True)
    for _ in range(2):
        circuit.record_failure("mixed")
    assert circuit.allow("mixed")  # 2.5 + 2 < 5
    circuit.record_failure("mixed")
    assert not circuit.allow("mixed")  # one timeout and three errors

    for _ in range(4):
        circuit.record_failure("errors")
    assert circuit.allow("errors")
    circuit.record_failure("errors")
    assert not circuit.allow("errors")  # five errors, as before

    circuit.record_failure("old", timed_out=True)
    clock.now += 31
    circuit.record_failure("old", timed_out=True)
    assert circuit.allow("old")  # the first fell out of the window


def test_a_hang_records_a_timeout_in_the_circuit() -> None:
    clock = FakeClock()
    circuit = CircuitBreaker(
        failure_threshold=5, timeout_threshold=2, window_s=30, cooldown_s=15, clock=clock
    )
    hang = ReadTimeoutError(endpoint_url="http://stub")

    run({"primary": [hang] * 3}, budget_s=12.0, circuit=circuit)
    assert circuit.allow("uc/primary")
    run({"primary": [hang] * 3}, budget_s=12.0, circuit=circuit)

    assert circuit.is_open("uc/primary")


def test_circuit_breaker_records_failures_and_successes() -> None:
    clock = FakeClock()
    circuit = CircuitBreaker(failure_threshold=3, window_s=10, cooldown_s=5, clock=clock)
    error = client_error("ServiceUnavailableException", 503)

    run({"primary": [error] * 3}, circuit=circuit)

    assert circuit.is_open("uc/primary")
    assert not circuit.allow("uc/primary")
    clock.now += 5.1
    assert circuit.allow("uc/primary")  # half-open after the cool-down
    assert not circuit.is_open("uc/primary")


def test_circuit_breaker_window_and_success_reset() -> None:
    clock = FakeClock()
    circuit = CircuitBreaker(failure_threshold=3, window_s=10, cooldown_s=5, clock=clock)

    circuit.record_failure("k")
    circuit.record_failure("k")
    clock.now += 11  # the first two fall out of the window
    circuit.record_failure("k")
    assert circuit.allow("k")
    circuit.record_failure("k")
    circuit.record_success("k")  # a success clears the count
    circuit.record_failure("k")
    assert circuit.allow("k")
    circuit.record_failure("k")
    circuit.record_failure("k")
    assert not circuit.allow("k")


def test_guardrail_intervention_is_an_answer_not_a_failure() -> None:
    blocked = {**OK, "stopReason": "guardrail_intervened", "usage": {"inputTokens": 0, "outputTokens": 0}}
    circuit = CircuitBreaker(failure_threshold=1, window_s=10, cooldown_s=5)

    result, clients, _ = run({"primary": [blocked]}, circuit=circuit)

    assert result.outcome is Outcome.INTERVENED
    assert len(clients.calls) == 1
    assert circuit.allow("uc/primary")


def test_a_bug_propagates() -> None:
    with pytest.raises(ParamValidationError):
        run({"primary": [ParamValidationError(report="bad")]})


@pytest.mark.parametrize(
    ("exc", "kind", "code", "throttle"),
    [
        (client_error("ThrottlingException", 429), FailureKind.RETRY, "ThrottlingException", True),
        (client_error("ModelNotReadyException", 429), FailureKind.RETRY, "ModelNotReadyException", False),
        (
            client_error("ServiceUnavailableException", 503),
            FailureKind.RETRY,
            "ServiceUnavailableException",
            False,
        ),
        (client_error("InternalServerException", 500), FailureKind.RETRY, "InternalServerException", False),
        (client_error("ModelTimeoutException", 408), FailureKind.RETRY, "ModelTimeoutException", False),
        (client_error("SomethingNew", 502), FailureKind.RETRY, "SomethingNew", False),
        (client_error("AccessDeniedException", 403), FailureKind.NEXT_ROUTE, "AccessDeniedException", False),
        (
            client_error("ResourceNotFoundException", 404),
            FailureKind.NEXT_ROUTE,
            "ResourceNotFoundException",
            False,
        ),
        (
            client_error("ServiceQuotaExceededException", 400),
            FailureKind.NEXT_ROUTE,
            "ServiceQuotaExceededException",
            True,
        ),
        (client_error("ValidationException", 400), FailureKind.REJECTED, "ValidationException", False),
        (ReadTimeoutError(endpoint_url="u"), FailureKind.RETRY, "ReadTimeout", False),
        (ConnectionClosedError(endpoint_url="u"), FailureKind.RETRY, "ConnectionClosed", False),
        (MalformedResponseError("x"), FailureKind.RETRY, "MalformedResponse", False),
        (
            AttributeError("'list' object has no attribute 'get'"),
            FailureKind.RETRY,
            "MalformedResponse",
            False,
        ),
    ],
)
def test_classify(exc: BaseException, kind: FailureKind, code: str, throttle: bool) -> None:
    failure = classify(exc)
    assert failure is not None
    assert (failure.kind, failure.code, failure.throttle) == (kind, code, throttle)


def test_classify_leaves_bugs_alone() -> None:
    assert classify(KeyError("x")) is None
    assert classify(ParamValidationError(report="x")) is None


@pytest.mark.parametrize(
    "response",
    [
        {"message": "truncated json"},
        {**OK, "output": {}},
        {**OK, "output": {"message": {"content": "not a list"}}},
        {**OK, "usage": {"inputTokens": -1, "outputTokens": 1}},
        {**OK, "usage": {"inputTokens": "1", "outputTokens": 1}},
        {**OK, "stopReason": "tool_use"},
        {**OK, "stopReason": "malformed_model_output"},
        {**OK, "output": {"message": {"content": []}}},
        [],
    ],
)
def test_shape_invalid_responses_are_malformed(response: Any) -> None:
    with pytest.raises(MalformedResponseError):
        parse_converse_response(response)


def test_blocked_side_from_the_guardrail_trace() -> None:
    base = {**OK, "stopReason": "guardrail_intervened"}
    output_blocked = {
        **base,
        "trace": {
            "guardrail": {
                "inputAssessment": {"gr": {"contentPolicy": {"filters": [{"action": "NONE"}]}}},
                "outputAssessments": {"gr": [{"contentPolicy": {"filters": [{"action": "BLOCKED"}]}}]},
            }
        },
    }
    input_blocked = {
        **base,
        "trace": {
            "guardrail": {"inputAssessment": {"gr": {"topicPolicy": {"topics": [{"action": "BLOCKED"}]}}}}
        },
    }

    assert parse_converse_response(output_blocked).blocked_side == "output"
    assert parse_converse_response(input_blocked).blocked_side == "input"
    assert parse_converse_response({**OK, "stopReason": "content_filtered"}).blocked_side == "output"


def _pii(*actions: str) -> dict[str, Any]:
    return {"sensitiveInformationPolicy": {"piiEntities": [{"type": "NAME", "action": a} for a in actions]}}


def test_an_intervention_that_only_masked_is_the_answer() -> None:
    masked_text = {"output": {"message": {"content": [{"text": "Hello {NAME}."}]}}}
    base = {**OK, **masked_text, "stopReason": "guardrail_intervened"}
    masked = {**base, "trace": {"guardrail": {"outputAssessments": {"gr": [_pii("ANONYMIZED")]}}}}
    masked_and_blocked = {
        **base,
        "trace": {
            "guardrail": {
                "inputAssessment": {"gr": _pii("ANONYMIZED")},
                "outputAssessments": {"gr": [_pii("ANONYMIZED", "BLOCKED")]},
            }
        },
    }

    answer = parse_converse_response(masked)
    assert (answer.intervened, answer.masked, answer.blocked_side, answer.text) == (
        True,
        True,
        None,
        "Hello {NAME}.",
    )
    # a BLOCKED finding anywhere makes it a block, on the side that has it
    blocked = parse_converse_response(masked_and_blocked)
    assert (blocked.masked, blocked.blocked_side) == (False, "output")
    # no trace, or no finding at all: fail closed, a block
    assert parse_converse_response(base).masked is False
    assert parse_converse_response({**base, "trace": {"guardrail": {}}}).blocked_side == "input"


def test_attempt_record_is_plain_data() -> None:
    assert AttemptRecord("primary", "ok", 0.1) == AttemptRecord("primary", "ok", 0.1)


def test_circuit_breaker_is_thread_safe() -> None:
    circuit = CircuitBreaker(failure_threshold=1000, window_s=60, cooldown_s=60)

    def fail_many() -> None:
        for _ in range(250):
            circuit.record_failure("k")

    threads = [threading.Thread(target=fail_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # exactly 1000 failures counted: the circuit opened once, on the 1000th
    assert circuit.is_open("k")
    circuit.record_success("k")
    assert circuit.allow("k")


def test_clients_are_reused_and_only_shrink_near_the_deadline() -> None:
    clients = BedrockClients(region="us-east-1", connect_timeout_s=1.0, read_timeout_s=25.0)

    default = clients.client_for(25.0)
    assert clients.client_for(400.0) is default  # never longer than the configured read timeout
    short = clients.client_for(1.27)
    assert clients.client_for(1.21) is short  # 100 ms buckets
    config = short.meta.config  # type: ignore[attr-defined]
    assert config.read_timeout == pytest.approx(1.2)
    assert config.connect_timeout == 1.0
    # one HTTP request per call: the orchestrator's loop is the only retry loop
    assert config.retries == {"mode": "standard", "total_max_attempts": 1}
    assert default.meta.config.read_timeout == 25.0  # type: ignore[attr-defined]
    for timeout in range(1, 20):
        clients.client_for(timeout / 10)
    assert len(clients._clients) == 8  # bounded cache


# --- a slow but healthy primary -------------------------------------------------------------------------


def test_a_route_that_needs_longer_than_an_equal_share_gets_it_while_the_fallback_keeps_its_floor() -> None:
    # 20 s left, two routes: the equal share is 10 s; min_later_share_s (3 s) is kept for the fallback
    assert route_deadline(100.0, 120.0, 2, POLICY, expected_s=5.0) == pytest.approx(110.0)  # fits the share
    assert route_deadline(100.0, 120.0, 2, POLICY, expected_s=14.0) == pytest.approx(114.5)  # 14 + connect
    assert route_deadline(100.0, 120.0, 2, POLICY, expected_s=18.0) == pytest.approx(117.0)  # floor kept
    assert route_deadline(100.0, 120.0, 1, POLICY, expected_s=30.0) == pytest.approx(120.0)  # last: all


@pytest.mark.parametrize(("expected_s", "route"), [(20.0, "primary"), (0.0, "fallback")])
def test_a_slow_primary_within_its_contract_p95_answers_with_the_deployed_constants(
    expected_s: float, route: str
) -> None:
    # GIVEN the deployed constants, rfp-drafting's 24.5 s budget (answers held) and a primary that answers
    # after 14 s, inside the contract's 20 s p95
    clock = FakeClock()
    clients = ScriptedClients(clock, {"primary": [AnswersAfter(14.0)] * 2})
    circuit = CircuitBreaker(
        failure_threshold=5, timeout_threshold=2, window_s=30, cooldown_s=15, clock=clock
    )
    plan = [
        RouteTarget("primary", {"modelId": "primary"}, "uc/primary", expected_s=expected_s),
        RouteTarget("fallback", {"modelId": "fallback"}, None),
    ]

    results = [
        invoke_with_resilience(
            plan=plan,
            clients=clients,
            policy=ResilienceSettings(),
            deadline=clock() + 24.5,
            circuit=circuit,
            clock=clock,
            sleep=clock.sleep,
            rand=lambda: 0.0,
        )
        for _ in range(2)
    ]

    # THEN with the p95 the primary may wait 20 s (its 21 s share less connecting) and answers; without
    # it (an equal 12.25 s share) it was cut and the fallback answered. Either way the circuit stays
    # closed: the cut timeouts were shorter than the configured 25 s read timeout
    assert [r.route for r in results] == [route, route]
    assert clients.calls[0] == ("primary", pytest.approx(20.0 if expected_s else 11.25))
    assert not circuit.is_open("uc/primary")


def _hang_twice(budget_s: float, expected_s: float = 0.0) -> CircuitBreaker:
    clock = FakeClock()
    circuit = CircuitBreaker(
        failure_threshold=5, timeout_threshold=2, window_s=30, cooldown_s=15, clock=clock
    )
    plan = [RouteTarget("primary", {"modelId": "primary"}, "uc/primary", expected_s=expected_s), PLAN[1]]
    hang = ReadTimeoutError(endpoint_url="http://stub")
    for _ in range(2):
        invoke_with_resilience(
            plan=plan,
            clients=ScriptedClients(clock, {"primary": [hang] * 3}),
            policy=POLICY,
            deadline=clock() + budget_s,
            circuit=circuit,
            clock=clock,
            sleep=clock.sleep,
            rand=lambda: 0.0,
        )
    return circuit


def test_only_read_timeouts_the_budget_did_not_cut_short_open_the_circuit() -> None:
    # 6 s budget: the primary's 3 s share cuts its read timeout to 2.5 s (configured: 5 s), twice
    assert not _hang_twice(6.0).is_open("uc/primary")
    # 12 s budget: its 6 s share holds the full 5 s read timeout, twice: a hang
    assert _hang_twice(12.0).is_open("uc/primary")
    # 6 s budget, but the contract's p95 is 2 s: waiting 2.5 s is past it, twice: a hang
    assert _hang_twice(6.0, expected_s=2.0).is_open("uc/primary")
