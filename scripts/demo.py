"""End-to-end check for newcomers: the orchestrator Lambda against a local Bedrock Runtime stub.

    .venv/bin/python scripts/demo.py

What it does, offline and with fake credentials:

1. starts the local Bedrock Runtime stub (``tests/support/bedrock_stub.py``) on a free port;
2. writes a small runtime_config.json (one use case) to a temporary directory and sets the environment
   the CDK side would set (``BEDROCK_RESOURCES``, ``IDEMPOTENCY_TABLE``, ...), with
   ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME`` pointing real botocore at the stub;
3. imports the handler and invokes it with the sample API Gateway event
   ``tests/events/invoke_support_ticket_summary.json``, then once more with the primary route throttled
   to show retries and the fallback;
4. prints each response and the Converse request the stub received. The handler's own log line and
   EMF metrics appear on stdout too, as they would in CloudWatch Logs.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from tests.support.bedrock_stub import BedrockStub, Fault  # noqa: E402

ACCOUNT = "123456789012"
SAMPLE_CONFIG: dict[str, Any] = {
    "schema_version": 1,
    "environment": "demo",
    "use_cases": {
        "support-ticket-summary": {
            "purpose": "Summarize an inbound customer support ticket thread into a handover note.",
            "risk_tier": "low",
            "routes": {
                "primary": {
                    "source": "us.anthropic.claude-haiku-4-5-20251001-v1:0",
                    "model_id": "anthropic.claude-haiku-4-5-20251001-v1:0",
                    "price_per_1k_input_usd": 0.001,
                    "price_per_1k_output_usd": 0.005,
                    "prompt_caching": True,
                },
                "fallback": {
                    "source": "us.amazon.nova-lite-v1:0",
                    "model_id": "amazon.nova-lite-v1:0",
                    "price_per_1k_input_usd": None,
                    "price_per_1k_output_usd": None,
                    "prompt_caching": False,
                },
            },
            "guardrail": {
                "blocked_input_message": "This ticket cannot be summarized.",
                "blocked_output_message": "The summary was withheld.",
            },
            "limits": {"max_input_tokens": 6000, "max_output_tokens": 400},
            "latency_p95_ms": 4000,
            "log_prompts_and_responses": False,
            "prompt": {"version": "demo-1", "system": "You summarize support tickets into handover notes."},
        }
    },
}
RESOURCES = {
    "support-ticket-summary": {
        "primary": "demoprimary1",
        "fallback": "demofallbk01",
        "guardrail": "demoguardrl1",
        "guardrail_version": "1",
    }
}


@dataclass
class DemoContext:
    """The parts of the Lambda context the handler uses."""

    function_name: str = "demo-orchestrator"
    function_version: str = "$LATEST"
    invoked_function_arn: str = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:demo-orchestrator"
    memory_limit_in_mb: int = 512
    aws_request_id: str = "demo-request"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def banner(title: str) -> None:
    print(f"\n=== {title} " + "=" * max(0, 96 - len(title)), flush=True)


def main() -> int:
    with BedrockStub(default_latency_ms=20) as stub, tempfile.TemporaryDirectory() as tmp:
        config_path = Path(tmp) / "runtime_config.json"
        config_path.write_text(json.dumps(SAMPLE_CONFIG, indent=2))
        for name in [n for n in os.environ if n.startswith("AWS_")]:
            del os.environ[name]  # never reach a real account from the demo
        os.environ.update(
            {
                "AWS_ACCESS_KEY_ID": "demo",
                "AWS_SECRET_ACCESS_KEY": "demo",
                "AWS_REGION": "us-east-1",
                "AWS_CONFIG_FILE": str(Path(tmp) / "none"),
                "AWS_SHARED_CREDENTIALS_FILE": str(Path(tmp) / "none"),
                "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": stub.endpoint_url,
                "BEDROCK_RESOURCES": json.dumps(RESOURCES),
                "IDEMPOTENCY_TABLE": "demo-idempotency",
                "POWERTOOLS_SERVICE_NAME": "orchestrator-demo",
                "POWERTOOLS_METRICS_NAMESPACE": "BedrockPlatformDemo",
                "RUNTIME_CONFIG_PATH": str(config_path),
                "BEDROCK_BACKOFF_BASE_MS": "50",
            }
        )
        from lambdas.orchestrator import handler

        event = json.loads(
            (PROJECT_ROOT / "tests" / "events" / "invoke_support_ticket_summary.json").read_text()
        )

        banner("1. a normal request (handler log line and EMF metrics follow)")
        response = handler.lambda_handler(event, DemoContext())
        banner("response")
        print(json.dumps({**response, "body": json.loads(response["body"])}, indent=2))
        banner("what Bedrock received (Converse)")
        call = stub.calls[-1]
        print(json.dumps({"modelId": call.target, **call.body}, indent=2))

        stub.reset()
        stub.script("demoprimary1", [Fault.throttling()] * 3)
        banner("2. primary throttled three times: retries, then the fallback")
        response = handler.lambda_handler(event, DemoContext())
        body = json.loads(response["body"])
        banner("response")
        print(
            json.dumps(
                {k: body[k] for k in ("route", "attempts", "fallbackUsed", "estimatedCostUsd")}, indent=2
            )
        )
        print(f"Bedrock calls: {[c.target.rsplit('/', 1)[-1] for c in stub.calls]}")
        return 0 if response["statusCode"] == 200 and body["fallbackUsed"] else 1


if __name__ == "__main__":
    sys.exit(main())
