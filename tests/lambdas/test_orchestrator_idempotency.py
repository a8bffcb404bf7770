"""Idempotency-Key handling against moto's DynamoDB (Bedrock is still the local stub)."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas.orchestrator.idempotency import key_material
from tests.lambdas.orchestrator_testkit import (
    PROFILES,
    FakeLambdaContext,
    call,
    converse_calls,
    invoke_event,
    user,
)
from tests.support.bedrock_stub import BedrockStub, Fault

TABLE = "orchestrator-idempotency"
STS = PROFILES["support-ticket-summary"]
TICKET = "Customer asks why the October invoice shows two charges for the same subscription."


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


def keyed(key: str | None, text: str = TICKET) -> dict[str, Any]:
    return invoke_event(body=user(text), headers={"Idempotency-Key": key} if key else None)


def items(dynamodb: Any) -> list[dict[str, Any]]:
    return list(dynamodb.scan(TableName=TABLE)["Items"])


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


def test_same_key_with_another_body_is_another_request(
    dynamodb: Any, orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    call(orchestrator, keyed("k-1"), lambda_context)
    reply = call(orchestrator, keyed("k-1", TICKET + " Also the VAT is wrong."), lambda_context)

    assert reply.status == 200
    assert "Idempotent-Replayed" not in reply.headers
    assert len(converse_calls(stub)) == 2
    assert len(items(dynamodb)) == 2


def test_without_a_key_there_is_no_idempotency(
    dynamodb: Any, orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    call(orchestrator, keyed(None), lambda_context)
    call(orchestrator, keyed(None), lambda_context)

    assert len(converse_calls(stub)) == 2
    assert items(dynamodb) == []


def test_concurrent_duplicate_gets_409(
    dynamodb: Any, orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    # GIVEN a request with this key is in progress (its record written by the same persistence layer,
    # as the first invocation does before it calls Bedrock)
    call(orchestrator, keyed("warm-up"), lambda_context)  # configures the layer like the handler does
    stub.reset()
    in_flight = key_material(
        idempotency_key="dup-1",
        use_case_id="support-ticket-summary",
        raw_body=keyed("dup-1")["body"].encode(),
    )
    orchestrator.idempotency.persistence.save_inprogress(data=in_flight, remaining_time_in_millis=30_000)

    # WHEN the duplicate arrives
    reply = call(orchestrator, keyed("dup-1"), lambda_context)

    # THEN 409, and no Bedrock call
    assert reply.status == 409
    assert reply.body["error"]["code"] == "IDEMPOTENCY_IN_PROGRESS"
    assert reply.headers["Retry-After"] == "1"
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
    stub.script(STS["primary"], [Fault.guardrail_intervened()])

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
