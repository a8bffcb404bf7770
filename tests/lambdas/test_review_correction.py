"""A reviewer's correction goes through the use case's guardrail before it is stored or released.

The real orchestrator and reviewer API with real botocore against moto (DynamoDB, SQS) and the local
Bedrock endpoint, whose ApplyGuardrail applies each contract's guardrail (the emulator) unless a test
scripts a fault. What the emulator cannot prove: that Bedrock's own detectors mask and block the same
texts (README "Human review", what offline tests cannot prove).

GIVEN a held answer pending review, WHEN a reviewer corrects it, THEN the caller receives only text the
guardrail let through: as written, masked, or nothing (the item stays pending) when the guardrail blocks
the correction or cannot be asked."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import Any

import pytest

from bedrock_platform_devtools.bedrock_stub import Fault
from bedrock_platform_devtools.samples import CALLER_ARN, REVIEWER_ARN
from human_review.exercise import DECISION, HELD, ITEM, PENDING, request_body
from human_review.offline import REVIEW_API, OfflinePlatform, Reply
from platform_config import PlatformConfig
from platform_spec.contract import ReviewPolicy
from platform_spec.review import REVIEW_API_TIMEOUT_S, ReviewEnv, parse_iso, plain

HELD_UC = "rfp-drafting"  # holds every answer; EMAIL ANONYMIZE, a contract-number regex BLOCK
GROUNDED_UC = "policy-qa"  # contextual grounding 0.8


def _reviewer(platform: OfflinePlatform, method: str, resource: str, path: Any = None, **kw: Any) -> Reply:
    return platform.review_api(method, resource, path, user_arn=REVIEWER_ARN, **kw)


def _held(platform: OfflinePlatform, config: PlatformConfig, use_case: str = HELD_UC) -> str:
    answered = platform.invoke(use_case, request_body(config, use_case))
    assert answered.status == 202, answered.body
    return str(answered.body["reviewId"])


def _correct(platform: OfflinePlatform, review_id: str, text: str) -> Reply:
    body = {"decision": "correct", "reason": "Rewrote the draft.", "correctedText": text}
    return _reviewer(platform, "POST", DECISION, {"reviewId": review_id}, body=body)


def _released(platform: OfflinePlatform, review_id: str, use_case: str = HELD_UC) -> Reply:
    path = {"useCaseId": use_case, "reviewId": review_id}
    return platform.review_api("GET", HELD, path, user_arn=CALLER_ARN)


def _guardrail_calls(platform: OfflinePlatform) -> list[Any]:
    return [c for c in platform.stub.calls if c.operation == "ApplyGuardrail"]


def _audit(platform: OfflinePlatform) -> list[dict[str, Any]]:
    dynamodb = platform.client("dynamodb")
    return [plain(i) for i in dynamodb.scan(TableName=platform.resources.audit_table)["Items"]]


def _still_pending(platform: OfflinePlatform, review_id: str, use_case: str = HELD_UC) -> None:
    """Nothing was stored: the item is pending and listed, no decision audited, the caller still waits."""
    item = _reviewer(platform, "GET", ITEM, {"reviewId": review_id}).body
    assert item["status"] == "pending" and item["decision"] is None
    listed = _reviewer(platform, "GET", PENDING, query={"useCase": use_case}).body["items"]
    assert review_id in [entry["reviewId"] for entry in listed]
    assert not [r for r in _audit(platform) if r.get("decision")]
    assert _released(platform, review_id, use_case).status == 202


def test_a_correction_the_guardrail_passes_is_released_as_written(
    config: PlatformConfig, platform: OfflinePlatform
) -> None:
    review_id = _held(platform, config)
    decided = _correct(platform, review_id, "Our platform encrypts all data at rest with customer keys.")
    assert decided.status == 200 and decided.body["guardrail"] == {"action": "NONE"}
    # the correction went to the use case's guardrail at its deployed version, as model output
    (call,) = _guardrail_calls(platform)
    deployed = json.loads(os.environ[ReviewEnv.GUARDRAILS])[HELD_UC]
    assert (call.target, call.guardrail_version) == (deployed["arn"], deployed["version"])
    assert call.body["source"] == "OUTPUT"
    assert call.body["content"] == [
        {"text": {"text": "Our platform encrypts all data at rest with customer keys."}}
    ]
    released = _released(platform, review_id)
    assert released.body["output"]["text"] == "Our platform encrypts all data at rest with customer keys."
    assert released.body["guardrail"] == {"action": "NONE"} and released.body["corrected"] is True


def test_a_correction_the_guardrail_masks_is_stored_and_released_masked_only(
    config: PlatformConfig, platform: OfflinePlatform
) -> None:
    review_id = _held(platform, config)
    written = "For questions write to jane.doe@example.com; the library covers encryption at rest."
    decided = _correct(platform, review_id, written)
    assert decided.status == 200 and decided.body["guardrail"] == {"action": "MASKED"}
    masked = decided.body["correctedText"]
    assert "jane.doe@example.com" not in masked and "covers encryption at rest" in masked
    released = _released(platform, review_id)
    assert released.body["output"]["text"] == masked and released.body["guardrail"] == {"action": "MASKED"}
    # what the guardrail masked is nowhere: not in the item, not in the audit record
    stored = json.dumps(
        [
            plain(i)
            for i in platform.client("dynamodb").scan(TableName=platform.resources.review_table)["Items"]
        ]
    )
    assert "jane.doe@example.com" not in stored and "jane.doe@example.com" not in json.dumps(_audit(platform))
    (record,) = [r for r in _audit(platform) if r.get("decision") == "correct"]
    assert record["correctedText"] == masked and record["guardrail"] == "MASKED"


@pytest.mark.parametrize(
    ("text", "fired"),
    [
        ("Per contract CN-AB-123456 we already serve this customer.", "regex:customer-contract-number"),
        ("We offer guaranteed uptime for every tier.", "word:guaranteed uptime"),
    ],
)
def test_a_correction_the_guardrail_blocks_is_refused_and_the_item_stays_pending(
    config: PlatformConfig, platform: OfflinePlatform, text: str, fired: str
) -> None:
    review_id = _held(platform, config)
    refused = _correct(platform, review_id, text)
    assert refused.status == 422 and refused.body["error"]["code"] == "CORRECTION_BLOCKED"
    assert fired in refused.body["error"]["message"] and refused.body["error"]["field"] == "correctedText"
    assert text not in json.dumps(refused.body)  # the refusal names the policy, not the text
    _still_pending(platform, review_id)
    # the attempt is audited: who, what fired, the item's prompt and guardrail version; never the text
    (attempt,) = [r for r in _audit(platform) if r["kind"] == "correction-refused"]
    assert attempt["subject"] == review_id and attempt["event"].startswith("correction-refused#")
    assert attempt["actor"] == REVIEWER_ARN and fired in attempt["fired"]
    assert text not in json.dumps(attempt)
    # and shown in the item's audit trail, beside the decision that follows
    trail = _reviewer(platform, "GET", ITEM, {"reviewId": review_id}).body["audit"]
    assert [r["kind"] for r in trail] == ["correction-refused"]
    # the reviewer rewrites it, and that one is released
    assert _correct(platform, review_id, "We serve comparable customers today.").status == 200
    assert _released(platform, review_id).body["output"]["text"] == "We serve comparable customers today."


def _full_width(text: str) -> str:
    """``text`` with every visible ASCII character in its full-width form (U+FF01..U+FF5E)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@pytest.mark.parametrize(
    ("text", "fired"),
    [
        (f"We offer {_full_width('guaranteed uptime')} for every tier.", "word:guaranteed uptime"),
        ("We offer gu\u0430r\u0430nteed uptime for every tier.", "word:guaranteed uptime"),
        (f"Per contract CN-AB-{_full_width('123456')} we already serve this customer.", "regex:"),
        # an e-mail address the guardrail masks (ANONYMIZE) in the folded copy only: the text released is the
        # one written, which that mask does not touch, so a mask blocks when a folded copy was checked
        (f"For questions write to {_full_width('jane.doe@example.com')} any time.", "pii:EMAIL"),
    ],
    ids=["full-width-word", "cyrillic-word", "full-width-digits", "full-width-email"],
)
def test_a_correction_in_look_alike_letters_is_blocked_as_the_caller_reads_it(
    config: PlatformConfig, platform: OfflinePlatform, text: str, fired: str
) -> None:
    # GIVEN a correction that a reader (and the caller's customer) reads as a blocked word or a contract number,
    # written in letters the guardrail's exact match does not see (as callers' text once reached the model)
    review_id = _held(platform, config)

    refused = _correct(platform, review_id, text)

    # THEN it is refused as the same text in plain letters is, and nothing is released
    assert refused.status == 422, refused.body
    assert refused.body["error"]["code"] == "CORRECTION_BLOCKED" and fired in refused.body["error"]["message"]
    _still_pending(platform, review_id)


def test_a_correction_in_look_alike_letters_that_passes_is_released_as_written(
    config: PlatformConfig, platform: OfflinePlatform
) -> None:
    # full-width letters are ordinary in Japanese text: passed, the reviewer's text is stored as written
    review_id = _held(platform, config)
    written = f"Our {_full_width('Wi-Fi')} product line covers encryption at rest."
    decided = _correct(platform, review_id, written)
    assert decided.status == 200, decided.body
    assert decided.body["correctedText"] == written and decided.body["guardrail"] == {"action": "NONE"}
    assert _released(platform, review_id).body["output"]["text"] == written


def test_two_refused_corrections_at_the_same_instant_are_both_audited(
    config: PlatformConfig, platform: OfflinePlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN two attempts the guardrail blocks, made within one millisecond (two reviewers, or a double click)
    review_id = _held(platform, config)
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.0)
    for _ in range(2):
        refused = _correct(platform, review_id, "Per contract CN-AB-123456 we already serve this customer.")
        assert refused.status == 422, refused.body

    # THEN each is an audit record of its own (the sort key names the request, not only the time)
    attempts = [r for r in _audit(platform) if r["kind"] == "correction-refused"]
    assert len(attempts) == 2
    assert len({r["event"] for r in attempts}) == 2


def test_a_grounded_use_cases_correction_is_checked_against_the_requests_context(
    config: PlatformConfig,
) -> None:
    def everything_to_people(document: dict[str, Any]) -> None:
        document["use_cases"][GROUNDED_UC]["contract"]["review"].update(
            {"mode": "all", "hold_for_review": True}
        )

    with OfflinePlatform(config, "dev", mutate=everything_to_people) as platform:
        body = request_body(config, GROUNDED_UC)
        assert body.get("context"), "the golden case carries the policy excerpt the answer is grounded in"
        review_id = _held(platform, config, GROUNDED_UC)
        unsupported = "Employees receive a company car and forty days of paid sabbatical every year."
        refused = _correct(platform, review_id, unsupported)
        assert refused.status == 422 and "grounding:GROUNDING" in refused.body["error"]["message"]
        _still_pending(platform, review_id, GROUNDED_UC)
        # the request's context and question went with the correction, qualified for the grounding check
        call = _guardrail_calls(platform)[-1]
        assert [b["text"].get("qualifiers") for b in call.body["content"]] == [
            ["guard_content"],
            ["grounding_source"],
            ["query"],
        ]
        assert call.body["content"][1]["text"]["text"] == body["context"]
        assert call.body["content"][2]["text"]["text"] == body["messages"][-1]["content"]
        # a correction the context supports passes
        supported = body["context"].split(".")[0].strip() + "."
        assert _correct(platform, review_id, supported).status == 200


def test_a_grounded_items_correction_without_its_context_is_refused_not_checked_ungrounded(
    config: PlatformConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a policy-qa answer sent to people (not held) whose review message lost the request's context on
    # the way (too large for the queue: here the orchestrator's message limit is lowered to just below the
    # full message); a held answer is stored whole or refused (503), never without its context
    from platform_spec.review import ReviewMessage

    fitted = ReviewMessage.fitted

    def without_room_for_the_context(message: ReviewMessage, limit: int = 0) -> ReviewMessage:
        del limit
        return fitted(message, limit=len(message.to_json().encode()) - 1)

    monkeypatch.setattr(ReviewMessage, "fitted", without_room_for_the_context)

    def everything_to_people(document: dict[str, Any]) -> None:
        document["use_cases"][GROUNDED_UC]["contract"]["review"].update({"mode": "all"})

    with OfflinePlatform(config, "dev", mutate=everything_to_people) as platform:
        assert platform.invoke(GROUNDED_UC, request_body(config, GROUNDED_UC)).status == 200
        platform.drain()
        listed = _reviewer(platform, "GET", PENDING, query={"useCase": GROUNDED_UC}).body["items"]
        review_id = str(listed[0]["reviewId"])
        item = _reviewer(platform, "GET", ITEM, {"reviewId": review_id}).body
        assert item["text"]["input"]["context"] is None and "context was too large" in item["text"]["note"]
        calls_before = len(_guardrail_calls(platform))

        # WHEN a reviewer corrects it THEN the correction is refused, not checked without the grounding
        refused = _correct(platform, review_id, "Employees receive a company car every year.")
        assert refused.status == 422 and refused.body["error"]["code"] == "CORRECTION_NOT_CHECKABLE"
        assert "grounding check" in refused.body["error"]["message"]
        assert len(_guardrail_calls(platform)) == calls_before
        item = _reviewer(platform, "GET", ITEM, {"reviewId": review_id}).body
        assert item["status"] == "pending" and item["decision"] is None
        assert not [r for r in _audit(platform) if r.get("decision")]
        # approving or rejecting it stays possible
        body = {"decision": "reject", "reason": "Context lost; the caller must ask again."}
        assert _reviewer(platform, "POST", DECISION, {"reviewId": review_id}, body=body).status == 200


@pytest.mark.parametrize(
    "fault",
    [Fault.service_unavailable(), Fault.throttling(), Fault.internal_server()],
    ids=["unavailable", "throttled", "internal-error"],
)
def test_a_guardrail_that_fails_fails_the_correction_closed_without_a_retry(
    config: PlatformConfig, platform: OfflinePlatform, fault: Fault
) -> None:
    review_id = _held(platform, config)
    platform.stub.script(None, [fault])
    refused = _correct(platform, review_id, "A perfectly fine correction.")
    assert refused.status == 503 and refused.body["error"]["code"] == "GUARDRAIL_UNAVAILABLE"
    assert refused.headers["Retry-After"] == "2"
    assert len(_guardrail_calls(platform)) == 1  # one attempt: the reviewer retries, not the function
    _still_pending(platform, review_id)
    # once the guardrail answers again, the same correction goes through
    assert _correct(platform, review_id, "A perfectly fine correction.").status == 200


def test_a_correction_bedrock_refuses_to_check_is_not_retryable(
    config: PlatformConfig, platform: OfflinePlatform
) -> None:
    review_id = _held(platform, config)
    platform.stub.script(None, [Fault.validation("Input text exceeds the guardrail's limit.")])
    refused = _correct(platform, review_id, "A perfectly fine correction.")
    # a retry would fail the same way: 422 with the fix, not 503 with Retry-After
    assert refused.status == 422 and refused.body["error"]["code"] == "CORRECTION_NOT_CHECKABLE"
    assert "shorten correctedText" in refused.body["error"]["message"]
    assert "Retry-After" not in refused.headers
    _still_pending(platform, review_id)


@pytest.mark.parametrize(
    "fault", [Fault.access_denied(), Fault.resource_not_found()], ids=["access-denied", "not-found"]
)
def test_a_guardrail_that_refuses_the_function_is_not_offered_as_retryable(
    config: PlatformConfig, platform: OfflinePlatform, fault: Fault
) -> None:
    review_id = _held(platform, config)
    platform.stub.script(None, [fault])
    refused = _correct(platform, review_id, "A perfectly fine correction.")
    # a missing grant or guardrail version fails every retry: 500 naming it, no Retry-After to wait out
    assert refused.status == 500 and refused.body["error"]["code"] == "GUARDRAIL_NOT_PERMITTED", refused.body
    assert "Retry-After" not in refused.headers
    assert "Retrying will not help" in refused.body["error"]["message"]
    _still_pending(platform, review_id)


def test_a_hung_guardrail_is_cut_to_the_time_the_decision_can_spare(
    config: PlatformConfig, platform: OfflinePlatform
) -> None:
    review_id = _held(platform, config)
    # 14.6 s left: 1 s to connect and the decision's write at its worst (12 s) and 0.5 s to answer leave
    # 1.1 s to read, shorter than the hang
    platform.timeouts_ms[REVIEW_API] = 14_600
    platform.stub.script(None, [Fault.hang(4)])
    refused = _correct(platform, review_id, "A perfectly fine correction.")
    assert refused.status == 503 and refused.body["error"]["code"] == "GUARDRAIL_UNAVAILABLE"
    assert len(_guardrail_calls(platform)) == 1
    _still_pending(platform, review_id)


def test_with_too_little_time_left_the_guardrail_is_not_called(
    config: PlatformConfig, platform: OfflinePlatform
) -> None:
    review_id = _held(platform, config)
    platform.timeouts_ms[REVIEW_API] = 13_000  # under connect + the write at its worst + margin + 0.5 s
    refused = _correct(platform, review_id, "A perfectly fine correction.")
    assert refused.status == 503 and refused.body["error"]["code"] == "GUARDRAIL_UNAVAILABLE"
    assert _guardrail_calls(platform) == []
    platform.timeouts_ms[REVIEW_API] = REVIEW_API_TIMEOUT_S * 1000
    assert _correct(platform, review_id, "A perfectly fine correction.").status == 200


def test_an_item_of_a_use_case_without_a_guardrail_here_cannot_be_corrected(
    config: PlatformConfig, platform: OfflinePlatform
) -> None:
    review_id = _held(platform, config)
    # the item's use case has left this deployment's guardrails (a later release removed it)
    platform.modules[REVIEW_API].guard.guardrails.pop(HELD_UC)
    refused = _correct(platform, review_id, "A perfectly fine correction.")
    assert refused.status == 422 and refused.body["error"]["code"] == "CORRECTION_NOT_CHECKABLE"
    assert _guardrail_calls(platform) == []
    _still_pending(platform, review_id)
    # and when it has left the runtime configuration too, its item is read with the contract defaults
    api = platform.modules[REVIEW_API]
    api.runtime_config = dataclasses.replace(
        api.runtime_config, use_cases={k: v for k, v in api.runtime_config.use_cases.items() if k != HELD_UC}
    )
    item = _reviewer(platform, "GET", ITEM, {"reviewId": review_id}).body
    assert parse_iso(item["dueAt"]) - parse_iso(item["pendingSince"]) == ReviewPolicy().sla_hours * 3600
    # rejecting needs no guardrail call and still works, audited for the default retention
    reject = {"decision": "reject", "reason": "Cannot be corrected here."}
    assert _reviewer(platform, "POST", DECISION, {"reviewId": review_id}, body=reject).status == 200
    (record,) = [r for r in _audit(platform) if r.get("decision") == "reject"]
    kept_days = (record["expiresAt"] - parse_iso(record["at"])) / 86_400
    assert round(kept_days) == ReviewPolicy().audit_retention_days


def test_the_reviewer_api_refuses_to_start_without_a_guardrail_for_every_use_case(
    config: PlatformConfig,
) -> None:
    import importlib
    import sys

    from lambdas.review.settings import SettingsError

    with OfflinePlatform(config, "dev"):
        refs = json.loads(os.environ[ReviewEnv.GUARDRAILS])
        refs.pop(GROUNDED_UC)
        os.environ[ReviewEnv.GUARDRAILS] = json.dumps(refs)
        sys.modules.pop(REVIEW_API, None)
        with pytest.raises(
            SettingsError, match=f"USE_CASE_GUARDRAILS has no guardrail for use case.*{GROUNDED_UC}"
        ):
            importlib.import_module(REVIEW_API)
        os.environ[ReviewEnv.GUARDRAILS] = "{not json"
        sys.modules.pop(REVIEW_API, None)
        with pytest.raises(SettingsError, match="USE_CASE_GUARDRAILS is not valid JSON"):
            importlib.import_module(REVIEW_API)


_MASKED = [{"sensitiveInformationPolicy": {"piiEntities": [{"type": "EMAIL", "action": "ANONYMIZED"}]}}]


@pytest.mark.parametrize(
    "response",
    [
        {"action": "GUARDRAIL_INTERVENED", "outputs": {"text": "x"}, "assessments": _MASKED},
        {"action": "GUARDRAIL_INTERVENED", "outputs": ["x"], "assessments": _MASKED},
        {"action": "GUARDRAIL_INTERVENED", "outputs": [{"text": "x"}], "assessments": _MASKED[0]},
        {"action": "GUARDRAIL_INTERVENED", "outputs": [{"text": "x"}], "assessments": "x"},
        [],
        None,
        {"action": "none"},
        {"action": "GUARDRAIL_INTERVENED", "outputs": [], "assessments": _MASKED},
    ],
    ids=[
        "outputs-an-object",
        "outputs-strings",
        "assessments-an-object",
        "assessments-a-string",
        "a-list",
        "null",
        "unknown-action",
        "a-mask-without-text",
    ],
)
def test_a_guardrail_response_of_an_unexpected_shape_fails_the_correction_closed_as_unavailable(
    config: PlatformConfig, platform: OfflinePlatform, response: Any
) -> None:
    # GIVEN a held answer, and an ApplyGuardrail answer that is not one (botocore's parser raises
    # AttributeError or TypeError on some shapes, read_apply_guardrail ValueError on the others)
    review_id = _held(platform, config)
    platform.stub.script(None, [Fault.malformed_body(json.dumps(response).encode())])
    refused = _correct(platform, review_id, "A perfectly fine correction.")
    # THEN the documented 503, not 500 INTERNAL, and nothing stored
    assert refused.status == 503 and refused.body["error"]["code"] == "GUARDRAIL_UNAVAILABLE", refused.body
    assert refused.headers["Retry-After"] == "2"
    _still_pending(platform, review_id)


def test_a_guardrail_that_answers_a_byte_at_a_time_is_cut_at_the_bound_the_time_budget_assumed(
    config: PlatformConfig, platform: OfflinePlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket
    import threading

    from lambdas.review.correction import CorrectionGuard

    # GIVEN an endpoint that answers "NONE" one byte every 0.4 s: each socket read is within botocore's
    # read timeout, the whole answer takes ~20 s
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def trickle() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            body = b'{"action": "NONE", "outputs": [], "assessments": []}'
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
            connection.sendall(b"Content-Length: %d\r\n\r\n" % len(body))
            for byte in body:
                if stop.wait(0.4):
                    return
                connection.sendall(bytes([byte]))

    threading.Thread(target=trickle, daemon=True).start()
    review_id = _held(platform, config)
    api = platform.modules[REVIEW_API]
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", f"http://127.0.0.1:{listener.getsockname()[1]}")
    monkeypatch.setattr(
        api, "guard", CorrectionGuard(region=api.settings.region, guardrails=api.guard.guardrails)
    )
    platform.timeouts_ms[REVIEW_API] = 14_600  # a read timeout of 1.1 s
    try:
        refused = _correct(platform, review_id, "A perfectly fine correction.")
    finally:
        stop.set()
        listener.close()
    # THEN the call is abandoned at connect + read timeout: 503 and nothing stored. (Read to its end, the
    # trickled answer is a pass, which would store the decision: the status tells the two apart, without
    # timing the call on a shared machine.)
    assert refused.status == 503 and refused.body["error"]["code"] == "GUARDRAIL_UNAVAILABLE"
    _still_pending(platform, review_id)
