"""Look-alike letters do not carry a blocked word past the guardrail's exact match.

The stub's guardrail flags ``GUARDRAIL_TRIGGER`` by exact substring, as Bedrock's word filters match words
(https://docs.aws.amazon.com/bedrock/latest/userguide/guardrails-word-filters.html). The same trigger in
full-width letters reaches the model unflagged unless the orchestrator has the guardrail look at the
folded text too (``platform_spec.lookalikes``).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from bedrock_platform_devtools.bedrock_stub import GUARDRAIL_TRIGGER, BedrockStub, Fault
from platform_spec.lookalikes import fold
from tests.lambdas.orchestrator_testkit import (
    GUARDRAILS,
    FakeLambdaContext,
    call,
    converse_calls,
    guardrail_arn,
    invoke_event,
    sample_contract,
)

STS_BLOCKED = sample_contract("support-ticket-summary")["guardrail"]["blocked_input_message"]
QA_BLOCKED = sample_contract("policy-qa")["guardrail"]["blocked_input_message"]
#: The trigger in full-width forms: each character U+FF01..U+FF5E is its ASCII one plus 0xFEE0.
FULL_WIDTH_TRIGGER = "".join(chr(ord(c) + 0xFEE0) for c in GUARDRAIL_TRIGGER)
#: The trigger with the Cyrillic "а" (U+0430) for its "a"s: "guardrail" reads the same.
MIXED_SCRIPT_TRIGGER = GUARDRAIL_TRIGGER.replace("a", "\u0430")
#: The trigger underlined letter by letter (U+0332 COMBINING LOW LINE after each), as text "stylers" do.
UNDERLINED_TRIGGER = "".join(c + "\u0332" if c.isalnum() else c for c in GUARDRAIL_TRIGGER)
CONTEXT = "Leave Policy 3.1: full-time staff get 25 days of paid leave; part-time staff pro rata."


def apply_guardrail_calls(stub: BedrockStub) -> list[Any]:
    return [c for c in stub.calls if c.operation == "ApplyGuardrail"]


def one_message(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


def test_the_imitations_are_not_the_trigger_but_fold_to_it() -> None:
    for imitation in (FULL_WIDTH_TRIGGER, MIXED_SCRIPT_TRIGGER, UNDERLINED_TRIGGER):
        assert GUARDRAIL_TRIGGER not in imitation
        assert fold(imitation) == GUARDRAIL_TRIGGER


@pytest.mark.parametrize(
    "imitation",
    [FULL_WIDTH_TRIGGER, MIXED_SCRIPT_TRIGGER, UNDERLINED_TRIGGER],
    ids=["full-width", "cyrillic", "underlined"],
)
def test_a_blocked_word_in_look_alike_letters_is_blocked_before_the_model(
    orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub, imitation: str
) -> None:
    # GIVEN a use case that takes no history (no guardrail call but Converse's before this change)
    text = f"Ticket 4411: printer offline. {imitation}"

    reply = call(orchestrator, invoke_event("support-ticket-summary", one_message(text)), lambda_context)

    # THEN the guardrail saw the folded text (ApplyGuardrail, source INPUT) and blocked it: no model call
    assert reply.status == 200, reply.body
    assert reply.body["guardrail"] == {"action": "INTERVENED"}
    assert reply.body["output"]["text"] == STS_BLOCKED
    assert (reply.body["route"], reply.body["attempts"]) == (None, 0)
    assert converse_calls(stub) == []
    [check] = apply_guardrail_calls(stub)
    assert check.target == guardrail_arn(GUARDRAILS["support-ticket-summary"])
    assert check.body == {
        "source": "INPUT",
        "content": [{"text": {"text": f"Ticket 4411: printer offline. {GUARDRAIL_TRIGGER}"}}],
    }


def test_a_request_with_look_alike_letters_that_pass_is_answered_from_the_callers_own_text(
    orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    text = "Ｗｉ－Ｆｉ is down on floor 3 since 9:00."

    reply = call(orchestrator, invoke_event("support-ticket-summary", one_message(text)), lambda_context)

    assert reply.status == 200, reply.body
    assert reply.body["guardrail"] == {"action": "NONE"}
    assert reply.body["attempts"] == 1
    [check] = apply_guardrail_calls(stub)
    assert check.body["content"] == [{"text": {"text": "Wi-Fi is down on floor 3 since 9:00."}}]
    # the model gets the caller's text as sent: nothing is rewritten
    [converse] = converse_calls(stub)
    assert converse.body["messages"][0]["content"] == [{"guardContent": {"text": {"text": text}}}]


@pytest.mark.parametrize(
    ("text", "checks"),
    [
        ("The VPN client fails with error 809 since this morning.", 0),
        ("プリンターが三階で使えません。", 0),
        ("Принтер на третьем этаже не печатает.", 0),
        ("The room is 20 m² and the desk 1½ m wide…", 0),
        # full-width digits are ordinary in Japanese; they fold to digits a number pattern could match
        ("プリンターが３階で使えません。", 1),
    ],
    ids=["ascii", "japanese", "russian", "notation", "full-width-digit"],
)
def test_ordinary_text_costs_no_extra_guardrail_call(
    orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub, text: str, checks: int
) -> None:
    reply = call(orchestrator, invoke_event("support-ticket-summary", one_message(text)), lambda_context)

    assert reply.status == 200, reply.body
    assert reply.body["guardrail"] == {"action": "NONE"}
    assert len(apply_guardrail_calls(stub)) == checks


def test_the_history_check_also_looks_at_folded_turns(
    orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    # GIVEN policy-qa (guards caller history) with the imitation in an earlier user turn
    messages = [
        {"role": "user", "content": f"How many days of leave? {FULL_WIDTH_TRIGGER}"},
        {"role": "assistant", "content": "Full-time staff get 25 days."},
        {"role": "user", "content": "And part time?"},
    ]

    reply = call(
        orchestrator, invoke_event("policy-qa", {"messages": messages, "context": CONTEXT}), lambda_context
    )

    # THEN one check: the assistant turn as sent, then the folded user turn; it blocks
    assert reply.body["output"]["text"] == QA_BLOCKED
    assert converse_calls(stub) == []
    [check] = apply_guardrail_calls(stub)
    assert check.body["content"] == [
        {"text": {"text": "Full-time staff get 25 days."}},
        {"text": {"text": f"How many days of leave? {GUARDRAIL_TRIGGER}"}},
    ]


def test_a_grounding_source_is_not_checked_as_input(
    orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    # GIVEN a grounded use case whose context (policy text, the grounding source) has full-width letters
    context = "Ｐｏｌｉｃｙ 3.1: full-time staff get 25 days of paid leave."
    body = {"messages": [{"role": "user", "content": "How many days of leave?"}], "context": context}

    reply = call(orchestrator, invoke_event("policy-qa", body), lambda_context)

    # THEN no input check: Converse screens it as the grounding source, as it does plain-letter context
    # (checking a policy document as input would let its imperative wording trip the prompt-attack filter)
    assert reply.status == 200, reply.body
    assert apply_guardrail_calls(stub) == []


def test_an_ungrounded_context_is_checked_folded(
    orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    body = {
        "messages": [{"role": "user", "content": "Summarise."}],
        "context": f"Ticket: {FULL_WIDTH_TRIGGER}",
    }

    reply = call(orchestrator, invoke_event("support-ticket-summary", body), lambda_context)

    assert reply.body["output"]["text"] == STS_BLOCKED
    assert converse_calls(stub) == []
    [check] = apply_guardrail_calls(stub)
    assert check.body["content"] == [{"text": {"text": f"Ticket: {GUARDRAIL_TRIGGER}"}}]


def test_a_failing_look_alike_check_fails_closed(
    orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    stub.script(GUARDRAILS["support-ticket-summary"], [Fault.service_unavailable()] * 3)

    reply = call(
        orchestrator,
        invoke_event("support-ticket-summary", one_message(f"Hi {FULL_WIDTH_TRIGGER}")),
        lambda_context,
    )

    assert reply.status == 503
    assert converse_calls(stub) == []
