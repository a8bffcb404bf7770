"""A local stand-in for the orchestration API's API Gateway: what the gates, the load test and the benchmark
call offline instead of a deployed environment.

``ApiGatewayStandIn`` is an HTTP server that checks every request's SigV4 signature (service
``execute-api``, the environment's region) with botocore's signer and the caller's secret, and answers
``POST /v1/use-cases/<id>/invoke`` with the real orchestrator handler (an ``evaluation.targets.OfflineTarget``:
the handler in-process, real botocore against the local Bedrock endpoint and its emulator). Requests go
through the handler one at a time, as in one Lambda execution environment.

What it does not prove: API Gateway's own signature checks, IAM authorization, throttling, WAF, and the
network between a caller and AWS (README, Deploy: what has not been run against AWS).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from bedrock_platform_devtools.serving import serving_in_background
from evaluation.targets import OfflineTarget

INVOKE_PATH = re.compile(r"/v1/use-cases/([a-z0-9-]+)/invoke")
_SIGNATURE = re.compile(
    r"Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, SignedHeaders=([^,]+), Signature=(\w+)"
)


class ApiGatewayStandIn(ThreadingHTTPServer):
    """``POST /v1/use-cases/<id>/invoke``: 403 unless the SigV4 signature (service execute-api) verifies with
    the caller's secret, else the real orchestrator handler's answer."""

    daemon_threads = True

    def __init__(self, offline: OfflineTarget, credentials: Credentials, region: str) -> None:
        self.offline = offline
        self.credentials = credentials
        self.region = region
        self.verified: list[str] = []
        self.rejected: list[str] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1/"

    def signature_valid(self, method: str, path: str, headers: dict[str, str], body: bytes) -> bool:
        match = _SIGNATURE.search(headers.get("authorization", ""))
        if match is None:
            return False
        _, _, region, service, signed, signature = match.groups()
        if (service, region) != ("execute-api", self.region):
            return False
        try:
            signed_headers = {name: headers[name] for name in signed.split(";")}
        except KeyError:
            return False
        request = AWSRequest(
            method=method, url=f"http://{headers['host']}{path}", data=body, headers=signed_headers
        )
        request.context["timestamp"] = headers.get("x-amz-date", "")
        auth = SigV4Auth(self.credentials, "execute-api", self.region)
        expected = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
        return bool(expected == signature)


class _Handler(BaseHTTPRequestHandler):
    server: ApiGatewayStandIn

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        match = INVOKE_PATH.fullmatch(self.path)
        if match is None or not self.server.signature_valid("POST", self.path, headers, body):
            with self.server.lock:
                self.server.rejected.append(self.path)
            self._send(403, {"message": "The request signature we calculated does not match"})
            return
        with self.server.lock:  # one request at a time through the handler, as in one Lambda instance
            self.server.verified.append(match.group(1))
            status, answer = self.server.offline.invoke(match.group(1), json.loads(body))
        self._send(status, json.loads(answer))

    def _send(self, status: int, document: Any) -> None:
        payload = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@contextmanager
def serving(offline: OfflineTarget, credentials: Credentials, region: str) -> Iterator[ApiGatewayStandIn]:
    """The stand-in serving on a free local port until the block ends."""
    with serving_in_background(ApiGatewayStandIn(offline, credentials, region)) as api:
        yield api
