"""End-to-end check for newcomers: the orchestrator Lambda against a local Bedrock Runtime stub.

    .venv/bin/python scripts/demo.py [--use-case ID] [--body JSON | --body @FILE]

What it does, offline and with fake credentials, for one use case of the dev environment (``--use-case``;
by default the first with a routing tier, to show classify-then-route, else the first):

1. starts the local Bedrock Runtime stub (``bedrock_platform_devtools.bedrock_stub``) on a free port;
2. writes the dev environment's runtime_config.json, built from the repository's own contracts and
   prompts exactly as synth builds it, to a temporary directory and sets the environment the CDK side
   would set (``BEDROCK_RESOURCES``, ``IDEMPOTENCY_TABLE``, ...), with
   ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME`` pointing real botocore at the stub;
3. imports the handler and invokes it with the sample API Gateway event
   (``devtools/events/invoke_support_ticket_summary.json``) sent to that use case, with the first case of its
   golden suite as the request (what the load test sends), then once more with the route that answered
   throttled to show retries and the fallback;
4. prints each response and the Converse request the stub received. The handler's own log line and
   EMF metrics appear on stdout too, as they would in CloudWatch Logs.

With ``--body`` it sends that request body instead (as text, exactly as API Gateway passes a body on:
try a field the contract fixes, a malformed body, an assistant turn, the error codes README "Calling the
API" lists), once, prints the answer and what reached the model, and exits 0 whatever the status. The
stub answers "Stub reply: " and the message and applies no guardrail (``make eval`` emulates each
contract's guardrail).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from platform_config.model import Contract

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

ACCOUNT = "123456789012"
ENVIRONMENT = "dev"


def choose_use_case(contracts: Sequence[Contract], requested: str | None = None) -> str:
    """The use case the demo sends its requests to: ``requested``, else the first of ``contracts`` (the
    dev environment's) with a routing tier (the demo shows a request routed by it), else the first. Raises
    ValueError with the fix when none fits."""
    enabled = sorted(c.id for c in contracts)
    if requested is not None:
        if requested not in enabled:
            raise ValueError(
                f"--use-case {requested}: not enabled in {ENVIRONMENT} (enabled: {', '.join(enabled) or 'none'}). "
                f"Fix: name one of those, or add {ENVIRONMENT} to the `environments` of contracts/{requested}.yaml"
            )
        return requested
    if not enabled:
        raise ValueError(
            f"no use case is enabled in {ENVIRONMENT}: the demo has nothing to send a request to. Fix: add "
            f"{ENVIRONMENT} to the `environments` of a contract in contracts/"
        )
    tiered = sorted(c.id for c in contracts if c.tiers)
    return (tiered or enabled)[0]


def own_body(argument: str) -> str:
    """``--body``'s request body: the text itself, or with a leading ``@`` the file's text. Raises
    ValueError with the fix for a file that cannot be read."""
    if not argument.startswith("@"):
        return argument
    path = Path(argument[1:])
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(
            f"--body {argument}: cannot read {path} ({error}). Fix: name a UTF-8 file of the request body, "
            "or give the JSON itself"
        ) from None


def demo_configuration() -> tuple[dict[str, Any], dict[str, Any]]:
    """The dev environment's real runtime config (from contracts/ and prompts/, exactly as synth builds
    it) and a BEDROCK_RESOURCES with made-up profile and guardrail ARNs (deploy-time values)."""
    from platform_config import load_platform
    from platform_config.runtime import runtime_config
    from platform_spec.fields import to_dict
    from platform_spec.review import without_holds

    contracts = load_platform(PROJECT_ROOT).contracts_for(ENVIRONMENT)
    prefix = f"arn:aws:bedrock:us-east-1:{ACCOUNT}"
    resources = {
        "use_cases": {
            c.id: {
                "profile_arns": {
                    route: f"{prefix}:application-inference-profile/"
                    + f"{c.id[:6]}{route[:4]}".replace("-", "")
                    for route in c.routes
                },
                "guardrail_arn": f"{prefix}:guardrail/" + f"{c.id[:8]}gr".replace("-", ""),
                "guardrail_version": "1",
            }
            for c in contracts
        }
    }
    # The demo shows the orchestrator alone (no review store): answers are not held here. `make review-demo`
    # shows the review path, with holding.
    return without_holds(to_dict(runtime_config(contracts, ENVIRONMENT))), resources


def banner(title: str) -> None:
    print(f"\n=== {title} " + "=" * max(0, 96 - len(title)), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python scripts/demo.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--use-case",
        metavar="ID",
        help=f"the use case to send the requests to (enabled in {ENVIRONMENT}; default: chosen as above)",
    )
    parser.add_argument(
        "--body",
        metavar="JSON|@FILE",
        help="send this request body once instead of the sample (inline, or @ and a file), and show the answer",
    )
    args = parser.parse_args(argv)  # --help answers here: no stub is started, nothing is imported or written
    from bedrock_platform_devtools.bedrock_stub import BedrockStub, Fault
    from bedrock_platform_devtools.samples import FakeLambdaContext, invoke_event
    from delivery.loadtest import request_body
    from platform_config import ConfigError, load_platform

    try:
        config, resources = demo_configuration()
        use_case = choose_use_case(load_platform(PROJECT_ROOT).contracts_for(ENVIRONMENT), args.use_case)
        if args.body is None:
            event = invoke_event(use_case, request_body(PROJECT_ROOT, use_case))
        else:
            event = invoke_event(use_case, raw_body=own_body(args.body))
    except ConfigError as error:
        print(error.report("the demo did not start"), file=sys.stderr)
        return 2
    except ValueError as error:
        print(f"scripts/demo.py: {error}", file=sys.stderr)
        return 2
    with BedrockStub(default_latency_ms=20) as stub, tempfile.TemporaryDirectory() as tmp:
        config_path = Path(tmp) / "runtime_config.json"
        config_path.write_text(json.dumps(config, indent=2))
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
                "BEDROCK_RESOURCES": json.dumps(resources),
                "IDEMPOTENCY_TABLE": "demo-idempotency",
                "POWERTOOLS_SERVICE_NAME": "orchestrator-demo",
                "POWERTOOLS_METRICS_NAMESPACE": "BedrockPlatformDemo",
                "RUNTIME_CONFIG_PATH": str(config_path),
            }
        )
        from lambdas.orchestrator import handler
        from platform_spec.api import ResilienceSettings

        handler.configure(ResilienceSettings(backoff_base_s=0.05))  # a short demo: quick retries

        context = FakeLambdaContext(
            remaining_ms=29_000,
            function_name="demo-orchestrator",
            invoked_function_arn=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:demo-orchestrator",
            aws_request_id="demo-request",
        )
        title = "your request body" if args.body is not None else "a normal request"
        banner(f"1. {title} to {use_case} (handler log line and EMF metrics follow)")
        response = handler.lambda_handler(event, context)
        banner("response")
        print(json.dumps({**response, "body": json.loads(response["body"])}, indent=2))
        banner("what Bedrock received (Converse)")
        if not stub.calls:
            print(f"nothing: the request to {use_case} reached no model (the response above says why)")
            return 0 if args.body is not None else 1
        call = stub.calls[-1]
        print(json.dumps({"modelId": call.target, **call.body}, indent=2))
        if args.body is not None:
            return 0

        stub.reset()
        # The route that answered: a tier of the contract where the request meets its conditions (a short,
        # single-message ticket: classify-then-route), else primary.
        first_route = json.loads(response["body"])["route"]
        primary_arn = resources["use_cases"][use_case]["profile_arns"][first_route]
        stub.script(primary_arn.rsplit("/", 1)[-1], [Fault.throttling()] * 3)
        banner(f"2. the {first_route!r} route throttled three times: retries, then the fallback")
        response = handler.lambda_handler(event, context)
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
