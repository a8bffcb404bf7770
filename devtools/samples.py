"""Samples for running the orchestrator outside Lambda: API Gateway events, Lambda contexts, and the two
configuration documents the CDK side hands the function (``runtime_config.json`` and
``BEDROCK_RESOURCES``) with made-up ARNs.

Shared by the tests (``tests/lambdas/orchestrator_testkit.py``), the demo and the benchmarks, so the three
run the handler on the same inputs.
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: API Gateway proxy events, as a REST API with a Lambda proxy integration sends them.
EVENTS_DIRECTORY = Path(__file__).resolve().parent / "events"

ACCOUNT = "123456789012"
REGION = "us-east-1"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:dev-orchestrator"

#: Application inference profile ids (in the ARNs ``sample_resources`` carries): unique substrings, so a
#: test or a benchmark can script the local endpoint per route.
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
    """The ARN of an application inference profile of the sample account."""
    return f"arn:aws:bedrock:{REGION}:{ACCOUNT}:application-inference-profile/{profile_id}"


def guardrail_arn(guardrail_id: str) -> str:
    return f"arn:aws:bedrock:{REGION}:{ACCOUNT}:guardrail/{guardrail_id}"


def sample_runtime_config(project_root: Path) -> dict[str, Any]:
    """A fresh copy (callers change it) of :func:`_sample_runtime_config`."""
    return copy.deepcopy(_sample_runtime_config(project_root.resolve()))


@functools.cache
def _sample_runtime_config(project_root: Path) -> dict[str, Any]:
    """What the CDK side generates for dev from ``project_root``'s contracts (``runtime_config``), with
    three deliberate differences that the tests rely on:

    * support-ticket-summary's ``light`` tier takes requests of at most 40 characters (the contract says
      2,000), so short test texts reach the tier and slightly longer ones the primary;
    * its fallback (Nova Lite) is unpriced, so the "cost unknown, never 0" path is exercised;
    * rfp-drafting is disabled, so the "enabled: false" path is exercised; so is any other use case that
      holds its answers for review (a handler without the review path refuses to start with one enabled;
      the review path's tests run in ``human_review.offline``).
    """
    from platform_config import load_platform
    from platform_config.runtime import runtime_config
    from platform_spec.fields import to_dict

    config: dict[str, Any] = to_dict(runtime_config(load_platform(project_root).contracts_for("dev"), "dev"))
    # a fork that retired one of these examples (README "Quality gates") gets the other differences
    support = config["use_cases"].get("support-ticket-summary")
    if support is not None:
        support["contract"]["model"]["tiers"][0]["max_input_chars"] = 40
        for price in ("price_per_1k_input_usd", "price_per_1k_output_usd"):
            support["routes"]["fallback"][price] = None
    if "rfp-drafting" in config["use_cases"]:
        config["use_cases"]["rfp-drafting"]["enabled"] = False
    for spec in config["use_cases"].values():
        if spec["contract"]["review"]["hold_for_review"]:
            spec["enabled"] = False
    return config


#: The checkout these samples sit in (None when installed without the repository's contracts).
_CHECKOUT = Path(__file__).resolve().parents[1]


def sample_resources(project_root: Path | None = None) -> dict[str, Any]:
    """BEDROCK_RESOURCES as the construct writes it: every route's profile ARN, the guardrail ARN and version.

    The shipped use cases get the fixed ids of :data:`PROFILES` and :data:`GUARDRAILS` (tests script the
    local endpoint by them); any other use case of ``project_root``'s contracts (one a product team added,
    as README "Add a use case" says) gets ids derived from its name and routes, so the samples cover every
    contract without a code change."""
    root = project_root or _CHECKOUT
    profiles = dict(PROFILES)
    guardrails = dict(GUARDRAILS)
    if (root / "contracts").is_dir():
        for use_case, spec in sample_runtime_config(root)["use_cases"].items():
            if use_case not in profiles:
                profiles[use_case] = {route: _derived_id(use_case, route) for route in spec["routes"]}
                guardrails[use_case] = _derived_id(use_case, "guardrail")
    return {
        "use_cases": {
            use_case: {
                "profile_arns": {route: arn(profile) for route, profile in routes.items()},
                "guardrail_arn": guardrail_arn(guardrails[use_case]),
                "guardrail_version": "3",
            }
            for use_case, routes in profiles.items()
        }
    }


def _derived_id(use_case: str, part: str) -> str:
    return hashlib.sha256(f"{use_case}/{part}".encode()).hexdigest()[:12]


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
    """One of ``events/*.json`` (for instance ``invoke_support_ticket_summary.json``)."""
    event: dict[str, Any] = json.loads((EVENTS_DIRECTORY / name).read_text(encoding="utf-8"))
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


# --- the review path's events ----------------------------------------------------------------------------

#: IAM identities of the review path's samples: a calling service's role session, and a reviewer's
#: session of the environment's reviewer role.
CALLER_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/support-console/support-console"
REVIEWER_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/Dev-Platform-HumanReviewReviewerRole"
REVIEWER_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/Dev-Platform-HumanReviewReviewerRole/alice"


def api_event(
    method: str,
    resource: str,
    path_parameters: dict[str, str] | None = None,
    *,
    body: Any = None,
    query: dict[str, str] | None = None,
    user_arn: str | None = CALLER_ARN,
    request_id: str | None = None,
    headers: dict[str, str] | None = None,
    access_key: str | None = None,
) -> dict[str, Any]:
    """An API Gateway REST proxy event for any route (``resource`` as the API defines it, e.g.
    ``/reviews/{reviewId}``), signed by ``user_arn`` (``requestContext.identity.userArn``) with the access
    key id ``access_key`` (``requestContext.identity.accessKey``)."""
    import uuid

    path = resource
    for name, value in (path_parameters or {}).items():
        path = path.replace("{" + name + "}", value)
    all_headers = {
        "Content-Type": "application/json",
        "Host": "abc123defg.execute-api.us-east-1.amazonaws.com",
    }
    all_headers.update(headers or {})
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/v1{path}",
            "stage": "v1",
            "requestId": request_id or str(uuid.uuid4()),
            "accountId": ACCOUNT,
            "identity": {
                "sourceIp": "10.0.0.1",
                "userArn": user_arn,
                "caller": None,
                "accessKey": access_key,
            },
        },
        "body": None if body is None else (body if isinstance(body, str) else json.dumps(body)),
        "isBase64Encoded": False,
    }


def sqs_event(
    messages: list[dict[str, Any]], queue_arn: str = f"arn:aws:sqs:{REGION}:{ACCOUNT}:review-outputs"
) -> dict[str, Any]:
    """An SQS event as Lambda's event source mapping delivers it, from ``ReceiveMessage`` results."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {
                    "ApproximateReceiveCount": str(
                        (m.get("Attributes") or {}).get("ApproximateReceiveCount", "1")
                    )
                },
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }
