"""Shared helpers of the benchmarks: paths, statistics, the orchestrator's environment, the stub control."""

from __future__ import annotations

import json
import math
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parents[1]
#: The shipped example every request benchmark sends to (a ticket summary: its light tier, its fallback),
#: so each run measures the same scenario; where a fork retired it those items stop with the fix.
EXAMPLE_USE_CASE: Final = "support-ticket-summary"
BENCH_DIR: Final = ROOT / "benchmarks"
VENV_PYTHON: Final = ROOT / ".venv" / "bin" / "python"
LAMBDAS_DIR: Final = ROOT / "lambdas"  # the folder that holds the `orchestrator` package (Lambda's /var/task)
LITELLM_VENV: Final = BENCH_DIR / ".venv-litellm"

#: What `make synth` exports (the Makefile), for every CDK CLI run.
CDK_ENV: Final[dict[str, str]] = {
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    "CDK_DISABLE_CLI_TELEMETRY": "true",
    "CDK_DISABLE_VERSION_CHECK": "true",
    "NODE_OPTIONS": "--v8-pool-size=0",
}

#: The Lambda timeout (constructs/orchestration_api DEFAULT_TIMEOUT) and API Gateway's integration timeout.
LAMBDA_TIMEOUT_S: Final = 28.0
API_GATEWAY_TIMEOUT_S: Final = 29.0

ACCOUNT: Final = "123456789012"
REGION: Final = "us-east-1"


# --- statistics ---------------------------------------------------------------------------------------


def quantile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); ``q`` in [0, 1]."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def round_stats(rounds: Sequence[Sequence[float]]) -> dict[str, float]:
    """Per-round p50 and p95, then the median over rounds (the figures the table shows)."""
    return {
        "p50": median([quantile(r, 0.50) for r in rounds if r]),
        "p95": median([quantile(r, 0.95) for r in rounds if r]),
        "pooled_p50": quantile([v for r in rounds for v in r], 0.50),
        "pooled_p95": quantile([v for r in rounds for v in r], 0.95),
        "samples": float(sum(len(r) for r in rounds)),
    }


# --- processes ----------------------------------------------------------------------------------------


def progress(message: str) -> None:
    """Progress goes to stderr; stdout carries only the table."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The current environment without real AWS settings, plus fake credentials and ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
    )
    env.update(extra or {})
    return env


def timed_run(
    args: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout: float = 600
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Wall seconds of one subprocess (output captured); raises if it fails."""
    started = time.perf_counter()
    completed = subprocess.run(
        list(args), cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout, check=False
    )
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} exited {completed.returncode}:\n{completed.stdout[-2000:]}\n"
            f"{completed.stderr[-4000:]}"
        )
    return seconds, completed


def cpu_timed_run(args: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one subprocess and every descendant it waited for (user + sys).

    CPU time hardly moves when other processes compete for the cores, so it cross-checks noisy walls.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall, _ = timed_run(args, cwd=cwd, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


# --- the orchestrator as Lambda would run it ----------------------------------------------------------


def orchestrator_env(runtime_config_path: Path, endpoint_url: str | None) -> dict[str, str]:
    """What the CDK construct sets on the function (constructs/orchestration_api), plus a local endpoint.

    Resilience settings are the deployed constants (platform_spec.api.ResilienceSettings: 3 attempts per
    route, backoff 200-2000 ms, a 27 s budget within the 28 s timeout).
    """
    from bedrock_platform_devtools.samples import sample_resources

    env = {
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "BEDROCK_RESOURCES": json.dumps(sample_resources(ROOT)),
        "IDEMPOTENCY_TABLE": "bench-idempotency",
        "POWERTOOLS_SERVICE_NAME": "bedrock-orchestrator",
        "POWERTOOLS_METRICS_NAMESPACE": "BedrockPlatform",
        "RUNTIME_CONFIG_PATH": str(runtime_config_path),
    }
    if endpoint_url:
        env["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] = endpoint_url
    return env


def write_runtime_config(directory: Path) -> Path:
    """The devtools' sample runtime_config.json, which the tests use too (three use cases, tiers,
    grounding, one disabled)."""
    from bedrock_platform_devtools.samples import sample_runtime_config

    path = directory / "runtime_config.json"
    path.write_text(json.dumps(sample_runtime_config(ROOT)), encoding="utf-8")
    return path


# --- the stub server's control channel (benchmarks/stub_server.py) ------------------------------------


class StubControl:
    """Sends one-line commands to ``benchmarks.stub_server`` and returns its JSON reply."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.address = (host, port)

    def send(self, command: str) -> dict[str, Any]:
        with socket.create_connection(self.address, timeout=30) as conn:
            conn.sendall(command.encode() + b"\n")
            chunks: list[bytes] = []
            while not chunks or not chunks[-1].endswith(b"\n"):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        reply: dict[str, Any] = json.loads(b"".join(chunks))
        if "error" in reply:
            raise RuntimeError(f"stub control {command!r}: {reply['error']}")
        return reply

    def reset(self) -> None:
        self.send("reset")

    def throttle(self, rate: float, count: int, seed: int) -> None:
        """Script ``count`` outcomes for every request: ThrottlingException with probability ``rate``."""
        self.send(f"throttle {rate} {count} {seed}")

    def hang(self, seconds: float, count: int, match: str | None = None) -> None:
        """Script ``count`` answers that arrive only after ``seconds`` (read timeouts), for every request
        or only for targets containing ``match``."""
        self.send(f"hang {seconds} {count}" + (f" {match}" if match else ""))

    def last_call(self) -> dict[str, Any]:
        return self.send("last")

    def stats(self) -> dict[str, Any]:
        return self.send("stats")


class StubProcess:
    """``benchmarks.stub_server`` in its own process: the endpoint URL and the control channel."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [str(VENV_PYTHON), "-m", "benchmarks.stub_server"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().split()
        if len(line) != 4 or line[0] != "READY":
            self.close()
            raise RuntimeError(f"stub server did not start: {line}")
        self.endpoint_url = line[1]
        self.control = StubControl(int(line[3]))

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> StubProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
