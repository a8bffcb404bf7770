"""The suite finds no AWS credentials, from its first import on. In the delivery pipeline's Build step (`make
test`) the environment holds the step role's: CodeBuild sets AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and
AWS_REGION (https://docs.aws.amazon.com/codebuild/latest/userguide/build-env-ref-env-vars.html), and botocore
fetches the credentials when a client is created. Test modules are imported while pytest collects them,
before any fixture runs, and some import a Lambda handler that creates its client at module level."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from bedrock_platform_devtools.serving import serving_in_background

ROOT = Path(__file__).resolve().parents[1]

#: A test module that creates a client when it is imported, as tests/lambdas/test_empty_bucket.py does
#: through lambdas/empty_bucket/handler.py.
PROBE = """
import boto3

CLIENT = boto3.client("sts", region_name="us-east-1")


def test_nothing():
    pass
"""


class _CredentialsEndpoint(BaseHTTPRequestHandler):
    """The container credentials endpoint, as CodeBuild serves the step role's: counts who asked."""

    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.requests.append(self.path)
        body = (
            b'{"AccessKeyId": "ASIASTEPROLE", "SecretAccessKey": "step-role", "Token": "step-role", '
            b'"Expiration": "2099-01-01T00:00:00Z"}'
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def credentials_endpoint() -> Iterator[tuple[str, list[str]]]:
    _CredentialsEndpoint.requests = []
    server = HTTPServer(("127.0.0.1", 0), _CredentialsEndpoint)
    with serving_in_background(server):
        yield (
            f"http://127.0.0.1:{server.server_address[1]}/v2/credentials/step-role",
            _CredentialsEndpoint.requests,
        )


@pytest.mark.slow
def test_collecting_a_test_module_finds_no_credentials_of_the_build_step(
    tmp_path: Path, credentials_endpoint: tuple[str, list[str]]
) -> None:
    # GIVEN the Build step's environment: the step role's credentials behind the container endpoint
    url, requests = credentials_endpoint
    (tmp_path / "test_probe.py").write_text(PROBE)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTEST_"))}
    env |= {
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": url,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    # WHEN pytest, with this suite's conftest, collects a module that creates a client on import
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-n",
        "0",
        "-p",
        "tests.conftest",
    ]
    done = subprocess.run(
        [
            *command,
            "--rootdir",
            str(ROOT),
            "-c",
            str(ROOT / "pyproject.toml"),
            "--collect-only",
            str(tmp_path),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "test_nothing" in done.stdout
    # THEN nothing asked for the step role's credentials
    assert requests == []
