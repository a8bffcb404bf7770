"""Peer figure: LiteLLM's Python SDK (Bedrock Converse route) against bare boto3, interleaved.

Runs in its own venv (``benchmarks/.venv-litellm``: litellm==1.106.2, tenacity, boto3==1.44.5), started
by ``benchmarks.run`` as a subprocess; standard library + litellm + boto3 only, no project imports::

    benchmarks/.venv-litellm/bin/python benchmarks/litellm_worker.py --endpoint URL --out FILE

Three sides, each called ``--block`` times in turn per round (order rotated every round), after a warm-up:

* ``bare``: boto3 ``bedrock-runtime`` ``converse`` (standard retries, total_max_attempts 1) with the
  request LiteLLM sends (one user text message, maxTokens);
* ``litellm_arn``: ``litellm.completion(model="bedrock/converse/<application inference profile ARN>")``,
  the target the orchestrator calls (LiteLLM cannot price it);
* ``litellm_known``: the same with a model id LiteLLM knows (``us.`` Claude Haiku 4.5), so it also
  computes the cost.

stdout is sent to /dev/null while timing (LiteLLM may print); the JSON result goes to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

ARN = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/stsprimary01"
KNOWN_MODEL = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
TEXT = (
    "Customer writes: my order arrived damaged on 3 Nov and I asked for a replacement twice. "
    "Agent replied on 5 Nov asking for photos; customer sent them on 6 Nov. No reply since."
)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--block", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=30)
    args = parser.parse_args()

    for name in [n for n in os.environ if n.startswith("AWS_")]:
        del os.environ[name]
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "x",
            "AWS_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        }
    )
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # LiteLLM and anything else printing: equally silenced for every side

    started = time.perf_counter()
    import boto3

    boto3_import_s = time.perf_counter() - started
    started = time.perf_counter()
    import litellm
    from botocore.config import Config

    litellm_import_s = time.perf_counter() - started
    litellm.suppress_debug_info = True

    client = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=args.endpoint,
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )
    messages: list[dict[str, Any]] = [{"role": "user", "content": TEXT}]

    def bare() -> None:
        response = client.converse(
            modelId=ARN,
            messages=[{"role": "user", "content": [{"text": TEXT}]}],
            inferenceConfig={"maxTokens": 400},
        )
        if not response["output"]["message"]["content"][0]["text"].startswith("Stub reply"):
            raise RuntimeError("unexpected bare answer")

    def litellm_call(model: str) -> Callable[[], None]:
        def call() -> None:
            response = litellm.completion(
                model=f"bedrock/converse/{model}",
                messages=messages,
                max_tokens=400,
                aws_bedrock_runtime_endpoint=args.endpoint,
                aws_access_key_id="x",
                aws_secret_access_key="x",
                aws_region_name="us-east-1",
            )
            if not str(response.choices[0].message.content).startswith("Stub reply"):
                raise RuntimeError("unexpected LiteLLM answer")

        return call

    sides: dict[str, Callable[[], None]] = {
        "bare": bare,
        "litellm_arn": litellm_call(ARN),
        "litellm_known": litellm_call(KNOWN_MODEL),
    }
    for _ in range(args.warmup):
        for call in sides.values():
            call()
    names = list(sides)
    rounds: dict[str, list[list[float]]] = {name: [] for name in names}
    for index in range(args.rounds):
        order = names[index % len(names) :] + names[: index % len(names)]
        for name in order:
            call = sides[name]
            samples: list[float] = []
            for _ in range(args.block):
                t0 = time.perf_counter_ns()
                call()
                samples.append((time.perf_counter_ns() - t0) / 1e6)
            rounds[name].append(samples)
    result = {
        "litellm_version": _version("litellm"),
        "boto3_version": _version("boto3"),
        "python": sys.version.split()[0],
        "import_s": {"boto3": boto3_import_s, "litellm_after_boto3": litellm_import_s},
        "rounds_ms": rounds,
    }
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    return 0


def _version(distribution: str) -> str:
    from importlib.metadata import version

    return version(distribution)


if __name__ == "__main__":
    sys.exit(main())
