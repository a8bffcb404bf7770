"""`python -m human_review exercise --target <env>`'s deployed client, against a local stand-in for API
Gateway: real SigV4 signing (botocore), real STS AssumeRole of the reviewer role (moto), real HTTP.

The stand-in checks what API Gateway's IAM authorization would: the request is signed for
``execute-api``, and the signer's identity (here: the access key, caller or the reviewer role's session)
may invoke the route (the reviewer routes only for the reviewer role, answered 403 ``{"Message"}`` without
a code otherwise, as API Gateway does). It then calls the functions as the proxy integration would.
Not emulated: the signature's validity (API Gateway verifies it with the key's secret)."""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bedrock_platform_devtools.samples import CALLER_ARN, REVIEWER_ARN, REVIEWER_ROLE_ARN, api_event
from bedrock_platform_devtools.serving import serving_in_background
from human_review.exercise import REVIEWER_SESSION, DeployedClient, ExerciseFailed, exercise
from human_review.offline import ORCHESTRATOR, REVIEW_API, OfflinePlatform
from platform_config import PlatformConfig, load_platform

ROOT = Path(__file__).resolve().parents[2]
ROUTES = (
    ("POST", "/use-cases/{useCaseId}/invoke"),
    ("POST", "/use-cases/{useCaseId}/feedback"),
    ("GET", "/use-cases/{useCaseId}/reviews/{reviewId}"),
    ("GET", "/reviews"),
    ("GET", "/reviews/{reviewId}"),
    ("POST", "/reviews/{reviewId}/decision"),
)


def _route(method: str, path: str) -> tuple[str, dict[str, str]] | None:
    for verb, resource in ROUTES:
        pattern = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", resource) + "$"
        match = re.match(pattern, path)
        if verb == method and match:
            return resource, {k: urllib.parse.unquote(v) for k, v in match.groupdict().items()}
    return None


class _Gateway(BaseHTTPRequestHandler):
    platform: OfflinePlatform
    caller_key: str  # the caller's access key id; any other is a session of the reviewer role (moto's STS)
    seen: list[tuple[str, str, str]]

    def log_message(self, format: str, *args: Any) -> None:
        del format, args

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        url = urllib.parse.urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or None
        authorization = self.headers.get("Authorization") or ""
        signed = re.match(
            r"AWS4-HMAC-SHA256 Credential=([^/]+)/\d{8}/[\w-]+/execute-api/aws4_request", authorization
        )
        if signed is None:
            return self._reply(403, {"message": "Missing Authentication Token"})
        identity = CALLER_ARN if signed.group(1) == self.caller_key else REVIEWER_ARN
        found = _route(method, url.path.removeprefix("/v1"))
        if found is None:
            return self._reply(404, {"message": "Not Found"})
        resource, path_parameters = found
        self.seen.append((identity, method, resource))
        if resource.startswith("/reviews") and identity != REVIEWER_ARN:
            return self._reply(
                403, {"Message": f"User: {identity} is not authorized to perform: execute-api:Invoke"}
            )
        query = dict(urllib.parse.parse_qsl(url.query)) or None
        event = api_event(
            method,
            resource,
            path_parameters or None,
            body=body.decode() if body else None,
            query=query,
            user_arn=identity,
        )
        reply = self.platform.api(ORCHESTRATOR if resource.endswith("/invoke") else REVIEW_API, event)
        self._reply(reply.status, reply.body)

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def config() -> PlatformConfig:
    return load_platform(ROOT)


@pytest.fixture
def gateway(config: PlatformConfig) -> Iterator[tuple[OfflinePlatform, str, list[tuple[str, str, str]]]]:
    with OfflinePlatform(config, "dev") as platform:
        seen: list[tuple[str, str, str]] = []
        handler = type(
            "Gateway",
            (_Gateway,),
            {"platform": platform, "seen": seen, "caller_key": platform.session.get_credentials().access_key},
        )
        with serving_in_background(ThreadingHTTPServer(("127.0.0.1", 0), handler)) as server:
            yield platform, f"http://127.0.0.1:{server.server_address[1]}/v1/", seen


def test_the_deployed_client_walks_the_path_as_caller_and_reviewer_role_session(
    config: PlatformConfig, gateway: tuple[OfflinePlatform, str, list[tuple[str, str, str]]]
) -> None:
    platform, url, seen = gateway
    assumed: list[dict[str, Any]] = []
    platform.session.events.register(
        "provide-client-params.sts.AssumeRole", lambda params, **_: assumed.append(dict(params))
    )
    client = DeployedClient(
        api_url=url, region="us-east-1", reviewer_role_arn=REVIEWER_ROLE_ARN, session=platform.session
    )
    polls: list[float] = []

    def sleep(seconds: float) -> None:  # the deployed scoring function's turn, on a fake clock
        polls.append(seconds)
        platform.drain()

    walk = exercise(
        client,
        config,
        platform.contracts["rfp-drafting"],
        wait_s=60,
        poll_s=5,
        clock=lambda: 5.0 * len(polls),
        sleep=sleep,
    )
    assert [line.split(" ", 1)[0] for line in walk.steps] == [str(i) for i in range(1, 11)]
    assert polls == [5]  # one poll: scored after the first drain
    # the reviewer role was assumed once, with the source identity its trust requires, named as the session
    assert [(a["RoleArn"], a["RoleSessionName"], a.get("SourceIdentity")) for a in assumed] == [
        (REVIEWER_ROLE_ARN, REVIEWER_SESSION, REVIEWER_SESSION)
    ]
    # the reviewer endpoints were called only with the reviewer role's session; the caller was refused there
    assert {(who, resource) for who, _, resource in seen if resource.startswith("/reviews")} == {
        (CALLER_ARN, "/reviews"),
        (REVIEWER_ARN, "/reviews"),
        (REVIEWER_ARN, "/reviews/{reviewId}"),
        (REVIEWER_ARN, "/reviews/{reviewId}/decision"),
    }


def test_an_output_never_scored_fails_the_walk_after_the_wait_naming_the_dead_letter_queue(
    config: PlatformConfig, gateway: tuple[OfflinePlatform, str, list[tuple[str, str, str]]]
) -> None:
    platform, url, _ = gateway
    client = DeployedClient(
        api_url=url, region="us-east-1", reviewer_role_arn=REVIEWER_ROLE_ARN, session=platform.session
    )
    now = [0.0]

    def sleep(seconds: float) -> None:  # the scoring function never runs
        now[0] += seconds

    with pytest.raises(ExerciseFailed, match=r"after 30 s.*ReviewDeadLetterQueueUrl") as failed:
        exercise(
            client,
            config,
            platform.contracts["rfp-drafting"],
            wait_s=30,
            poll_s=10,
            clock=lambda: now[0],
            sleep=sleep,
        )
    assert failed.value.step == "4 scoring"
