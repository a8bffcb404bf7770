"""Every piece of caller-controlled text is guarded, or refused: user turns, the context, assistant turns.

The stub's guardrail flags ``GUARDRAIL_TRIGGER`` the way Bedrock's guardrail sees a request (only the
``guardContent`` blocks of a Converse request once it has any; all of ApplyGuardrail's content), so a
trigger that reaches Bedrock outside what the guardrail evaluates is *not* flagged. Sample use cases:
``policy-qa`` guards caller history (``conversation.caller_history: guard``), ``support-ticket-summary``
refuses it (the default).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import boto3
import pytest

from bedrock_platform_devtools.bedrock_stub import GUARDRAIL_TRIGGER, BedrockStub, Fault
from lambdas.orchestrator.bedrock import CachePlan, build_converse_request
from lambdas.orchestrator.validation import InvokeRequest, Message
from platform_spec.fields import from_dict
from platform_spec.runtime import RuntimeConfig
from tests.lambdas.orchestrator_testkit import (
    GUARDRAILS,
    PROFILES,
    FakeLambdaContext,
    arn,
    call,
    converse_calls,
    guardrail_arn,
    invoke_event,
    sample_contract,
    sample_runtime_config,
)

QA = PROFILES["policy-qa"]
QA_BLOCKED = sample_contract("policy-qa")["guardrail"]["blocked_input_message"]
STS_BLOCKED = sample_contract("support-ticket-summary")["guardrail"]["blocked_input_message"]
CONTEXT = "Leave Policy 3.1: full-time staff get 25 days of paid leave; part-time staff pro rata."
TURNS = [
    ("user", "How many days of paid leave do I get?"),
    ("assistant", "Full-time staff get 25 days of paid leave."),
    ("user", "And if I work part time?"),
    ("assistant", "Part-time staff get leave pro rata."),
    ("user", "What is pro rata for three days a week?"),
]
#: Every caller-controlled field of a policy-qa request: each message's content, and the context.
QA_FIELDS = [f"messages[{i}].content" for i in range(len(TURNS))] + ["context"]
ASSISTANT_FIELDS = {f"messages[{i}].content" for i, (role, _) in enumerate(TURNS) if role == "assistant"}


def qa_body(trigger_in: str | None = None) -> dict[str, Any]:
    """A multi-turn policy-qa request; ``trigger_in`` names the one field that carries the trigger."""
    messages = [
        {
            "role": role,
            "content": text + (f" {GUARDRAIL_TRIGGER}" if trigger_in == f"messages[{i}].content" else ""),
        }
        for i, (role, text) in enumerate(TURNS)
    ]
    context = CONTEXT + (f" {GUARDRAIL_TRIGGER}" if trigger_in == "context" else "")
    return {"messages": messages, "context": context}


def apply_guardrail_calls(stub: BedrockStub) -> list[Any]:
    return [c for c in stub.calls if c.operation == "ApplyGuardrail"]


def test_history_is_checked_by_the_guardrail_before_the_model(
    orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    reply = call(orchestrator, invoke_event("policy-qa", qa_body()), lambda_context)

    # THEN one ApplyGuardrail call (source INPUT) with every assistant turn, then the model
    assert reply.status == 200, reply.body
    assert reply.body["guardrail"] == {"action": "NONE"}
    assert reply.body["attempts"] == 1  # Converse calls; the history check is not one
    [check] = apply_guardrail_calls(stub)
    assert (check.target, check.guardrail_version) == (guardrail_arn(GUARDRAILS["policy-qa"]), "3")
    assert check.body == {
        "source": "INPUT",
        "content": [{"text": {"text": TURNS[1][1]}}, {"text": {"text": TURNS[3][1]}}],
    }
    [converse] = converse_calls(stub)
    assert stub.calls.index(check) < stub.calls.index(converse)
    # user turns and the context inside guardContent (grounding source + query on the last turn)
    sent = converse.body["messages"]
    assert [m["role"] for m in sent] == [role for role, _ in TURNS]
    assert sent[0]["content"] == [{"guardContent": {"text": {"text": TURNS[0][1]}}}]
    assert sent[1]["content"] == [{"text": TURNS[1][1]}]
    assert sent[4]["content"] == [
        {"guardContent": {"text": {"text": CONTEXT, "qualifiers": ["grounding_source"]}}},
        {"guardContent": {"text": {"text": TURNS[4][1], "qualifiers": ["query"]}}},
    ]


@pytest.mark.parametrize("field", QA_FIELDS)
def test_a_trigger_in_any_caller_field_is_intervened(
    orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub, field: str
) -> None:
    # GIVEN a guardrail trigger in exactly one caller-controlled field of a multi-turn request
    reply = call(orchestrator, invoke_event("policy-qa", qa_body(trigger_in=field)), lambda_context)

    # THEN the guardrail intervened: the caller gets the blocked-input message, not a model answer
    assert reply.status == 200, reply.body
    assert reply.body["guardrail"] == {"action": "INTERVENED"}
    assert reply.body["output"]["text"] == QA_BLOCKED
    # and the text was flagged by whichever check saw it
    flagged = [texts for _, texts, hit in stub.guardrail_evaluations if hit]
    assert len(flagged) == 1
    assert any(GUARDRAIL_TRIGGER in text for text in flagged[0])
    if field in ASSISTANT_FIELDS:
        assert converse_calls(stub) == []  # caught by the history check, before any model call
        assert reply.body["route"] is None
        assert reply.body["attempts"] == 0


def test_without_the_history_check_converse_would_not_see_an_assistant_turn(stub: BedrockStub) -> None:
    """Why the check exists: the Converse request alone lets a trigger in an assistant turn through."""
    use_case = from_dict(RuntimeConfig, sample_runtime_config()).use_cases["policy-qa"]
    body = qa_body(trigger_in="messages[1].content")
    request = InvokeRequest(
        messages=tuple(Message(m["role"], m["content"]) for m in body["messages"]),
        context=body["context"],
        input_chars=0,
    )
    arguments = build_converse_request(
        use_case=use_case,
        cache=CachePlan(),
        profile_arn=arn(QA["primary"]),
        guardrail_id=guardrail_arn(GUARDRAILS["policy-qa"]),
        guardrail_version="3",
        request=request,
    )
    client = boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=stub.endpoint_url)

    response = client.converse(**arguments)

    assert response["stopReason"] == "end_turn"  # not intervened: the guardrail never saw that turn


@pytest.mark.parametrize("field", ["messages[0].content", "context"])
def test_a_trigger_in_a_single_turn_request_is_intervened(
    orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub, field: str
) -> None:
    # support-ticket-summary refuses history: its caller fields are the one user turn and the context
    text = "Customer says the invoice PDF is blank."
    body = {
        "messages": [
            {"role": "user", "content": text + (f" {GUARDRAIL_TRIGGER}" if field != "context" else "")}
        ],
        "context": "CRM: account in good standing." + (f" {GUARDRAIL_TRIGGER}" if field == "context" else ""),
    }

    reply = call(orchestrator, invoke_event(body=body), lambda_context)

    assert reply.status == 200, reply.body
    assert reply.body["guardrail"] == {"action": "INTERVENED"}
    assert reply.body["output"]["text"] == STS_BLOCKED
    assert apply_guardrail_calls(stub) == []


@pytest.mark.parametrize("index", [1, 3])
def test_a_use_case_that_refuses_history_refuses_any_assistant_turn(
    orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub, index: int
) -> None:
    turns = [("user", "Ticket text."), ("assistant", "Summary."), ("user", "Shorter.")]
    turns += [("assistant", "Short."), ("user", "Even shorter.")]
    body = {"messages": [{"role": r, "content": t} for r, t in turns[: index + 2]]}

    reply = call(orchestrator, invoke_event(body=body), lambda_context)

    assert reply.status == 400
    assert reply.body["error"]["code"] == "CALLER_HISTORY_REFUSED"
    assert reply.body["error"]["field"] == "messages[1].role"  # the first assistant turn
    assert stub.calls == []


def test_a_failing_history_check_fails_closed(
    orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    # GIVEN the guardrail cannot be applied (every attempt 503)
    stub.script(GUARDRAILS["policy-qa"], [Fault.service_unavailable()] * 3)

    reply = call(orchestrator, invoke_event("policy-qa", qa_body()), lambda_context)

    # THEN no model call with unchecked history: 503 with Retry-After
    assert reply.status == 503
    assert reply.body["error"]["code"] == "UPSTREAM_UNAVAILABLE"
    assert reply.headers["Retry-After"] == "1"
    assert converse_calls(stub) == []
    assert len(apply_guardrail_calls(stub)) == 3


def test_a_history_check_the_function_may_not_run_is_not_retryable(
    orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    # GIVEN the function may not apply the guardrail (its grant or the guardrail version is missing)
    stub.script(GUARDRAILS["policy-qa"], [Fault.access_denied()])

    reply = call(orchestrator, invoke_event("policy-qa", qa_body()), lambda_context)

    # THEN no model call, one guardrail call (not retried), and a 500 that does not ask for a retry
    assert reply.status == 500
    assert reply.body["error"]["code"] == "UPSTREAM_NOT_PERMITTED"
    assert "Retry-After" not in reply.headers
    assert converse_calls(stub) == []
    assert len(apply_guardrail_calls(stub)) == 1


def test_a_transient_history_check_error_is_retried(
    orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    stub.script(GUARDRAILS["policy-qa"], [Fault.throttling()])

    reply = call(orchestrator, invoke_event("policy-qa", qa_body()), lambda_context)

    assert reply.status == 200
    assert reply.body["attempts"] == 1
    assert len(apply_guardrail_calls(stub)) == 2


def test_a_single_turn_request_makes_no_history_check(
    orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    body = {"messages": [{"role": "user", "content": TURNS[0][1]}], "context": CONTEXT}

    reply = call(orchestrator, invoke_event("policy-qa", body), lambda_context)

    assert reply.status == 200
    assert apply_guardrail_calls(stub) == []
