"""Shared helpers of the orchestrator tests: the devtools' samples (events, Lambda contexts, sample
configuration) with the tests' own settings, calls and output parsing.

Imported as ``tests.lambdas.orchestrator_testkit`` (``tests`` is on ``pythonpath``).
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from bedrock_platform_devtools import samples
from bedrock_platform_devtools.bedrock_stub import BedrockStub
from bedrock_platform_devtools.samples import (
    ACCOUNT,
    FUNCTION_ARN,
    GUARDRAILS,
    PROFILES,
    CountdownLambdaContext,
    FakeLambdaContext,
    arn,
    guardrail_arn,
    invoke_event,
    load_event,
)
from platform_config.documents import load_yaml
from platform_spec.api import ResilienceSettings
from tests.support.contracts import examples_root

__all__ = [
    "ACCOUNT",
    "FUNCTION_ARN",
    "GUARDRAILS",
    "PROFILES",
    "CountdownLambdaContext",
    "FakeLambdaContext",
    "arn",
    "guardrail_arn",
    "invoke_event",
    "load_event",
    "sample_resources",
]

PROJECT_ROOT = Path(__file__).resolve().parents[2]


#: The configuration the orchestrator tests run on: this repository's, with every shipped example the tests
#: script (``PROFILES``) that a fork retired added back (``tests.support.contracts.examples_root``).
CONFIGURATION_ROOT = examples_root()
PROMPTS_DIR = CONFIGURATION_ROOT / "prompts"
HANDLER_MODULE = "lambdas.orchestrator.handler"

SERVICE = "orchestrator-test"
NAMESPACE = "BedrockPlatformTest"

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


def prompt(use_case: str) -> dict[str, str]:
    document = load_yaml((PROMPTS_DIR / f"{use_case}.yaml").read_text(encoding="utf-8"))
    return {"version": document["version"], "system": document["system"].strip()}


def sample_resources() -> dict[str, Any]:
    """BEDROCK_RESOURCES for every use case of this repository's contracts (``samples.sample_resources``)."""
    return samples.sample_resources(CONFIGURATION_ROOT)


def sample_runtime_config() -> dict[str, Any]:
    """The devtools' sample runtime config of this repository's contracts (``samples.sample_runtime_config``:
    dev, with a 40-character light tier, an unpriced fallback and rfp-drafting disabled)."""
    return samples.sample_runtime_config(CONFIGURATION_ROOT)


def sample_contract(use_case: str) -> dict[str, Any]:
    """A use case's contract as the sample runtime config carries it (for expected values in tests)."""
    contract: dict[str, Any] = sample_runtime_config()["use_cases"][use_case]["contract"]
    return contract


def sample_route(use_case: str, route: str) -> dict[str, Any]:
    """A route's model source (model id, prices, cache minimum) as the sample runtime config carries it."""
    source: dict[str, Any] = sample_runtime_config()["use_cases"][use_case]["routes"][route]
    return source


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
