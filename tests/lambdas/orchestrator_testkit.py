"""Shared helpers of the orchestrator tests: sample configuration, events, Lambda context, output parsing.

Imported as ``tests.lambdas.orchestrator_testkit`` (``tests`` is on ``pythonpath``).
"""

from __future__ import annotations

import base64
import copy
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from platform_config import load_platform
from platform_config.runtime import runtime_config
from platform_spec.api import ResilienceSettings
from platform_spec.fields import to_dict
from tests.support.bedrock_stub import BedrockStub

PROJECT_ROOT = Path(__file__).resolve().parents[2]
EVENTS_DIR = PROJECT_ROOT / "tests" / "events"
PROMPTS_DIR = PROJECT_ROOT / "prompts"
HANDLER_MODULE = "lambdas.orchestrator.handler"

ACCOUNT = "123456789012"
FUNCTION_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:dev-orchestrator"
SERVICE = "orchestrator-test"
NAMESPACE = "BedrockPlatformTest"

#: Application inference profile ids (in the ARNs BEDROCK_RESOURCES carries), unique substrings for scripting.
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

#: Fast retries, so fault tests take milliseconds; the circuit stays closed unless a test turns it on
#: (``load_orchestrator(resilience={...})``). The read timeout is generous: the local stub answers in
#: milliseconds, but a loaded 2-core machine can stall a request longer than a short timeout, which would
#: turn into a retry and a wrong call count. Tests of timeouts ask for a short one (SHORT_READ_TIMEOUT).
#: The connect timeout stays short: the budget split reserves it for every attempt.
TEST_RESILIENCE = ResilienceSettings(
    max_attempts_per_route=3,
    backoff_base_s=0.001,
    backoff_max_s=0.005,
    connect_timeout_s=0.5,
    read_timeout_s=5.0,
    min_attempt_s=0.1,
    safety_margin_s=0.2,
    circuit_failure_threshold=1000,
    circuit_timeout_threshold=1000,
)


#: ``load_orchestrator(resilience=SHORT_READ_TIMEOUT)`` for tests that script read timeouts.
SHORT_READ_TIMEOUT = {"read_timeout_s": 0.5}


def arn(profile_id: str) -> str:
    return f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/{profile_id}"


def guardrail_arn(guardrail_id: str) -> str:
    return f"arn:aws:bedrock:us-east-1:{ACCOUNT}:guardrail/{guardrail_id}"


def prompt(use_case: str) -> dict[str, str]:
    document = yaml.safe_load((PROMPTS_DIR / f"{use_case}.yaml").read_text(encoding="utf-8"))
    return {"version": document["version"], "system": document["system"].strip()}


def sample_runtime_config() -> dict[str, Any]:
    """What the CDK side generates for dev from the repository's own contracts (``runtime_config``), with
    three deliberate differences that the tests rely on:

    * support-ticket-summary's ``light`` tier takes requests of at most 40 characters (the contract says
      2,000), so short test texts reach the tier and slightly longer ones the primary;
    * its fallback (Nova Lite) is unpriced, so the "cost unknown, never 0" path is exercised;
    * rfp-drafting is disabled, so the "enabled: false" path is exercised.
    """
    config = to_dict(runtime_config(load_platform(PROJECT_ROOT).contracts_for("dev"), "dev"))
    support = config["use_cases"]["support-ticket-summary"]
    support["contract"]["model"]["tiers"][0]["max_input_chars"] = 40
    for price in ("price_per_1k_input_usd", "price_per_1k_output_usd"):
        support["routes"]["fallback"][price] = None
    config["use_cases"]["rfp-drafting"]["enabled"] = False
    return copy.deepcopy(config)


def sample_contract(use_case: str) -> dict[str, Any]:
    """A use case's contract as the sample runtime config carries it (for expected values in tests)."""
    contract: dict[str, Any] = sample_runtime_config()["use_cases"][use_case]["contract"]
    return contract


def sample_route(use_case: str, route: str) -> dict[str, Any]:
    """A route's model source (model id, prices, cache minimum) as the sample runtime config carries it."""
    source: dict[str, Any] = sample_runtime_config()["use_cases"][use_case]["routes"][route]
    return source


def sample_resources() -> dict[str, Any]:
    """BEDROCK_RESOURCES as the construct writes it: every route's profile ARN, the guardrail ARN and version."""
    return {
        "use_cases": {
            use_case: {
                "profile_arns": {route: arn(profile) for route, profile in profiles.items()},
                "guardrail_arn": guardrail_arn(GUARDRAILS[use_case]),
                "guardrail_version": "3",
            }
            for use_case, profiles in PROFILES.items()
        }
    }


def base_env(stub: BedrockStub, config_path: Path) -> dict[str, str]:
    return {
        "BEDROCK_RESOURCES": json.dumps(sample_resources()),
        "IDEMPOTENCY_TABLE": "orchestrator-idempotency",
        "POWERTOOLS_SERVICE_NAME": SERVICE,
        "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
        "RUNTIME_CONFIG_PATH": str(config_path),
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": stub.endpoint_url,
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


@dataclass
class CountdownLambdaContext(FakeLambdaContext):
    """A Lambda context whose remaining time counts down in real time from ``remaining_ms`` at creation,
    like the real one (the handler reads it when a request starts, and the idempotency layer later)."""

    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.remaining_ms - int((time.monotonic() - self.started) * 1000))


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
