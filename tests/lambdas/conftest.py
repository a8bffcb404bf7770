"""Fixtures for the orchestrator and review Lambda tests.

* Real AWS settings are removed from the environment and fake credentials set, so nothing can reach an
  AWS account; Bedrock Runtime is the local stub (``bedrock_platform_devtools.bedrock_stub``) reached by real
  botocore through ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``.
* ``load_orchestrator(...)`` writes a runtime_config.json into tmp, sets the environment and imports
  ``lambdas.orchestrator.handler`` afresh, so every test gets new module-level state (settings, clients,
  circuit breaker). Backoff bases are tiny (1-5 ms) and read timeouts short through that environment,
  never through sleeps.
* ``dripping_store`` is the endpoint of a store (DynamoDB, SQS) that sends its answer a byte at a time:
  each read inside botocore's read timeout, the whole answer far past it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import json
import os
import socket
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from bedrock_platform_devtools.bedrock_stub import BedrockStub
from human_review.offline import OfflinePlatform
from platform_config import PlatformConfig, load_platform
from tests.lambdas.orchestrator_testkit import (
    CONFIGURATION_ROOT,
    HANDLER_MODULE,
    TEST_RESILIENCE,
    FakeLambdaContext,
    base_env,
    reset_powertools_logger,
    sample_runtime_config,
)

# --- environment --------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def isolated_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No real AWS configuration can leak in; fake credentials for SigV4 signing."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "POWERTOOLS_", "BEDROCK_", "IDEMPOTENCY_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("RUNTIME_CONFIG_PATH", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="session")
def stub_server() -> Iterator[BedrockStub]:
    with BedrockStub(default_latency_ms=0) as server:
        yield server


@pytest.fixture
def stub(stub_server: BedrockStub) -> Iterator[BedrockStub]:
    stub_server.reset()
    yield stub_server
    stub_server.reset()


LoadOrchestrator = Callable[..., ModuleType]


@pytest.fixture
def load_orchestrator(
    stub: BedrockStub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[LoadOrchestrator]:
    """Import the handler afresh with ``config`` (default: the sample) and env overrides."""
    del capsys  # requested so that the handler's logger binds to the captured stdout

    def load(
        config: dict[str, Any] | None = None,
        *,
        resilience: Mapping[str, Any] | None = None,
        **env: str | None,
    ) -> ModuleType:
        config_path = tmp_path / "runtime_config.json"
        config_path.write_text(json.dumps(config if config is not None else sample_runtime_config()))
        for name, value in {**base_env(stub, config_path), **env}.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        reset_powertools_logger()
        sys.modules.pop(HANDLER_MODULE, None)
        module = importlib.import_module(HANDLER_MODULE)
        module.configure(dataclasses.replace(TEST_RESILIENCE, **(resilience or {})))
        module.metrics.clear_metrics()
        return module

    yield load
    sys.modules.pop(HANDLER_MODULE, None)


@pytest.fixture
def orchestrator(load_orchestrator: LoadOrchestrator) -> ModuleType:
    return load_orchestrator()


# --- Lambda context -----------------------------------------------------------------------------------


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


# --- the review path ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def config() -> PlatformConfig:
    """The orchestrator tests' configuration (contracts, prompts, evaluation suites): the repository's, with
    every shipped example a fork retired added back (``orchestrator_testkit.CONFIGURATION_ROOT``)."""
    return load_platform(CONFIGURATION_ROOT)


@pytest.fixture
def platform(config: PlatformConfig) -> Iterator[OfflinePlatform]:
    """The dev environment's orchestrator and review functions offline (``human_review.offline``)."""
    with OfflinePlatform(config, "dev") as offline:
        yield offline


@pytest.fixture
def dripping_store() -> Iterator[str]:
    """The endpoint of a store that answers every request with an empty 200, a byte every 0.3 s: each read
    is well inside the store's read timeout, the whole answer takes ~25 s."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)
    stop = threading.Event()
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: 2\r\n\r\n{}"

    def drip(connection: socket.socket) -> None:
        with connection, contextlib.suppress(OSError):
            connection.recv(65536)
            for byte in answer:
                if stop.wait(0.3):
                    return
                connection.sendall(bytes([byte]))

    def accept() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                threading.Thread(target=drip, args=(server.accept()[0],), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    server.close()
