"""Shared helpers of the orchestrator tests: sample configuration, events, Lambda context, output parsing.

Imported as ``tests.lambdas.orchestrator_testkit`` (``tests`` is on ``pythonpath``).
"""

from __future__ import annotations

import base64
import copy
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from tests.support.bedrock_stub import BedrockStub

PROJECT_ROOT = Path(__file__).resolve().parents[2]
EVENTS_DIR = PROJECT_ROOT / "tests" / "events"
PROMPTS_DIR = PROJECT_ROOT / "prompts"
HANDLER_MODULE = "lambdas.orchestrator.handler"

ACCOUNT = "123456789012"
FUNCTION_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:dev-orchestrator"
SERVICE = "orchestrator-test"
NAMESPACE = "BedrockPlatformTest"

#: Application inference profile ids (what BEDROCK_RESOURCES carries), unique substrings for scripting.
PROFILES: dict[str, dict[str, str]] = {
    "support-ticket-summary": {"primary": "stsprimary01", "fallback": "stsfallbk01", "light": "stslight001"},
    "policy-qa": {"primary": "pqaprimary01", "fallback": "pqafallbk01"},
    "rfp-drafting": {"primary": "rfpprimary01", "fallback": "rfpfallbk01"},
}
GUARDRAILS = {
    "support-ticket-summary": "grsts0000001",
    "policy-qa": "grpqa0000001",
    "rfp-drafting": "grrfp0000001",
}


def arn(profile_id: str) -> str:
    return f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/{profile_id}"


def prompt(use_case: str) -> dict[str, str]:
    document = yaml.safe_load((PROMPTS_DIR / f"{use_case}.yaml").read_text(encoding="utf-8"))
    return {"version": document["version"], "system": document["system"]}


def _route(
    source: str, model_id: str, price_in: float | None, price_out: float | None, caching: bool
) -> dict[str, Any]:
    return {
        "source": source,
        "model_id": model_id,
        "price_per_1k_input_usd": price_in,
        "price_per_1k_output_usd": price_out,
        "prompt_caching": caching,
    }


def sample_runtime_config() -> dict[str, Any]:
    """Three use cases like the CDK side generates: tiers on one, grounding on another, one unpriced."""
    return {
        "schema_version": 1,
        "environment": "dev",
        "use_cases": {
            "support-ticket-summary": {
                "purpose": "Summarize an inbound customer support ticket thread into a handover note.",
                "risk_tier": "low",
                "routes": {
                    "primary": _route(
                        "us.anthropic.claude-haiku-4-5-20251001-v1:0",
                        "anthropic.claude-haiku-4-5-20251001-v1:0",
                        0.001,
                        0.005,
                        True,
                    ),
                    "fallback": _route(
                        "us.amazon.nova-lite-v1:0", "amazon.nova-lite-v1:0", None, None, False
                    ),
                    "light": _route(
                        "us.amazon.nova-micro-v1:0", "amazon.nova-micro-v1:0", 0.000035, 0.00014, False
                    ),
                },
                "tiers": [{"name": "short-ticket", "route": "light", "max_input_chars": 40}],
                "guardrail": {
                    "blocked_input_message": "This ticket cannot be summarized.",
                    "blocked_output_message": "The summary was withheld.",
                },
                "limits": {"max_input_tokens": 6000, "max_output_tokens": 400},
                "latency_p95_ms": 4000,
                "log_prompts_and_responses": False,
                "prompt": prompt("support-ticket-summary"),
            },
            "policy-qa": {
                "purpose": "Answer employee questions about HR and IT policies from supplied excerpts.",
                "risk_tier": "medium",
                "routes": {
                    "primary": _route(
                        "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                        "anthropic.claude-sonnet-4-5-20250929-v1:0",
                        0.003,
                        0.015,
                        True,
                    ),
                    "fallback": _route(
                        "us.amazon.nova-pro-v1:0", "amazon.nova-pro-v1:0", 0.0008, 0.0032, False
                    ),
                },
                "guardrail": {
                    "blocked_input_message": "I can only answer questions about published HR and IT policies.",
                    "blocked_output_message": "I could not find an answer in the approved policy documents.",
                    "grounding": True,
                },
                "limits": {"max_input_tokens": 12000, "max_output_tokens": 800},
                "latency_p95_ms": 8000,
                "log_prompts_and_responses": True,
                "prompt": prompt("policy-qa"),
            },
            "rfp-drafting": {
                "purpose": "Draft first-pass answers to RFP questions for bid managers to edit.",
                "risk_tier": "high",
                "enabled": False,
                "routes": {
                    "primary": _route(
                        "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
                        "anthropic.claude-sonnet-4-5-20250929-v1:0",
                        0.003,
                        0.015,
                        True,
                    ),
                    "fallback": _route(
                        "us.amazon.nova-pro-v1:0", "amazon.nova-pro-v1:0", 0.0008, 0.0032, False
                    ),
                },
                "guardrail": {
                    "blocked_input_message": "Route this RFP question to the bid manager.",
                    "blocked_output_message": "The draft was withheld.",
                },
                "limits": {"max_input_tokens": 20000, "max_output_tokens": 2000},
                "latency_p95_ms": 20000,
                "log_prompts_and_responses": True,
                "prompt": prompt("rfp-drafting"),
            },
        },
    }


def sample_resources() -> dict[str, Any]:
    return {
        use_case: {**profiles, "guardrail": GUARDRAILS[use_case], "guardrail_version": "3"}
        for use_case, profiles in PROFILES.items()
    }


#: For tests that script read timeouts: the client gives up after 500 ms.
SHORT_READ_TIMEOUT = {"BEDROCK_READ_TIMEOUT_MS": "500"}


def base_env(stub: BedrockStub, config_path: Path) -> dict[str, str]:
    return {
        "BEDROCK_RESOURCES": json.dumps(sample_resources()),
        "IDEMPOTENCY_TABLE": "orchestrator-idempotency",
        "POWERTOOLS_SERVICE_NAME": SERVICE,
        "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
        "RUNTIME_CONFIG_PATH": str(config_path),
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": stub.endpoint_url,
        "BEDROCK_MAX_ATTEMPTS_PER_ROUTE": "3",
        "BEDROCK_BACKOFF_BASE_MS": "1",
        "BEDROCK_BACKOFF_MAX_MS": "5",
        # Generous: the local stub answers in milliseconds, but a loaded 2-core machine can stall a request
        # for longer than a short timeout, which would turn into a retry and a wrong call count. Tests of
        # timeouts set a short one themselves (SHORT_READ_TIMEOUT).
        "BEDROCK_CONNECT_TIMEOUT_MS": "10000",
        "BEDROCK_READ_TIMEOUT_MS": "10000",
        "BEDROCK_MIN_ATTEMPT_MS": "100",
        "TIME_BUDGET_SAFETY_MARGIN_MS": "200",
        "CIRCUIT_FAILURE_THRESHOLD": "1000",  # off unless a test turns it on
    }


def reset_powertools_logger() -> None:
    """Forget the Powertools logger of a previous import, so a re-imported handler configures a new one."""
    powertools_logger = logging.getLogger(SERVICE)
    for log_handler in list(powertools_logger.handlers):
        powertools_logger.removeHandler(log_handler)
    for attribute in ("init", "powertools_handler"):
        if hasattr(powertools_logger, attribute):
            delattr(powertools_logger, attribute)


# --- Lambda context and events ------------------------------------------------------------------------


@dataclass
class FakeLambdaContext:
    """The attributes of ``awslambdaric``'s LambdaContext that Powertools and the handler read."""

    remaining_ms: int = 30_000
    function_name: str = "dev-orchestrator"
    function_version: str = "$LATEST"
    invoked_function_arn: str = FUNCTION_ARN
    memory_limit_in_mb: int = 512
    aws_request_id: str = "2b7f9d3c-0000-4000-8000-lambdarequest"
    log_group_name: str = "/aws/lambda/dev-orchestrator"
    log_stream_name: str = "2026/11/23/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text(encoding="utf-8"))
    return event


def invoke_event(
    use_case: str = "support-ticket-summary",
    body: Any = None,
    *,
    raw_body: str | None = None,
    headers: dict[str, str | None] | None = None,
    base64_body: bool = False,
) -> dict[str, Any]:
    """The sample invoke event for ``use_case`` with another body (JSON-encoded unless ``raw_body``)."""
    event = copy.deepcopy(load_event("invoke_support_ticket_summary.json"))
    event["path"] = f"/use-cases/{use_case}/invoke"
    event["pathParameters"] = {"useCaseId": use_case}
    event["requestContext"]["path"] = f"/v1/use-cases/{use_case}/invoke"
    if raw_body is not None:
        event["body"] = raw_body
    elif body is not None:
        event["body"] = json.dumps(body)
    for name, value in (headers or {}).items():
        event["headers"] = {k: v for k, v in event["headers"].items() if k.lower() != name.lower()}
        if value is not None:
            event["headers"][name] = value
    event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
    if base64_body and event["body"] is not None:
        event["body"] = base64.b64encode(event["body"].encode()).decode()
        event["isBase64Encoded"] = True
    return event


def user(content: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": content}]}


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


def call(module: ModuleType, event: dict[str, Any], context: FakeLambdaContext) -> Reply:
    # The handler's log stream was bound at import (fixture setup); capsys swaps sys.stdout per test phase.
    module.logger.logger_handler.stream = sys.stdout
    response = module.lambda_handler(event, context)
    body = json.loads(response["body"]) if response.get("body") else {}
    headers = dict(response.get("headers") or {})
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers[name] = ",".join(values)
    return Reply(status=response["statusCode"], body=body, headers=headers)


def converse_calls(stub: BedrockStub) -> list[Any]:
    return [c for c in stub.calls if c.operation == "Converse"]


def calls_to(stub: BedrockStub, profile_id: str) -> int:
    return sum(1 for c in converse_calls(stub) if c.target.endswith("/" + profile_id))


def output_lines(out: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(log records, EMF documents) among the JSON lines written to stdout."""
    logs: list[dict[str, Any]] = []
    emf: list[dict[str, Any]] = []
    for line in out.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            document = json.loads(line)
        except ValueError:
            continue
        (emf if "_aws" in document else logs).append(document)
    return logs, emf
