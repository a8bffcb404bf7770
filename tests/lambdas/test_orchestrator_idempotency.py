"""Idempotency-Key handling against moto's DynamoDB (Bedrock is still the local stub).

The requests are policy-qa's, a use case whose contract lets answers be stored; support-ticket-summary's
forbids it, so it refuses the header (``test_a_key_is_refused_where_answers_may_not_be_stored``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from bedrock_platform_devtools.bedrock_stub import BedrockStub, Fault
from lambdas.orchestrator.idempotency import IdempotentRunner, canonical_body, key_material
from lambdas.orchestrator.validation import InvokeRequest, Message
from platform_spec.review import principal_of, user_arn
from tests.lambdas.conftest import LoadOrchestrator
from tests.lambdas.orchestrator_testkit import (
    ACCOUNT,
    PROFILES,
    FakeLambdaContext,
    call,
    converse_calls,
    invoke_event,
    output_lines,
    sample_runtime_config,
    user,
)

TABLE = "orchestrator-idempotency"
USE_CASE = "policy-qa"
PQA = PROFILES[USE_CASE]
QUESTION = "How many days of parental leave do I get after the birth of my second child?"
CONTEXT = "Parental leave: 20 working days on full pay, for each birth or adoption."


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def _request(text: str) -> InvokeRequest:
    return InvokeRequest(
        messages=(Message("user", text),), context=CONTEXT, input_chars=len(text) + len(CONTEXT)
    )


def start_in_progress(
    orchestrator: ModuleType, context: FakeLambdaContext, stub: BedrockStub, key: str, *, remaining_ms: int
) -> None:
    """Write the in-progress record a first request with ``key`` (and QUESTION) holds while it calls
    Bedrock, through the handler's own persistence layer (configured by a warm-up request)."""
    call(orchestrator, keyed("warm-up"), context)
    stub.reset()
    running = key_material(
        idempotency_key=key,
        use_case_id=USE_CASE,
        caller=principal_of(user_arn(keyed(key))),
        request=_request(QUESTION),
    )
    orchestrator.idempotency.persistence.save_inprogress(data=running, remaining_time_in_millis=remaining_ms)


def keyed(key: str | None, text: str = QUESTION, use_case: str = USE_CASE) -> dict[str, Any]:
    body = {**user(text), "context": CONTEXT}
    return invoke_event(use_case, body, headers={"Idempotency-Key": key} if key else None)


def items(dynamodb: Any) -> list[dict[str, Any]]:
    return list(dynamodb.scan(TableName=TABLE)["Items"])


def signed_by(event: dict[str, Any], role: str, session: str, request_id: str) -> dict[str, Any]:
    """``event`` as API Gateway passes it for a session of ``role`` (AWS_IAM), with its own request id."""
    event["requestContext"]["identity"]["userArn"] = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}"
    event["requestContext"]["requestId"] = request_id
    return event


def test_repeated_key_replays_the_stored_answer_without_calling_bedrock(
    dynamodb: Any, orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    # GIVEN a first request with a key that was answered
    first = call(orchestrator, keyed("order-4411-summary"), lambda_context)

    # WHEN the same request is sent again with the same key
    second = call(orchestrator, keyed("order-4411-summary"), lambda_context)

    # THEN the stored answer comes back, marked as a replay, and Bedrock was called once
    assert first.status == second.status == 200
    assert second.body == first.body
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(converse_calls(stub)) == 1
    [record] = items(dynamodb)
    assert record["status"]["S"] == "COMPLETED"


def test_same_key_with_another_body_is_422_and_no_second_bedrock_call(
    dynamodb: Any, orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    # GIVEN a key that was used and answered
    first = call(orchestrator, keyed("k-1"), lambda_context)

    # WHEN a client bug reuses it for another request
    reply = call(orchestrator, keyed("k-1", QUESTION + " And for adoption?"), lambda_context)

    # THEN 422 with a stable code (IETF Idempotency-Key draft), one Bedrock call in all, one record
    assert first.status == 200
    assert reply.status == 422
    assert reply.body["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert reply.body["error"]["field"] == "Idempotency-Key"
    assert "Retry-After" not in reply.headers
    assert len(converse_calls(stub)) == 1
    assert len(items(dynamodb)) == 1


def test_same_key_with_another_body_while_the_first_runs_is_422_too(
    dynamodb: Any, orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    start_in_progress(orchestrator, lambda_context, stub, "busy-1", remaining_ms=30_000)

    reply = call(orchestrator, keyed("busy-1", QUESTION + " Different."), lambda_context)

    assert reply.status == 422
    assert converse_calls(stub) == []


@pytest.mark.parametrize(
    "rewritten",
    [
        '{"context":"%(context)s","messages":[{"content":"%(question)s","role":"user"}]}',
        '{\n  "messages": [ {"role": "user",\n "content": "%(question)s"} ],\n  "context" : "%(context)s"\n}',
    ],
    ids=["keys-reordered-no-spaces", "whitespace-and-newlines"],
)
def test_the_same_json_written_differently_replays(
    dynamodb: Any,
    orchestrator: ModuleType,
    lambda_context: FakeLambdaContext,
    stub: BedrockStub,
    rewritten: str,
) -> None:
    first = call(orchestrator, keyed("same-json"), lambda_context)

    raw = rewritten % {"question": QUESTION, "context": CONTEXT}
    again = invoke_event(USE_CASE, raw_body=raw, headers={"Idempotency-Key": "same-json"})
    second = call(orchestrator, again, lambda_context)

    assert second.status == 200
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.body == first.body
    assert len(converse_calls(stub)) == 1


def test_the_same_key_for_another_use_case_is_another_request(
    dynamodb: Any, load_orchestrator: LoadOrchestrator, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    # GIVEN a second use case whose contract lets answers be stored too (the shipped
    # support-ticket-summary forbids it)
    config = sample_runtime_config()
    config["use_cases"]["support-ticket-summary"]["contract"]["logging"]["prompts_and_responses"] = True
    orchestrator = load_orchestrator(config)
    call(orchestrator, keyed("shared-key"), lambda_context)
    other = invoke_event(
        "support-ticket-summary",
        user("Customer asks why the October invoice shows two charges."),
        headers={"Idempotency-Key": "shared-key"},
    )

    reply = call(orchestrator, other, lambda_context)

    assert reply.status == 200
    assert "Idempotent-Replayed" not in reply.headers
    assert len(converse_calls(stub)) == 2


def test_each_caller_has_its_own_key_space(
    dynamodb: Any, orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    # GIVEN one caller's request with a key, answered and stored
    stub.script(None, [Fault.success(text=f"Answer {n}.") for n in (1, 2, 3)])
    first = call(orchestrator, signed_by(keyed("ticket-4411"), "billing-app", "s1", "req-1"), lambda_context)

    # WHEN another caller sends the same key with the same body, and a third with another body
    second = call(orchestrator, signed_by(keyed("ticket-4411"), "crm-app", "s1", "req-2"), lambda_context)
    other_body = keyed("ticket-4411", QUESTION + " And for adoption?")
    third = call(orchestrator, signed_by(other_body, "audit-app", "s1", "req-3"), lambda_context)

    # THEN each gets its own fresh answer: never the first caller's stored one, never a 422 that would
    # tell it the key is in use
    assert [r.status for r in (first, second, third)] == [200, 200, 200]
    assert [r.body["requestId"] for r in (first, second, third)] == ["req-1", "req-2", "req-3"]
    assert [r.body["output"]["text"] for r in (first, second, third)] == [
        "Answer 1.",
        "Answer 2.",
        "Answer 3.",
    ]
    assert all("Idempotent-Replayed" not in r.headers for r in (second, third))
    assert len(converse_calls(stub)) == 3
    assert len(items(dynamodb)) == 3

    # AND the first caller, in another session of its role, still gets its own stored answer
    again = call(orchestrator, signed_by(keyed("ticket-4411"), "billing-app", "s2", "req-4"), lambda_context)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.body == first.body
    assert len(converse_calls(stub)) == 3


def test_without_a_key_there_is_no_idempotency(
    dynamodb: Any, orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    call(orchestrator, keyed(None), lambda_context)
    call(orchestrator, keyed(None), lambda_context)

    assert len(converse_calls(stub)) == 2
    assert items(dynamodb) == []


def test_a_key_is_refused_where_answers_may_not_be_stored(
    dynamodb: Any, orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    # GIVEN a use case whose contract forbids storing text (a replay would be its stored answer)
    use_case = "support-ticket-summary"
    assert orchestrator.runtime_config.use_cases[use_case].log_prompts_and_responses is False
    event = keyed("ticket-4411", "Ticket: Jane Roe says card 4242 was charged twice.", use_case)

    # WHEN a request carries an Idempotency-Key
    reply = call(orchestrator, event, lambda_context)

    # THEN 400 naming the header, the use case, why and the fix; nothing stored, no Bedrock call
    assert reply.status == 400
    assert reply.body["error"]["code"] == "IDEMPOTENCY_KEY_REFUSED"
    assert reply.body["error"]["field"] == "Idempotency-Key"
    message = reply.body["error"]["message"]
    for part in ("Idempotency-Key", use_case, "logging.prompts_and_responses is false", "without"):
        assert part in message
    assert "Retry-After" not in reply.headers
    assert stub.calls == []
    assert items(dynamodb) == []
    # and without the header the same request is answered
    assert call(orchestrator, keyed(None, "Ticket: double charge.", use_case), lambda_context).status == 200


def test_concurrent_duplicate_gets_409(
    dynamodb: Any, orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    # GIVEN a request with this key is in progress, with 20 s of its Lambda time left
    start_in_progress(orchestrator, lambda_context, stub, "dup-1", remaining_ms=20_000)

    # WHEN the duplicate arrives
    reply = call(orchestrator, keyed("dup-1"), lambda_context)

    # THEN 409, no Bedrock call, and Retry-After is when the first one's in-progress record expires
    # (about 20 s from now), not this invocation's own time left (30 s in the fixture's context)
    assert reply.status == 409
    assert reply.body["error"]["code"] == "IDEMPOTENCY_IN_PROGRESS"
    assert 10 <= int(reply.headers["Retry-After"]) <= 20
    assert converse_calls(stub) == []


def test_failed_request_is_not_stored_so_a_retry_calls_bedrock_again(
    dynamodb: Any, orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    # GIVEN every route fails for the first request
    stub.script(None, [Fault.service_unavailable()] * 6)
    first = call(orchestrator, keyed("retry-me"), lambda_context)

    # WHEN the caller retries with the same key after Bedrock recovered
    second = call(orchestrator, keyed("retry-me"), lambda_context)

    # THEN the retry is processed (not a replay of the 503, not a 409)
    assert first.status == 503
    assert second.status == 200
    assert "Idempotent-Replayed" not in second.headers
    assert len(converse_calls(stub)) == 7
    assert [item["status"]["S"] for item in items(dynamodb)] == ["COMPLETED"]


def test_guardrail_intervention_is_replayed_too(
    dynamodb: Any, orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    stub.script(PQA["primary"], [Fault.guardrail_intervened()])

    first = call(orchestrator, keyed("blocked"), lambda_context)
    second = call(orchestrator, keyed("blocked"), lambda_context)

    assert first.body["guardrail"] == second.body["guardrail"] == {"action": "INTERVENED"}
    assert len(converse_calls(stub)) == 1


def test_store_failure_is_503_not_500(
    orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    # GIVEN DynamoDB without the table (moto answers ResourceNotFoundException)
    with mock_aws():
        reply = call(orchestrator, keyed("no-table"), lambda_context)

    assert reply.status == 503
    assert reply.body["error"]["code"] == "IDEMPOTENCY_UNAVAILABLE"
    assert reply.headers["Retry-After"] == "1"
    assert converse_calls(stub) == []


def test_canonical_body_ignores_key_order_whitespace_and_escapes() -> None:
    plain = InvokeRequest(messages=(Message("user", "café"),), context="ctx", input_chars=7)

    assert canonical_body(plain) == '{"context":"ctx","messages":[{"content":"café","role":"user"}]}'
    # another body is another payload
    other = InvokeRequest(messages=(Message("user", "cafe"),), context="ctx", input_chars=7)
    assert canonical_body(other) != canonical_body(plain)


class _BrokenStore:
    def get_record(self, data: dict[str, str]) -> Any:
        raise RuntimeError("DynamoDB unreachable")


def test_in_progress_hint_falls_back_to_this_invocations_time_left() -> None:
    # GIVEN the in-progress record cannot be read back (the 409 itself was decided already)
    runner = IdempotentRunner(table_name=TABLE, retry_after_s=2)
    runner.persistence = _BrokenStore()

    # THEN Retry-After is this invocation's own remaining time: the original started earlier with the
    # same function timeout, so it cannot run longer than that
    hint = runner._in_progress_retry_after({"idempotencyKey": "k"}, FakeLambdaContext(remaining_ms=12_300))
    assert hint == 13
    assert runner._in_progress_retry_after({"idempotencyKey": "k"}, object()) == 2


class FailingWrites:
    """The persistence layer's DynamoDB client, with the calls named in ``failing`` answering a 500."""

    def __init__(self, client: Any, *failing: str) -> None:
        self._client = client
        self._failing = failing

    def __getattr__(self, name: str) -> Any:
        if name in self._failing:

            def fail(**kwargs: Any) -> Any:
                raise ClientError({"Error": {"Code": "InternalServerError", "Message": "x"}}, name)

            return fail
        return getattr(self._client, name)


def _fail_writes(orchestrator: ModuleType, *operations: str) -> Any:
    orchestrator.idempotency._setup()
    persistence = orchestrator.idempotency.persistence
    original = persistence.client
    persistence.client = FailingWrites(original, *operations)
    return original


def test_an_answer_whose_record_cannot_be_saved_is_returned_and_the_key_released(
    dynamodb: Any,
    orchestrator: ModuleType,
    lambda_context: FakeLambdaContext,
    stub: BedrockStub,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN the store fails to save the answer's record (UpdateItem), after Bedrock answered
    original = _fail_writes(orchestrator, "update_item")

    # WHEN a request with a key is answered
    first = call(orchestrator, keyed("save-fails"), lambda_context)

    # THEN the caller gets the answer (not a 503), the failed save is logged and counted, and the
    # in-progress record is gone, so a retry with the key is served (not a 409 for ~28 s)
    assert first.status == 200, first.body
    assert first.body["output"]["text"]
    logs, emf = output_lines(capsys.readouterr().out)
    assert logs[-1]["idempotencyError"] == "ClientError"
    assert emf[-1]["IdempotencySaveFailures"] == [1.0]
    assert items(dynamodb) == []

    orchestrator.idempotency.persistence.client = original
    second = call(orchestrator, keyed("save-fails"), lambda_context)
    assert second.status == 200
    assert "Idempotent-Replayed" not in second.headers
    assert len(converse_calls(stub)) == 2
    assert [item["status"]["S"] for item in items(dynamodb)] == ["COMPLETED"]
    logs, emf = output_lines(capsys.readouterr().out)
    assert "idempotencyError" not in logs[-1]  # the log line leaves out empty fields
    assert emf[-1]["IdempotencySaveFailures"] == [0.0]


@pytest.mark.slow
def test_a_record_that_can_be_neither_saved_nor_deleted_blocks_the_key_only_until_it_expires(
    dynamodb: Any, orchestrator: ModuleType, stub: BedrockStub
) -> None:
    # GIVEN the store fails both the save and the delete, in a function with 1.5 s left
    original = _fail_writes(orchestrator, "update_item", "delete_item")
    context = FakeLambdaContext(remaining_ms=1500)

    first = call(orchestrator, keyed("stuck"), context)
    orchestrator.idempotency.persistence.client = original

    # THEN the answer went out; a retry meanwhile is told to wait until the record expires (at most the
    # first invocation's 1.5 s), not the function timeout; and after that a retry is served
    assert first.status == 200, first.body
    early = call(orchestrator, keyed("stuck"), context)
    assert early.status == 409
    assert int(early.headers["Retry-After"]) <= 2
    time.sleep(1.6)
    late = call(orchestrator, keyed("stuck"), context)
    assert late.status == 200, late.body
    assert len(converse_calls(stub)) == 2


def test_a_failed_request_whose_record_cannot_be_deleted_is_answered_with_its_own_error(
    dynamodb: Any, orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    # GIVEN every route fails, and the store cannot delete the in-progress record afterwards
    stub.script(None, [Fault.service_unavailable()] * 6)
    _fail_writes(orchestrator, "delete_item")

    reply = call(orchestrator, keyed("fails-twice"), lambda_context)

    # THEN the caller learns what happened to its request (not that the store was unavailable)
    assert reply.status == 503
    assert reply.body["error"]["code"] == "UPSTREAM_UNAVAILABLE"
