"""``python -m delivery.loadtest``: an open-loop load test of one use case through the orchestration API,
bounded in time and in requests, every request signed with SigV4; p50/p95/p99 and the success rate.

Open loop: request ``i`` is started at ``i / rate`` seconds whatever happened to the earlier ones (a slow
answer does not slow the arrivals, as with real callers), until ``duration`` has passed or ``max_requests``
have been sent; every request then gets ``timeout`` seconds to answer. A request that fails to connect or
times out counts as failed (status 0).

    python -m delivery.loadtest --url https://<api>.execute-api.us-east-1.amazonaws.com/v1/ \\
        --region us-east-1 --use-case policy-qa --rps 1 --duration 120 --max-requests 5000
    python -m delivery.loadtest --offline --use-case policy-qa --rps 20 --duration 10   # the local stand-in

The readiness gate runs it at ``LOAD_TEST_MULTIPLIER`` x each contract's ``release.peak_rps`` and holds when
the success rate is below ``release.min_success_rate`` or p95 is above ``latency_p95_ms``; the benchmark
(``benchmarks/run.py`` item 11) runs this command against the local stand-in.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: (HTTP status or 0, latency in milliseconds) of one request.
Outcome = tuple[int, float]
Sender = Callable[[int], Outcome]


@dataclass(frozen=True)
class LoadPlan:
    rate_rps: float
    duration_s: float
    max_requests: int
    timeout_s: float = 30.0

    def problems(self) -> list[str]:
        found = []
        if not self.rate_rps > 0:
            found.append(f"rate must be above 0 requests per second, got {self.rate_rps}")
        if not self.duration_s > 0:
            found.append(f"duration must be above 0 seconds, got {self.duration_s}")
        if self.max_requests < 1:
            found.append(f"max requests must be at least 1, got {self.max_requests}")
        return found

    def start_times(self) -> list[float]:
        """When each request starts, in seconds from the first: every ``1 / rate`` seconds, within the
        duration and the request bound."""
        count = min(self.max_requests, math.ceil(self.duration_s * self.rate_rps - 1e-9))
        return [i / self.rate_rps for i in range(max(count, 1))]


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile (``share`` in 0..1) of ``values``; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


@dataclass
class LoadResult:
    plan: LoadPlan
    statuses: Counter[int] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def sent(self) -> int:
        return sum(self.statuses.values())

    @property
    def succeeded(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)

    @property
    def success_rate(self) -> float:
        return self.succeeded / self.sent if self.sent else 0.0

    def p(self, share: float) -> float | None:
        """Latency percentile of the answered requests (any status but 0)."""
        return percentile(self.latencies_ms, share)

    def summary(self) -> dict[str, Any]:
        return {
            "plan": asdict(self.plan),
            "sent": self.sent,
            "succeeded": self.succeeded,
            "success_rate": round(self.success_rate, 4),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "p50_ms": self.p(0.50),
            "p95_ms": self.p(0.95),
            "p99_ms": self.p(0.99),
            "elapsed_s": round(self.elapsed_s, 3),
            "achieved_rps": round(self.sent / self.elapsed_s, 3) if self.elapsed_s else None,
        }

    def render(self, label: str) -> str:
        def ms(value: float | None) -> str:
            return "-" if value is None else f"{value:.0f} ms"

        codes = ", ".join(f"{'no answer' if k == 0 else k}: {v}" for k, v in sorted(self.statuses.items()))
        return (
            f"{label}: {self.sent} requests at {self.plan.rate_rps:g}/s in {self.elapsed_s:.1f} s; success "
            f"{self.success_rate:.1%}; p50 {ms(self.p(0.5))}, p95 {ms(self.p(0.95))}, p99 {ms(self.p(0.99))} "
            f"({codes})"
        )


class InlineExecutor(Executor):
    """Runs each submitted call at once, in the caller's thread (tests with a fake clock)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # a sender that raises is a failed request, recorded by the caller
            future.set_exception(error)
        return future


def run_load(
    plan: LoadPlan,
    send: Sender,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    executor: Executor | None = None,
) -> LoadResult:
    """Start ``send(i)`` at each of ``plan.start_times()`` and collect every outcome. ``clock``, ``sleep`` and
    ``executor`` are the real ones unless a test passes its own."""
    problems = plan.problems()
    if problems:
        raise ValueError("; ".join(problems))
    times = plan.start_times()
    own = executor is None
    # Enough workers for every request that can be in flight at once: rate x the longest answer.
    pool = executor or ThreadPoolExecutor(
        max_workers=max(1, min(256, math.ceil(plan.rate_rps * plan.timeout_s) + 1))
    )
    result = LoadResult(plan)
    futures: list[Future[Outcome]] = []
    started = clock()
    try:
        for i, at in enumerate(times):
            wait = started + at - clock()
            if wait > 0:
                sleep(wait)
            futures.append(pool.submit(send, i))
        for future in futures:
            try:
                status, latency_ms = future.result(timeout=plan.timeout_s + 5)
            except Exception:
                status, latency_ms = 0, float("nan")
            result.statuses[status] += 1
            if status != 0 and not math.isnan(latency_ms):
                result.latencies_ms.append(latency_ms)
    finally:
        if own:
            pool.shutdown(wait=False, cancel_futures=True)
    result.elapsed_s = clock() - started
    return result


# ==================================================================== SigV4 requests


def invoke_url(api_url: str, use_case: str) -> str:
    return api_url.rstrip("/") + f"/use-cases/{use_case}/invoke"


def signed_sender(
    url: str,
    body: Mapping[str, Any],
    *,
    region: str,
    credentials: Any,
    timeout_s: float,
    held: list[str] | None = None,
    error_codes: list[str] | None = None,
) -> Sender:
    """Each call POSTs ``body`` to ``url``, signed with SigV4 (service ``execute-api``) with ``credentials``
    (botocore credentials, refreshed as they expire) and a fresh Idempotency-Key, and returns its outcome.
    With ``held``, the review id of every answer held for review (202) is appended to it, for the caller to
    settle: a load test of a use case that holds answers leaves them in the reviewers' queue otherwise.
    With ``error_codes``, the API's error code of every error answer (``error.code`` of its body, "" when
    it has none) is appended to it."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    data = json.dumps(body).encode()
    lock = threading.Lock()

    def send(_: int) -> Outcome:
        headers = {"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex}
        request = AWSRequest(method="POST", url=url, data=data, headers=headers)
        with lock:  # refreshable credentials are not safe to refresh from many threads at once
            frozen = credentials.get_frozen_credentials()
        # SigV4 for API Gateway's IAM authorization: https://docs.aws.amazon.com/apigateway/latest/developerguide/permissions.html
        SigV4Auth(frozen, "execute-api", region).add_auth(request)
        http = urllib.request.Request(url, data=data, headers=dict(request.headers), method="POST")
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(http, timeout=timeout_s) as response:
                answer = response.read()
                status = response.status
            if held is not None and status == 202:
                review_id = _review_id(answer)
                if review_id:
                    with lock:
                        held.append(review_id)
        except urllib.error.HTTPError as error:
            answer = error.read()
            status = error.code
            if error_codes is not None:
                with lock:
                    error_codes.append(_error_code(answer))
        except (OSError, TimeoutError):
            return 0, float("nan")
        return status, (time.perf_counter() - started) * 1000

    return send


def _json_object(answer: bytes) -> dict[str, Any]:
    """An answer's body as a JSON object, ``{}`` when it is none."""
    try:
        document = json.loads(answer)
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _error_code(answer: bytes) -> str:
    """``error.code`` of an error answer's body (``platform_spec.api.error_body``), "" when it has none."""
    error = _json_object(answer).get("error")
    code = error.get("code") if isinstance(error, dict) else None
    return str(code) if code else ""


def _review_id(answer: bytes) -> str | None:
    value = _json_object(answer).get("reviewId")
    return str(value) if value else None


# ==================================================================== the command


def request_body(root: Path, use_case: str) -> dict[str, Any]:
    """A realistic request of ``use_case``: the first case of its golden suite (``UseCaseEvaluation.golden``:
    a suite of ``kind: golden``, whatever its file is called; the loader requires one)."""
    from platform_config import load_platform

    config = load_platform(root)
    evaluation = config.evaluations.get(use_case)
    golden = evaluation.golden if evaluation is not None else None
    if golden is None:
        raise ValueError(
            f"use case {use_case!r} has no golden suite (kind: golden, e.g. evals/{use_case}/golden.yaml) to take "
            "a request from"
        )
    case = golden.document.cases[0]
    body: dict[str, Any] = {"messages": [{"role": "user", "content": case.text}]}
    if case.context is not None:
        body["context"] = case.context
    return body


@contextmanager
def offline_api(root: Path, use_cases: list[str], region: str) -> Iterator[tuple[str, Any]]:
    """The local stand-in (``delivery.standin``) serving ``use_cases`` and the credentials it accepts."""
    from botocore.credentials import Credentials

    from delivery.standin import serving
    from evaluation.targets import OfflineTarget
    from platform_config import load_platform

    credentials = Credentials("offline", "offline")
    with (
        OfflineTarget(load_platform(root), use_cases) as offline,
        serving(offline, credentials, region) as api,
    ):
        yield api.url, credentials


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m delivery.loadtest",
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Exit status: 0 within the thresholds given, 1 below them, 2 bad usage.",
    )
    parser.add_argument("--use-case", required=True)
    parser.add_argument("--rps", type=float, required=True, help="requests started per second")
    parser.add_argument("--duration", type=float, required=True, help="seconds")
    parser.add_argument("--max-requests", type=int, default=10_000)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds a request may take")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="the API's URL (stack output ApiUrl), signed with your AWS credentials")
    target.add_argument(
        "--offline", action="store_true", help="the local stand-in (handler + Bedrock emulator)"
    )
    parser.add_argument("--region", default="us-east-1", help="the API's region (SigV4)")
    parser.add_argument("--min-success-rate", type=float, help="exit 1 below this share of 2xx answers")
    parser.add_argument("--max-p95-ms", type=float, help="exit 1 above this p95 latency")
    parser.add_argument("--json", type=Path, help="write the summary here")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args(argv)
    plan = LoadPlan(
        rate_rps=args.rps, duration_s=args.duration, max_requests=args.max_requests, timeout_s=args.timeout
    )
    if plan.problems():
        print("; ".join(plan.problems()), file=sys.stderr)
        return 2
    from platform_config import ConfigError

    try:
        body = request_body(args.root, args.use_case)
    except ConfigError as error:
        print(error.report("nothing was sent"), file=sys.stderr)
        return 2
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    if args.offline:
        with offline_api(args.root, [args.use_case], args.region) as (url, credentials):
            sender = signed_sender(
                invoke_url(url, args.use_case),
                body,
                region=args.region,
                credentials=credentials,
                timeout_s=args.timeout,
            )
            result = run_load(plan, sender)
    else:
        import boto3

        credentials = boto3.Session(region_name=args.region).get_credentials()
        if credentials is None:
            print("no AWS credentials: the API uses IAM authorization (SigV4)", file=sys.stderr)
            return 2
        sender = signed_sender(
            invoke_url(args.url, args.use_case),
            body,
            region=args.region,
            credentials=credentials,
            timeout_s=args.timeout,
        )
        result = run_load(plan, sender)
    print(result.render(args.use_case))
    if args.json:
        args.json.write_text(json.dumps(result.summary(), indent=1) + "\n", encoding="utf-8")
    held = verdict(result, min_success_rate=args.min_success_rate, max_p95_ms=args.max_p95_ms)
    for message in held:
        print(f"HOLD: {message}", file=sys.stderr)
    return 1 if held else 0


def verdict(result: LoadResult, *, min_success_rate: float | None, max_p95_ms: float | None) -> list[str]:
    """Why ``result`` does not meet the thresholds (empty: it does)."""
    held = []
    if min_success_rate is not None and result.success_rate < min_success_rate:
        held.append(
            f"success rate {result.success_rate:.2%} is below {min_success_rate:.2%} "
            f"({result.sent - result.succeeded} of {result.sent} requests not answered 2xx: "
            f"{dict(sorted((k, v) for k, v in result.statuses.items() if not 200 <= k < 300))})"
        )
    p95 = result.p(0.95)
    if max_p95_ms is not None and (p95 is None or p95 > max_p95_ms):
        held.append(f"p95 latency {'-' if p95 is None else f'{p95:.0f} ms'} is above {max_p95_ms:.0f} ms")
    return held


if __name__ == "__main__":
    sys.exit(main())
