"""The orchestrator's table grant is exactly what Powertools idempotency calls.

Powertools' ``DynamoDBPersistenceLayer`` runs every path the orchestrator can take against moto's
DynamoDB (first call, replay, in-progress collision, a failed call that deletes its record) while a
botocore hook records each operation; every one must be in ``IDEMPOTENCY_TABLE_ACTIONS``, the actions
``OrchestrationApi`` grants, and every granted action must be used.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyItemAlreadyExistsError
from moto import mock_aws

from bedrock_constructs.orchestration_api import IDEMPOTENCY_TABLE_ACTIONS

TABLE = "orchestrator-idempotency"


@pytest.fixture
def recorded() -> Iterator[tuple[Any, set[str]]]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        # The table as OrchestrationApi creates it: partition key "id", TTL attribute "expiration".
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        calls: set[str] = set()
        client.meta.events.register(
            "before-call.dynamodb.*", lambda model, **_: calls.add(f"dynamodb:{model.name}")
        )
        yield client, calls


def test_every_call_powertools_makes_is_granted_and_nothing_more(recorded: tuple[Any, set[str]]) -> None:
    client, calls = recorded
    persistence = DynamoDBPersistenceLayer(table_name=TABLE, boto3_client=client)
    config = IdempotencyConfig(event_key_jmespath="key", expires_after_seconds=3600)
    config.register_lambda_context(SimpleNamespace(get_remaining_time_in_millis=lambda: 28_000))

    @idempotent_function(data_keyword_argument="request", persistence_store=persistence, config=config)
    def answer(request: dict[str, Any]) -> dict[str, Any]:
        if request.get("fail"):
            raise RuntimeError("Bedrock failed")
        return {"text": "ok"}

    # first call: record put in progress, then completed
    assert answer(request={"key": "a"}) == {"text": "ok"}
    # replay: the stored answer
    assert answer(request={"key": "a"}) == {"text": "ok"}
    # a failed call deletes its record, so the caller may retry
    with pytest.raises(RuntimeError):
        answer(request={"key": "b", "fail": True})
    # an in-progress record refuses a concurrent duplicate
    persistence.configure(config, "collision")
    persistence.save_inprogress({"key": "c"}, remaining_time_in_millis=28_000)
    with pytest.raises(IdempotencyItemAlreadyExistsError):
        persistence.save_inprogress({"key": "c"}, remaining_time_in_millis=28_000)
    persistence.get_record({"key": "c"})

    calls.discard("dynamodb:CreateTable")
    assert calls <= set(IDEMPOTENCY_TABLE_ACTIONS), (
        f"Powertools calls {calls - set(IDEMPOTENCY_TABLE_ACTIONS)}"
    )
    assert calls == set(IDEMPOTENCY_TABLE_ACTIONS), (
        f"granted but never used: {set(IDEMPOTENCY_TABLE_ACTIONS) - calls}"
    )
