"""The API contract: endpoints, response shape, and exactly what reaches Bedrock Converse."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest

from bedrock_platform_devtools.bedrock_stub import BedrockStub, Fault
from tests.lambdas.conftest import LoadOrchestrator
from tests.lambdas.orchestrator_testkit import (
    ACCOUNT,
    GUARDRAILS,
    PROFILES,
    FakeLambdaContext,
    arn,
    call,
    converse_calls,
    guardrail_arn,
    invoke_event,
    load_event,
    prompt,
    sample_contract,
    sample_resources,
    sample_route,
    sample_runtime_config,
    user,
)

STS = PROFILES["support-ticket-summary"]
LONG_TICKET = (
    "Customer: my order #4411 arrived damaged on 3 Nov. I asked for a replacement twice.\n"
    "Agent (5 Nov): please send photos.\nCustomer (6 Nov): photos attached. No reply since."
)

#: The support-ticket-summary primary route's prices, as the sample config carries them.
PRIMARY_PRICES = sample_route("support-ticket-summary", "primary")


def test_health(orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub) -> None:
    reply = call(orchestrator, load_event("health.json"), lambda_context)

    assert reply.status == 200
    assert reply.body == {"status": "ok", "environment": "dev"}
    assert stub.calls == []


def test_list_use_cases_shows_enabled_ones_only(
    orchestrator: ModuleType, lambda_context: FakeLambdaContext
) -> None:
    reply = call(orchestrator, load_event("list_use_cases.json"), lambda_context)

    assert reply.status == 200
    # every enabled use case of the configuration, by id (the sample disables rfp-drafting and any held one)
    configured = sample_runtime_config()["use_cases"]
    enabled = sorted(use_case for use_case, spec in configured.items() if spec["enabled"])
    assert {"policy-qa", "support-ticket-summary"} <= set(enabled) and "rfp-drafting" not in enabled
    assert [u["id"] for u in reply.body["useCases"]] == enabled
    (summary,) = [u for u in reply.body["useCases"] if u["id"] == "support-ticket-summary"]
    contract = sample_contract("support-ticket-summary")
    assert summary == {
        "id": "support-ticket-summary",
        "purpose": contract["purpose"],
        "riskTier": contract["risk_tier"],
        "limits": {
            "maxInputTokens": contract["limits"]["max_input_tokens"],
            "maxOutputTokens": contract["limits"]["max_output_tokens"],
        },
        "promptVersion": prompt("support-ticket-summary")["version"],
    }


def test_invoke_returns_the_documented_shape(
    orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    # GIVEN a ticket long enough for the primary route, and a model answer with known token counts
    stub.script(
        STS["primary"], [Fault.success(text="Issue: damaged order.", input_tokens=1000, output_tokens=200)]
    )

    # WHEN the sample event (with that body) is invoked
    reply = call(orchestrator, invoke_event(body=user(LONG_TICKET)), lambda_context)

    # THEN the body has every documented field with the model's answer and the contract's price
    assert reply.status == 200, reply.body
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.body == {
        "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        "useCase": "support-ticket-summary",
        "output": {"text": "Issue: damaged order.", "truncated": False},
        "usage": {
            "inputTokens": 1000,
            "outputTokens": 200,
            "cacheReadInputTokens": 0,
            "cacheWriteInputTokens": 0,
        },
        "estimatedCostUsd": pytest.approx(
            1000 / 1000 * PRIMARY_PRICES["price_per_1k_input_usd"]
            + 200 / 1000 * PRIMARY_PRICES["price_per_1k_output_usd"]
        ),
        "guardrail": {"action": "NONE"},
        "route": "primary",
        "promptVersion": "v1",
        "attempts": 1,
        "fallbackUsed": False,
    }


def test_the_route_reads_its_own_request_even_when_the_shared_resolver_has_moved_on(
    orchestrator: ModuleType,
    lambda_context: FakeLambdaContext,
    stub: BedrockStub,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN the module-level resolver's current_event replaced by another request's while this one is in
    # its route, as another thread's resolve() does in a process serving several threads at once
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

    other = APIGatewayProxyEvent(invoke_event(body=user("ANOTHER CALLER'S TICKET: refund order #9")))

    class AnotherRequestArrives:
        """The runtime configuration, whose lookup at the route's start lets the other request in."""

        def __init__(self, config: Any) -> None:
            self.config = config

        def enabled_use_case(self, use_case_id: str) -> Any:
            orchestrator.app.current_event = other
            return self.config.enabled_use_case(use_case_id)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.config, name)

    monkeypatch.setattr(orchestrator, "runtime_config", AnotherRequestArrives(orchestrator.runtime_config))
    # WHEN this request is answered
    reply = call(orchestrator, invoke_event(body=user(LONG_TICKET)), lambda_context)
    # THEN the model got this request's ticket, not the other caller's
    assert reply.status == 200, reply.body
    (sent,) = converse_calls(stub)
    text = json.dumps(sent.body["messages"])
    assert "order #4411" in text and "ANOTHER CALLER" not in text


def test_converse_request_is_built_from_the_contract_only(
    orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    call(orchestrator, invoke_event(body=user(LONG_TICKET)), lambda_context)

    [converse] = converse_calls(stub)
    body = converse.body
    # modelId: the application inference profile ARN from BEDROCK_RESOURCES
    assert (
        converse.target
        == f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/{STS['primary']}"
    )
    # system prompt from the template; no cache point: it is far below Haiku 4.5's 4,096-token minimum
    assert body["system"] == [{"text": prompt("support-ticket-summary")["system"]}]
    assert body["inferenceConfig"] == {
        "maxTokens": sample_contract("support-ticket-summary")["limits"]["max_output_tokens"]
    }
    assert body["guardrailConfig"] == {
        "guardrailIdentifier": guardrail_arn(GUARDRAILS["support-ticket-summary"]),
        "guardrailVersion": "3",
        "trace": "enabled",
    }
    # the caller's text only inside guardContent
    assert body["messages"] == [
        {"role": "user", "content": [{"guardContent": {"text": {"text": LONG_TICKET}}}]}
    ]
    assert not {"toolConfig", "additionalModelRequestFields", "promptVariables"} & body.keys()
    assert body["requestMetadata"] == {
        "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        "useCase": "support-ticket-summary",
        "route": "primary",
    }


def test_short_requests_take_the_light_tier_route(
    orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    reply = call(orchestrator, invoke_event(body=user("Printer offline, fixed.")), lambda_context)

    assert reply.status == 200
    assert reply.body["route"] == "light"
    [converse] = converse_calls(stub)
    assert converse.target == arn(STS["light"])
    assert converse.body["system"] == [{"text": prompt("support-ticket-summary")["system"]}]  # no caching
    # the light route's own prices
    usage = reply.body["usage"]
    light = sample_route("support-ticket-summary", "light")
    expected = (
        usage["inputTokens"] * light["price_per_1k_input_usd"]
        + usage["outputTokens"] * light["price_per_1k_output_usd"]
    ) / 1000
    assert reply.body["estimatedCostUsd"] == pytest.approx(expected)


def test_grounded_use_case_sends_context_as_grounding_source(
    orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    event = load_event("invoke_policy_qa_grounded.json")

    reply = call(orchestrator, event, lambda_context)

    assert reply.status == 200, reply.body
    [converse] = converse_calls(stub)
    assert converse.target == arn(PROFILES["policy-qa"]["primary"])
    assert converse.body["messages"] == [
        {
            "role": "user",
            "content": [
                {
                    "guardContent": {
                        "text": {
                            "text": "Remote Work Policy, section 4.2: Employees may work remotely from outside "
                            "their country of employment for up to 20 working days per calendar year, with "
                            "prior manager approval.",
                            "qualifiers": ["grounding_source"],
                        }
                    }
                },
                {
                    "guardContent": {
                        "text": {
                            "text": "How many days can I work remotely from abroad each year?",
                            "qualifiers": ["query"],
                        }
                    }
                },
            ],
        }
    ]
    assert converse.body["guardrailConfig"]["guardrailIdentifier"] == guardrail_arn(GUARDRAILS["policy-qa"])


def test_grounded_use_case_requires_context(
    orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    reply = call(
        orchestrator, invoke_event("policy-qa", body=user("How many leave days do I get?")), lambda_context
    )

    assert reply.status == 400
    assert reply.body["error"]["code"] == "INVALID_REQUEST"
    assert reply.body["error"]["field"] == "context"
    assert stub.calls == []


def test_context_without_grounding_is_guarded_without_qualifiers(
    orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    body = {**user(LONG_TICKET), "context": "Customer tier: gold. Previous tickets: none."}

    call(orchestrator, invoke_event(body=body), lambda_context)

    content = converse_calls(stub)[0].body["messages"][0]["content"]
    assert content == [
        {"guardContent": {"text": {"text": "Customer tier: gold. Previous tickets: none."}}},
        {"guardContent": {"text": {"text": LONG_TICKET}}},
    ]


def test_guardrail_intervention_returns_200_with_the_contracts_message(
    orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    # GIVEN the guardrail blocks the input (Bedrock returns its own blocked text)
    stub.script(STS["primary"], [Fault.guardrail_intervened("bedrock's text")])

    reply = call(orchestrator, invoke_event(body=user(LONG_TICKET)), lambda_context)

    # THEN 200, the contract's blocked-input message, INTERVENED, one call, no fallback
    assert reply.status == 200
    assert (
        reply.body["output"]["text"]
        == sample_contract("support-ticket-summary")["guardrail"]["blocked_input_message"]
    )
    assert reply.body["guardrail"] == {"action": "INTERVENED"}
    assert reply.body["attempts"] == 1
    assert reply.body["fallbackUsed"] is False
    assert len(converse_calls(stub)) == 1


def test_a_guardrail_that_only_masks_returns_the_masked_answer(
    orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    # GIVEN the guardrail masks PII in the answer (support-ticket-summary ANONYMIZEs NAME and EMAIL):
    # Bedrock answers stopReason guardrail_intervened, the masked text, ANONYMIZED findings, no BLOCKED
    answer = "Summary: Jane Roe (jane.roe@example.com) reports a double charge."
    masks = {"Jane Roe": "NAME", "jane.roe@example.com": "EMAIL"}
    stub.script(STS["primary"], [Fault.guardrail_masked(masks, text=answer)])

    reply = call(orchestrator, invoke_event(body=user(LONG_TICKET)), lambda_context)

    # THEN the answer as Bedrock masked it, not a blocked message; the guardrail's action says so
    assert reply.status == 200
    assert reply.body["output"] == {
        "text": "Summary: {NAME} ({EMAIL}) reports a double charge.",
        "truncated": False,
    }
    assert reply.body["guardrail"] == {"action": "MASKED"}
    assert reply.body["usage"]["outputTokens"] > 0
    assert (reply.body["route"], reply.body["attempts"], reply.body["fallbackUsed"]) == ("primary", 1, False)
    assert len(converse_calls(stub)) == 1


def test_unpriced_route_reports_null_cost(
    orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    # GIVEN the primary is unavailable, so the (unpriced) fallback answers
    stub.script(STS["primary"], [Fault.access_denied()])

    reply = call(orchestrator, invoke_event(body=user(LONG_TICKET)), lambda_context)

    assert reply.status == 200
    assert reply.body["route"] == "fallback"
    assert reply.body["estimatedCostUsd"] is None


def test_max_tokens_answer_is_marked_truncated(
    orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    stub.script(STS["primary"], [Fault.success(text="x" * 5000)])  # no token override: the stub truncates
    reply = call(orchestrator, invoke_event(body=user(LONG_TICKET)), lambda_context)
    assert reply.status == 200
    # the stub cuts the text at maxTokens (400) * 4 characters and reports stopReason max_tokens
    assert reply.body["output"] == {"text": "x" * 1600, "truncated": True}
    assert reply.body["usage"]["outputTokens"] == 400


def test_deployed_arns_are_used_as_given(
    load_orchestrator: LoadOrchestrator, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    """The function never rebuilds an ARN from an id, its region and its account: what CloudFormation
    returned (here another account, region and partition than the function's) is what Bedrock gets."""
    resources = sample_resources()
    sts = resources["use_cases"]["support-ticket-summary"]
    sts["profile_arns"]["primary"] = (
        "arn:aws-us-gov:bedrock:us-gov-west-1:999999999999:application-inference-profile/fullarn0001"
    )
    sts["guardrail_arn"] = "arn:aws-us-gov:bedrock:us-gov-west-1:999999999999:guardrail/grother00001"
    sts["guardrail_version"] = "7"
    module = load_orchestrator(BEDROCK_RESOURCES=json.dumps(resources))

    call(module, invoke_event(body=user(LONG_TICKET)), lambda_context)
    stub.script(None, [Fault.throttling()] * 3)
    call(module, invoke_event(body=user(LONG_TICKET)), lambda_context)

    calls = converse_calls(stub)
    assert calls[0].target == sts["profile_arns"]["primary"]
    assert calls[-1].target == sts["profile_arns"]["fallback"]
    assert calls[0].body["guardrailConfig"]["guardrailIdentifier"] == sts["guardrail_arn"]
    assert calls[0].body["guardrailConfig"]["guardrailVersion"] == "7"


@pytest.mark.parametrize(
    ("event", "status", "code"),
    [
        (invoke_event("no-such-use-case", body=user("hi")), 404, "USE_CASE_NOT_FOUND"),
        (invoke_event("rfp-drafting", body=user("Describe your SOC 2 controls.")), 404, "USE_CASE_NOT_FOUND"),
        ({**load_event("health.json"), "path": "/nope", "resource": "/nope"}, 404, "NOT_FOUND"),
        ({**load_event("health.json"), "httpMethod": "DELETE"}, 404, "NOT_FOUND"),
    ],
    ids=["unknown-use-case", "disabled-use-case", "unknown-path", "unknown-method"],
)
def test_not_found(
    orchestrator: ModuleType,
    lambda_context: FakeLambdaContext,
    stub: BedrockStub,
    event: dict[str, Any],
    status: int,
    code: str,
) -> None:
    reply = call(orchestrator, event, lambda_context)

    assert reply.status == status
    assert reply.body["error"]["code"] == code
    assert reply.body["error"]["requestId"] == event["requestContext"]["requestId"]
    assert stub.calls == []


def test_unexpected_bug_is_500_internal_without_details(
    orchestrator: ModuleType,
    lambda_context: FakeLambdaContext,
    stub: BedrockStub,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("secret internal detail")

    monkeypatch.setattr(orchestrator, "estimate_cost_usd", broken)

    reply = call(orchestrator, invoke_event(body=user(LONG_TICKET)), lambda_context)

    assert reply.status == 500
    assert reply.body == {
        "error": {
            "code": "INTERNAL",
            "message": "An internal error occurred. Quote the request id when reporting it.",
            "field": None,
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        }
    }
    assert "secret" not in str(reply.body)


@pytest.mark.parametrize("event", [{"unexpected": "shape"}, {"httpMethod": "POST"}, {}])
def test_non_api_gateway_event_gets_a_json_error_not_a_crash(
    orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub, event: dict[str, Any]
) -> None:
    response = orchestrator.lambda_handler(event, lambda_context)

    # not an API Gateway event: nothing the API promises applies, so it is the catch-all 500
    assert response["statusCode"] == 500
    error = json.loads(response["body"])["error"]
    assert error["code"] == "INTERNAL"
    assert error["requestId"] == lambda_context.aws_request_id
    assert stub.calls == []


def test_sample_config_is_what_the_tests_use() -> None:
    # guard against the sample drifting from what the tests above assume of it
    config = sample_runtime_config()
    assert set(config) == {"schema_version", "environment", "use_cases"}
    assert config["use_cases"]["policy-qa"]["contract"]["guardrail"]["contextual_grounding"] is not None
    assert PRIMARY_PRICES["price_per_1k_input_usd"] and PRIMARY_PRICES["price_per_1k_output_usd"]
