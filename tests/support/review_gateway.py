"""A local stand-in for the deployed orchestration and review API (API Gateway with IAM authorization)
in front of :class:`human_review.offline.OfflinePlatform`: real SigV4 signing (botocore), real STS
AssumeRole of the reviewer role (moto), real HTTP, the real functions behind it, answers held for review.

The stand-in checks what API Gateway's IAM authorization would: the request is signed for
``execute-api``, and the signer's identity (here: the access key, caller or the reviewer role's session)
may invoke the route (the reviewer routes only for the reviewer role, answered 403 ``{"Message"}`` without
a code otherwise, as API Gateway does). It then calls the functions as the proxy integration would.
Not emulated: the signature's validity (API Gateway verifies it with the key's secret)."""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple

from bedrock_platform_devtools.samples import CALLER_ARN, REVIEWER_ARN, api_event
from bedrock_platform_devtools.serving import serving_in_background
from human_review.offline import ORCHESTRATOR, REVIEW_API, OfflinePlatform
from platform_config import PlatformConfig

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


class Signed(NamedTuple):
    """One signed request as API Gateway receives it: the signer's access key id, the method, the path
    below the stage (``/use-cases/rfp-drafting/invoke``) and the status answered."""

    access_key: str
    method: str
    path: str
    status: int


class Gateway(BaseHTTPRequestHandler):
    platform: OfflinePlatform
    caller_key: str  # the caller's access key id; any other is a session of the reviewer role (moto's STS)
    seen: list[tuple[str, str, str]]
    signed: list[Signed]
    lock: threading.Lock  # one request at a time through the functions, as in one Lambda instance each

    def log_message(self, format: str, *args: Any) -> None:
        del format, args

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        with self.lock:
            status = self._answer(method)
        signed = re.match(r"AWS4-HMAC-SHA256 Credential=([^/]+)/", self.headers.get("Authorization") or "")
        if signed is not None:
            path = urllib.parse.urlsplit(self.path).path.removeprefix("/v1")
            self.signed.append(Signed(signed.group(1), method, path, status))

    def _answer(self, method: str) -> int:
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
        return self._reply(reply.status, reply.body)

    def _reply(self, status: int, body: dict[str, Any]) -> int:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        return status


#: (identity, method, resource) of every request the stand-in routed, in order.
Seen = list[tuple[str, str, str]]


@contextmanager
def review_gateway(
    config: PlatformConfig,
    environment: str = "dev",
    *,
    caller_key: str | None = None,
    signed: list[Signed] | None = None,
) -> Iterator[tuple[OfflinePlatform, str, Seen]]:
    """The platform behind the stand-in, the stand-in's stage URL (``.../v1/``) and what it saw. The caller
    signs with ``caller_key`` (by default the platform session's access key id); ``signed`` receives every
    signed request with the status it was answered."""
    with OfflinePlatform(config, environment) as platform:
        seen: Seen = []
        handler = type(
            "Gateway",
            (Gateway,),
            {
                "platform": platform,
                "seen": seen,
                "signed": signed if signed is not None else [],
                "lock": threading.Lock(),
                "caller_key": caller_key or platform.session.get_credentials().access_key,
            },
        )
        with serving_in_background(ThreadingHTTPServer(("127.0.0.1", 0), handler)) as server:
            yield platform, f"http://127.0.0.1:{server.server_address[1]}/v1/", seen
