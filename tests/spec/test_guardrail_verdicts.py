"""ApplyGuardrail's answer read once (``platform_spec.guardrail.read_apply_guardrail``): the reviewer API's
correction check and the orchestrator's caller-history check depend on telling a pass, a mask and a
block apart, and on failing closed when the answer does not say."""

from __future__ import annotations

from typing import Any

import pytest

from platform_spec.guardrail import GuardrailReading, Verdict, fired_policies, masks, read_apply_guardrail


def _pii(action: str, kind: str = "EMAIL") -> dict[str, Any]:
    return {"sensitiveInformationPolicy": {"piiEntities": [{"type": kind, "match": "x", "action": action}]}}


def _response(
    action: str, assessments: list[dict[str, Any]], outputs: list[str] | None = None
) -> dict[str, Any]:
    return {
        "action": action,
        "assessments": assessments,
        "outputs": [{"text": t} for t in outputs or []],
    }


def test_a_pass_keeps_the_text() -> None:
    assert read_apply_guardrail(_response("NONE", [{}])) == GuardrailReading(Verdict.NONE, None, ())


def test_a_mask_alone_gives_the_masked_text_of_the_first_output() -> None:
    reading = read_apply_guardrail(
        _response("GUARDRAIL_INTERVENED", [_pii("ANONYMIZED")], ["write to {EMAIL}", "the source"])
    )
    assert reading == GuardrailReading(Verdict.MASKED, "write to {EMAIL}", ("pii:EMAIL",))


@pytest.mark.parametrize(
    "assessments",
    [
        [_pii("ANONYMIZED"), _pii("BLOCKED", "PHONE")],  # a mask and a block: the block wins
        [{"topicPolicy": {"topics": [{"name": "Pricing", "type": "DENY", "action": "BLOCKED"}]}}],
        [{}],  # intervened, but no finding says how: fail closed
        [],
    ],
    ids=["mask-and-block", "topic", "no-findings", "no-assessments"],
)
def test_every_other_intervention_is_a_block(assessments: list[dict[str, Any]]) -> None:
    reading = read_apply_guardrail(_response("GUARDRAIL_INTERVENED", assessments, ["blocked message"]))
    assert reading.verdict is Verdict.BLOCKED and reading.text is None


@pytest.mark.parametrize(
    "response",
    [
        {"action": "BLOCKED"},
        {},
        None,
        _response("GUARDRAIL_INTERVENED", [_pii("ANONYMIZED")], []),  # a mask without its text
    ],
    ids=["unknown-action", "no-action", "not-a-mapping", "mask-without-outputs"],
)
def test_an_answer_that_is_not_one_is_an_error(response: Any) -> None:
    with pytest.raises(ValueError, match="ApplyGuardrail"):
        read_apply_guardrail(response)


def test_what_fired_is_named_once_each_in_order() -> None:
    assessments = [
        {
            "topicPolicy": {"topics": [{"name": "Pricing commitments", "action": "BLOCKED"}]},
            "sensitiveInformationPolicy": {
                "piiEntities": [{"type": "EMAIL", "action": "ANONYMIZED"}],
                "regexes": [{"name": "contract-number", "action": "BLOCKED"}],
            },
            "wordPolicy": {
                "customWords": [{"match": "guaranteed uptime", "action": "BLOCKED"}],
                "managedWordLists": [{"type": "PROFANITY", "action": "BLOCKED"}],
            },
            "contentPolicy": {"filters": [{"type": "HATE", "action": "BLOCKED"}]},
            "contextualGroundingPolicy": {
                "filters": [
                    {"type": "GROUNDING", "action": "BLOCKED"},
                    {"type": "RELEVANCE", "action": "NONE"},  # scored, did not act
                ]
            },
        },
        _pii("ANONYMIZED"),  # the same finding again
    ]
    assert fired_policies(assessments) == (
        "topic:Pricing commitments",
        "pii:EMAIL",
        "regex:contract-number",
        "word:guaranteed uptime",
        "word:PROFANITY",
        "content:HATE",
        "grounding:GROUNDING",
    )
    assert fired_policies(None) == ()


ORIGINAL = "Jane Doe wrote to jane@example.com today."


@pytest.mark.parametrize(
    ("masked", "is_mask"),
    [
        ("Jane Doe wrote to {EMAIL} today.", True),
        ("Jane Doe wrote to [EMAIL-1] today.", True),  # identifier tags, as aws-cdk's bedrock-alpha puts it
        ("{NAME} wrote to {EMAIL} today.", True),
        ("Jane Doe wrote to {EMAIL}", True),  # the mask reaches the end
        ("Jane Doe wrote to jane@example.com today.", False),  # nothing masked
        ("The policy excerpt the caller sent, {NAME}.", False),  # another block's text
        ("today. Jane Doe wrote to {EMAIL}", False),  # out of order
        ("Jane Doe wrote to {EMAIL} tomorrow.", False),  # changed outside the mask
    ],
)
def test_a_mask_is_the_guarded_text_with_spans_replaced(masked: str, is_mask: bool) -> None:
    assert masks(ORIGINAL, masked) is is_mask


def test_with_the_guarded_text_the_mask_is_found_wherever_it_is_in_the_outputs() -> None:
    guarded = "Contact jane@example.com for the draft."
    response = _response(
        "GUARDRAIL_INTERVENED",
        [_pii("ANONYMIZED")],
        ["The grounding source, {NAME} named in it.", "Contact {EMAIL} for the draft.", "the question"],
    )
    assert read_apply_guardrail(response, guarded=guarded).text == "Contact {EMAIL} for the draft."
    # no output is the guarded text masked (only another block's): never stored in its place
    only_source = _response("GUARDRAIL_INTERVENED", [_pii("ANONYMIZED")], ["The grounding source, {NAME}."])
    with pytest.raises(ValueError, match="no output is the guarded text masked"):
        read_apply_guardrail(only_source, guarded=guarded)
