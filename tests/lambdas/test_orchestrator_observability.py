"""Exactly one structured log line per request, and the EMF metrics."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from bedrock_platform_devtools.bedrock_stub import BedrockStub, Fault
from platform_spec.api import METRICS_NAMESPACE, SERVICE_NAME
from tests.lambdas.conftest import LoadOrchestrator
from tests.lambdas.orchestrator_testkit import (
    NAMESPACE,
    PROFILES,
    SERVICE,
    FakeLambdaContext,
    arn,
    call,
    invoke_event,
    load_event,
    output_lines,
    sample_route,
    user,
)

STS = PROFILES["support-ticket-summary"]
SECRET_TICKET = "Customer Jane Roe (jane.roe@example.com, card 4111 1111 1111 1111) wants a refund of 99 EUR."
#: Fields of every request's line. Powertools omits fields whose value is null, so the others (errorCode,
#: useCase, route, profile, modelId, promptVersion, tokens, cost, modelLatencyMs, guardrailAction) appear
#: only when they have a value.
ALWAYS_LOGGED = {
    "requestId", "method", "resource", "status", "outcome", "attempts", "retries", "fallbackUsed",
    "circuitSkipped", "upstreamErrors", "latencyMs", "idempotencyKeySent", "idempotentReplay",
}  # fmt: skip
LOG_FIELDS = {
    "requestId", "method", "resource", "status", "outcome", "errorCode", "useCase", "route", "profile", "modelId",
    "promptVersion", "attempts", "retries", "fallbackUsed", "circuitSkipped", "upstreamErrors", "inputTokens",
    "outputTokens", "cacheReadInputTokens", "cacheWriteInputTokens", "estimatedCostUsd", "latencyMs",
    "modelLatencyMs", "guardrailAction", "idempotencyKeySent", "idempotentReplay",
}  # fmt: skip

PRICES = sample_route("support-ticket-summary", "primary")


def request_logs(out: str) -> list[dict[str, Any]]:
    logs, _ = output_lines(out)
    return logs


@pytest.mark.parametrize(
    "event",
    [
        invoke_event(body=user(SECRET_TICKET)),
        invoke_event(raw_body="{broken"),
        invoke_event("nope", body=user("x")),
        load_event("health.json"),
        load_event("list_use_cases.json"),
    ],
    ids=["answered", "bad-json", "unknown-use-case", "health", "list"],
)
def test_exactly_one_log_line_per_request(
    orchestrator: ModuleType,
    lambda_context: FakeLambdaContext,
    capsys: pytest.CaptureFixture[str],
    event: dict[str, Any],
) -> None:
    reply = call(orchestrator, event, lambda_context)

    logs = request_logs(capsys.readouterr().out)
    assert len(logs) == 1
    [line] = logs
    assert line["message"] == "request"
    assert line["service"] == SERVICE
    assert line["status"] == reply.status
    assert line["requestId"] == line["correlation_id"] == event["requestContext"]["requestId"]
    assert line.keys() >= ALWAYS_LOGGED


def test_log_line_of_an_answered_request(
    orchestrator: ModuleType,
    lambda_context: FakeLambdaContext,
    stub: BedrockStub,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stub.script(
        STS["primary"],
        [Fault.throttling(), Fault.success(text="Note.", input_tokens=2000, output_tokens=100)],
    )

    call(orchestrator, invoke_event(body=user(SECRET_TICKET)), lambda_context)

    [line] = request_logs(capsys.readouterr().out)
    assert LOG_FIELDS - {"errorCode"} == line.keys() & LOG_FIELDS
    assert {k: line.get(k) for k in LOG_FIELDS - {"latencyMs"}} == {
        "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        "method": "POST",
        "resource": "/use-cases/{useCaseId}/invoke",
        "status": 200,
        "outcome": "answered",
        "errorCode": None,
        "useCase": "support-ticket-summary",
        "route": "primary",
        "profile": arn(STS["primary"]),
        "modelId": "anthropic.claude-haiku-4-5-20251001-v1:0",
        "promptVersion": "v1",
        "attempts": 2,
        "retries": 1,
        "fallbackUsed": False,
        "circuitSkipped": [],
        "upstreamErrors": ["primary:ThrottlingException"],
        "inputTokens": 2000,
        "outputTokens": 100,
        "cacheReadInputTokens": 0,
        "cacheWriteInputTokens": 0,
        "estimatedCostUsd": pytest.approx(
            2 * PRICES["price_per_1k_input_usd"] + 0.1 * PRICES["price_per_1k_output_usd"]
        ),
        "modelLatencyMs": 0,
        "guardrailAction": "NONE",
        "idempotencyKeySent": False,
        "idempotentReplay": False,
    }
    assert isinstance(line["latencyMs"], int)
    assert line["level"] == "INFO"


def test_no_prompt_or_response_text_when_logging_is_disallowed(
    orchestrator: ModuleType,
    lambda_context: FakeLambdaContext,
    stub: BedrockStub,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # support-ticket-summary has log_prompts_and_responses: false; the stub echoes the ticket back
    reply = call(orchestrator, invoke_event(body=user(SECRET_TICKET)), lambda_context)

    out = capsys.readouterr().out
    assert SECRET_TICKET in reply.body["output"]["text"]  # the caller gets it...
    assert "jane.roe@example.com" not in out  # ...stdout (logs and metrics) never does
    assert "Jane Roe" not in out
    [line] = request_logs(out)
    assert "prompt" not in line and "responseText" not in line


def test_prompt_and_response_logged_when_allowed(
    orchestrator: ModuleType, lambda_context: FakeLambdaContext, capsys: pytest.CaptureFixture[str]
) -> None:
    event = load_event("invoke_policy_qa_grounded.json")  # policy-qa allows logging

    reply = call(orchestrator, event, lambda_context)

    [line] = request_logs(capsys.readouterr().out)
    assert line["prompt"]["messages"] == [
        {"role": "user", "content": "How many days can I work remotely from abroad each year?"}
    ]
    assert line["prompt"]["context"].startswith("Remote Work Policy, section 4.2")
    assert line["responseText"] == reply.body["output"]["text"]


def test_upstream_failure_is_a_warning_and_a_bug_or_a_refused_grant_is_an_error(
    orchestrator: ModuleType,
    lambda_context: FakeLambdaContext,
    stub: BedrockStub,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stub.script(None, [Fault.service_unavailable()] * 6 + [Fault.access_denied()] * 2)
    call(orchestrator, invoke_event(body=user("Offline.")), lambda_context)
    call(orchestrator, invoke_event(body=user("Offline.")), lambda_context)
    monkeypatch.setattr(orchestrator, "plan_routes", lambda *a, **k: 1 / 0)
    call(orchestrator, invoke_event(body=user("Offline.")), lambda_context)

    first, denied, second = request_logs(capsys.readouterr().out)
    # a deployment fault no retry cures is an error (without an exception: nothing raised in our code)
    assert (denied["level"], denied["status"], denied["errorCode"]) == (
        "ERROR",
        500,
        "UPSTREAM_NOT_PERMITTED",
    )
    assert denied["outcome"] == "not_permitted" and "exception" not in denied
    assert denied["upstreamErrors"] == ["light:AccessDeniedException", "fallback:AccessDeniedException"]
    assert (first["level"], first["status"], first["errorCode"]) == ("WARNING", 503, "UPSTREAM_UNAVAILABLE")
    assert (
        first["upstreamErrors"]
        == ["light:ServiceUnavailableException"] * 3 + ["fallback:ServiceUnavailableException"] * 3
    )
    assert (second["level"], second["status"], second["errorCode"]) == ("ERROR", 500, "INTERNAL")
    assert second["exception_name"] == "ZeroDivisionError"
    assert "ZeroDivisionError" in second["exception"]


def _metric_docs(out: str) -> list[dict[str, Any]]:
    _, emf = output_lines(out)
    return emf


def _metric_names(document: dict[str, Any]) -> set[str]:
    return {m["Name"] for m in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]}


def test_metrics_of_an_answered_request(
    orchestrator: ModuleType,
    lambda_context: FakeLambdaContext,
    stub: BedrockStub,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stub.script(STS["primary"], [Fault.access_denied()])
    stub.script(STS["fallback"], [Fault.success(input_tokens=300, output_tokens=20, latency_ms=7)])

    call(orchestrator, invoke_event(body=user(SECRET_TICKET)), lambda_context)

    [document] = _metric_docs(capsys.readouterr().out)
    directive = document["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == NAMESPACE
    assert sorted(directive["Dimensions"][0]) == ["UseCase", "environment", "service"]
    assert (document["UseCase"], document["environment"], document["service"]) == (
        "support-ticket-summary",
        "dev",
        SERVICE,
    )
    # the fallback route is unpriced: no EstimatedCostUsd at all (not 0)
    assert _metric_names(document) == {
        "Requests", "Latency", "ModelLatency", "InputTokens", "OutputTokens", "CacheReadInputTokens",
        "CacheWriteInputTokens", "Retries", "Fallbacks", "GuardrailInterventions", "Errors",
    }  # fmt: skip
    assert document["InputTokens"] == [300.0]
    assert document["OutputTokens"] == [20.0]
    assert document["CacheReadInputTokens"] == document["CacheWriteInputTokens"] == [0.0]
    assert document["ModelLatency"] == [7.0]
    assert document["Retries"] == [1.0]
    assert document["Fallbacks"] == [1.0]
    assert document["Errors"] == [0.0]


def test_priced_request_emits_estimated_cost(
    orchestrator: ModuleType,
    lambda_context: FakeLambdaContext,
    stub: BedrockStub,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stub.script(STS["primary"], [Fault.success(input_tokens=1000, output_tokens=1000)])

    call(orchestrator, invoke_event(body=user(SECRET_TICKET)), lambda_context)

    [document] = _metric_docs(capsys.readouterr().out)
    assert document["EstimatedCostUsd"] == [
        pytest.approx(PRICES["price_per_1k_input_usd"] + PRICES["price_per_1k_output_usd"])
    ]


@pytest.mark.parametrize(
    ("fault", "action"),
    [
        (Fault.guardrail_intervened(), "INTERVENED"),
        # a mask (ANONYMIZE) is an intervention too, though the caller gets the masked answer
        (Fault.guardrail_masked({"Jane Roe": "NAME"}, text="Jane Roe wants a refund."), "MASKED"),
    ],
    ids=["blocked", "masked"],
)
def test_guardrail_intervention_metric(
    orchestrator: ModuleType,
    lambda_context: FakeLambdaContext,
    stub: BedrockStub,
    capsys: pytest.CaptureFixture[str],
    fault: Fault,
    action: str,
) -> None:
    stub.script(STS["primary"], [fault])

    call(orchestrator, invoke_event(body=user(SECRET_TICKET)), lambda_context)

    out = capsys.readouterr().out
    [document] = _metric_docs(out)
    assert document["GuardrailInterventions"] == [1.0]
    assert document["Errors"] == [0.0]
    [line] = request_logs(out)
    assert (line["outcome"], line["guardrailAction"]) == ("intervened", action)


def test_error_metrics_carry_the_error_code_in_a_separate_document(
    orchestrator: ModuleType,
    lambda_context: FakeLambdaContext,
    stub: BedrockStub,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stub.script(None, [Fault.throttling()] * 6)

    call(orchestrator, invoke_event(body=user(SECRET_TICKET)), lambda_context)

    main, by_code = _metric_docs(capsys.readouterr().out)
    assert main["Errors"] == [1.0]
    assert "ErrorCode" not in main
    assert _metric_names(by_code) == {"Errors"}
    assert sorted(by_code["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]) == [
        "ErrorCode", "UseCase", "environment", "service",
    ]  # fmt: skip
    assert (by_code["ErrorCode"], by_code["UseCase"], by_code["Errors"]) == (
        "THROTTLED",
        "support-ticket-summary",
        [1.0],
    )


def test_no_metrics_for_health_or_unknown_use_cases(
    orchestrator: ModuleType, lambda_context: FakeLambdaContext, capsys: pytest.CaptureFixture[str]
) -> None:
    call(orchestrator, load_event("health.json"), lambda_context)
    call(orchestrator, invoke_event("made-up-use-case", body=user("x")), lambda_context)

    assert _metric_docs(capsys.readouterr().out) == []


def test_tracer_is_a_no_op_without_the_xray_sdk_or_when_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    from lambdas.orchestrator import telemetry

    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    tracer = telemetry.make_tracer("svc")

    def handler(event: Any, context: Any) -> str:
        return "ok"

    assert isinstance(tracer, telemetry.NoopTracer)
    assert tracer.capture_lambda_handler(capture_response=False)(handler) is handler
    assert tracer.capture_lambda_handler(handler) is handler


def test_a_5xx_answer_is_counted_for_the_function_version_that_answered(
    orchestrator: ModuleType,
    lambda_context: FakeLambdaContext,
    stub: BedrockStub,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN the function runs as version 7 (Lambda's reserved variable)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_VERSION", "7")
    stub.script(None, [Fault.service_unavailable()] * 6 + [Fault.access_denied()] * 2 + [Fault.validation()])
    statuses = [
        call(orchestrator, invoke_event(body=user(SECRET_TICKET)), lambda_context).status for _ in "abcd"
    ]
    call(orchestrator, load_event("health.json"), lambda_context)  # 200, no use case
    monkeypatch.setattr(orchestrator, "plan_routes", lambda *a, **k: 1 / 0)
    statuses.append(call(orchestrator, invoke_event(body=user(SECRET_TICKET)), lambda_context).status)
    assert statuses == [503, 500, 502, 200, 500]  # unavailable, not permitted, rejected, answered, a bug

    # THEN one document per 5xx, its metric by its class (503/504, 500, 502), under the version's own
    # dimension set and nothing else
    documents = _metric_docs(capsys.readouterr().out)
    per_version = {"ServerErrors", "UpstreamRejected", "UpstreamUnavailable"}
    version_docs = [d for d in documents if _metric_names(d) & per_version]
    assert [sorted(_metric_names(d)) for d in version_docs] == [
        ["UpstreamUnavailable"],
        ["ServerErrors"],
        ["UpstreamRejected"],
        ["ServerErrors"],
    ]
    for document in version_docs:
        (dimensions,) = document["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
        assert sorted(dimensions) == ["FunctionVersion", "environment", "service"]
        (name,) = _metric_names(document)
        assert (document["FunctionVersion"], document[name]) == ("7", [1.0])


def test_outside_lambda_no_version_is_claimed(
    orchestrator: ModuleType,
    lambda_context: FakeLambdaContext,
    stub: BedrockStub,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_VERSION", raising=False)
    stub.script(None, [Fault.service_unavailable()] * 6)
    call(orchestrator, invoke_event(body=user(SECRET_TICKET)), lambda_context)
    assert all("ServerErrors" not in _metric_names(d) for d in _metric_docs(capsys.readouterr().out))


@pytest.mark.parametrize("fault", ["bug", "invalid-request", "unreadable-answers"])
def test_the_canary_bake_rolls_back_a_version_that_answers_500(
    load_orchestrator: LoadOrchestrator,
    lambda_context: FakeLambdaContext,
    stub: BedrockStub,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fault: str,
) -> None:
    """End to end from the function's own output: a release with a bug answers 500 INTERNAL, one that
    builds a request Bedrock refuses answers 502 UPSTREAM_REJECTED; Lambda counts both as successful
    invocations (no ``Errors``). The EMF lines it writes, put into CloudWatch as CloudWatch Logs extracts
    them, are what the bake reads: it rolls the version back."""
    from delivery.canary import offline_production
    from lambdas.canary_bake import bake

    # GIVEN version 2 of the orchestrator, deployed as the construct deploys it (its service name and
    # namespace), with a bug in every invoke request, or one whose every Converse request Bedrock refuses
    orchestrator = load_orchestrator(
        POWERTOOLS_SERVICE_NAME=SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE=METRICS_NAMESPACE,
        AWS_LAMBDA_FUNCTION_VERSION="2",
    )
    if fault == "bug":
        monkeypatch.setattr(orchestrator, "plan_routes", lambda *a, **k: 1 / 0)
    elif fault == "invalid-request":
        stub.script(None, [Fault.validation()] * 10)
    else:  # a release that cannot read Bedrock's answers: every attempt of every route "malformed"
        stub.script(None, [Fault.malformed_body(b'{"output": {}}')] * 60)
    replies = [call(orchestrator, invoke_event(body=user(SECRET_TICKET)), lambda_context) for _ in range(10)]
    status, answered = {
        "bug": (500, "10 of them answered 500"),
        "invalid-request": (502, "10 answered 502"),
        "unreadable-answers": (503, "10 answered 503/504"),
    }[fault]
    assert {reply.status for reply in replies} == {status}
    documents = _metric_docs(capsys.readouterr().out)
    environment = orchestrator.runtime_config.environment
    start = 1_800_000_000.0

    with offline_production(environment, ["Composite"], region="us-west-2") as production:
        state = bake.begin(
            production.clients,
            environment=environment,
            stack_name=production.stack_name,
            bake_seconds=3600,
            now=start,
        )
        # Lambda's own metrics: 10 invocations of version 2 and 90 of version 1, none of them an error
        production.record_invocations("2", invocations=10, errors=0, at=start + 120)
        production.record_invocations("1", invocations=90, errors=0, at=start + 120)
        assert production.publish_emf(documents, at=start + 120) > 0

        after = bake.check(production.clients, state, now=start + 600)

        # THEN they count against version 2 and roll it back
        assert after.decision is bake.BakeDecision.ROLLED_BACK, after.detail
        assert f"version 2: 10 of 10 invocations failed (100.0%; {answered}" in after.detail
        assert production.live() == {"version": "1", "routing": {}}
