"""The orchestrator Lambda in-process, against the stub in its own process (items 4, 6 and 7).

    .venv/bin/python -m benchmarks.orchestrator_worker MODE --endpoint URL --control PORT --out FILE

started by ``benchmarks.run`` in a fresh interpreter per mode. The handler is imported the way Lambda
imports it (``lambdas/`` on ``sys.path``, ``import orchestrator.handler``) with the environment the CDK
construct sets and the default resilience settings. stdout (the handler's log line and EMF metrics) goes
to /dev/null for the whole process, so both sides pay the same; results are written to ``--out``.

Modes:

* ``warm``: bare boto3 ``converse`` vs ``lambda_handler`` for a valid invoke (no idempotency key), same
  endpoint and the same Converse request (the body the stub recorded from the handler), interleaved
  blocks after a warm-up.
* ``profile``: cProfile of N handler calls and of N bare calls; self time per package and top functions.
* ``concurrency``: T caller threads, ~20 % of Bedrock answers ThrottlingException; bare vs handler phases
  interleaved; success, lost requests, wrong answers, latency, telemetry integrity, RSS growth.
* ``worst``: every attempt throttled (default backoff); with ``--hang``, every attempt hanging, and the
  primary alone hanging (the fallback healthy): the time a caller waits for the fallback's answer. The
  hang runs use a Lambda context whose remaining time counts down from 28 s, as the real one does.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import json
import os
import pstats
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from bedrock_platform_devtools.samples import (
    PROFILES,
    CountdownLambdaContext,
    FakeLambdaContext,
    invoke_event,
)
from benchmarks.common import (
    EXAMPLE_USE_CASE,
    LAMBDA_TIMEOUT_S,
    LAMBDAS_DIR,
    ROOT,
    StubControl,
    clean_env,
    orchestrator_env,
    quantile,
    write_runtime_config,
)

TICKET = (
    "Customer writes: my order arrived damaged on 3 Nov and I asked for a replacement twice. "
    "Agent replied on 5 Nov asking for photos; customer sent them on 6 Nov. No reply since."
)


# --- setup --------------------------------------------------------------------------------------------


@dataclass
class Harness:
    handler: ModuleType
    client: Any
    control: StubControl
    converse_args: dict[str, Any] = field(default_factory=dict)

    def event(self, n: int) -> dict[str, Any]:
        """A valid invoke event, unique per ``n`` (request id and ticket text) to detect crossed answers."""
        event = invoke_event(
            EXAMPLE_USE_CASE, {"messages": [{"role": "user", "content": f"{TICKET} [ticket {n}]"}]}
        )
        event["requestContext"]["requestId"] = f"bench-{n:08d}"
        return event

    def context(self, remaining_ms: int = int(LAMBDA_TIMEOUT_S * 1000)) -> FakeLambdaContext:
        return FakeLambdaContext(remaining_ms=remaining_ms)

    def call_handler(self, event: dict[str, Any], context: FakeLambdaContext | None = None) -> dict[str, Any]:
        response: dict[str, Any] = self.handler.lambda_handler(event, context or self.context())
        return response

    def call_bare(self) -> dict[str, Any]:
        response: dict[str, Any] = self.client.converse(**self.converse_args)
        return response


def setup(endpoint: str, control_port: int) -> Harness:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # the handler's log line and EMF document: silenced for both sides alike
    tmp = Path(tempfile.mkdtemp(prefix="bench-orchestrator-"))
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        del os.environ[name]
    os.environ.update(clean_env(orchestrator_env(write_runtime_config(tmp), endpoint)))
    sys.path.insert(0, str(LAMBDAS_DIR))
    import boto3
    import orchestrator.handler as handler
    from botocore.config import Config

    resilience = handler.settings.resilience
    client = boto3.client(
        "bedrock-runtime",
        region_name=handler.settings.region,
        config=Config(  # what orchestrator.bedrock.BedrockClients creates
            retries={"mode": "standard", "total_max_attempts": 1},
            connect_timeout=resilience.connect_timeout_s,
            read_timeout=resilience.read_timeout_s,
            tcp_keepalive=True,
        ),
    )
    harness = Harness(handler=handler, client=client, control=StubControl(control_port))
    harness.control.reset()
    response = harness.call_handler(harness.event(0))
    if response["statusCode"] != 200:
        raise RuntimeError(f"handler answered {response['statusCode']}: {response.get('body')}")
    last = harness.control.last_call()
    harness.converse_args = {"modelId": last["target"], **last["body"]}
    harness.call_bare()
    return harness


def rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


# --- warm ---------------------------------------------------------------------------------------------


def warm(harness: Harness, rounds: int, block: int, warmup: int) -> dict[str, Any]:
    events = [harness.event(n) for n in range(1, warmup + rounds * block + 1)]
    context = harness.context()
    failures = {"ours": 0, "bare": 0}

    def ours(event: dict[str, Any]) -> None:
        response = harness.call_handler(event, context)
        if response["statusCode"] != 200 or json.loads(response["body"])["attempts"] != 1:
            failures["ours"] += 1

    def bare(event: dict[str, Any]) -> None:
        del event
        if harness.call_bare()["stopReason"] != "end_turn":
            failures["bare"] += 1

    sides: dict[str, Callable[[dict[str, Any]], None]] = {"bare": bare, "ours": ours}
    for n in range(warmup):
        bare(events[n])
        ours(events[n])
    harness.control.reset()
    before = harness.control.stats()["connections"]
    samples: dict[str, list[list[float]]] = {"bare": [], "ours": []}
    cursor = warmup
    for index in range(rounds):
        order = ["bare", "ours"] if index % 2 == 0 else ["ours", "bare"]
        for name in order:
            call = sides[name]
            timings: list[float] = []
            for offset in range(block):
                event = events[cursor + offset]
                t0 = time.perf_counter_ns()
                call(event)
                timings.append((time.perf_counter_ns() - t0) / 1e6)
            samples[name].append(timings)
        cursor += block
    stats = harness.control.stats()
    return {
        "rounds_ms": samples,
        "failures": failures,
        "stub_calls": stats["calls"],
        "new_connections": stats["connections"] - before,
    }


# --- profile ------------------------------------------------------------------------------------------


def _package(filename: str) -> str:
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins (C)"
    path = Path(filename)
    parts = path.parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].removesuffix(".py")
    if str(path).startswith(str(LAMBDAS_DIR)):
        return "orchestrator"
    if "lib" in parts and any(p.startswith("python3") for p in parts):
        name = parts[-1] if parts[-2].startswith("python3") else parts[parts.index("lib") + 2]
        return f"stdlib:{name.removesuffix('.py')}"
    return path.name


#: Packages the handler adds on top of a bare boto3 call (the rest, botocore and urllib3, both sides pay).
ADDED_PACKAGES = ("aws_lambda_powertools", "orchestrator", "json", "logging")


def _where(filename: str, line: int, function: str) -> str:
    for marker in ("site-packages/", str(LAMBDAS_DIR) + "/", str(ROOT) + "/"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
            break
    else:
        filename = filename.rsplit("/lib/", 1)[-1].split("/", 1)[-1]
    return f"{filename}:{line}:{function}"


def _summarize(profile: cProfile.Profile, calls: int, top: int) -> dict[str, Any]:
    stats = pstats.Stats(profile)
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    by_package: dict[str, float] = {}
    rows = []
    for (filename, line, function), (_cc, ncalls, tottime, cumtime, _callers) in table.items():
        package = _package(filename)
        by_package[package] = by_package.get(package, 0.0) + tottime
        rows.append((tottime, cumtime, ncalls, _where(filename, line, function)))
    rows.sort(reverse=True)
    ours = tuple(f"{p}/" for p in ADDED_PACKAGES)
    own_rows = [r for r in rows if r[3].startswith(ours) or "orchestrator/" in r[3]]
    # The outer wrappers (decorators, resolver) contain the whole call: keep what is below them.
    outer = max((r[1] for r in rows), default=0.0)
    cumulative = sorted(
        (r for r in own_rows if r[1] < 0.6 * outer and not r[3].startswith(("json/", "logging/"))),
        key=lambda r: r[1],
        reverse=True,
    )
    per_call = 1e6 / calls
    return {
        "calls": calls,
        "total_us_per_call": sum(by_package.values()) * per_call,
        "self_us_per_call_by_package": dict(
            sorted(((k, v * per_call) for k, v in by_package.items()), key=lambda kv: -kv[1])
        ),
        "top_self": [
            {"where": w, "self_us_per_call": t * per_call, "cum_us_per_call": c * per_call, "ncalls": n}
            for t, c, n, w in rows[:top]
        ],
        "top_self_ours_and_powertools": [
            {"where": w, "self_us_per_call": t * per_call, "cum_us_per_call": c * per_call, "ncalls": n}
            for t, c, n, w in own_rows[:top]
        ],
        "top_cumulative_ours_and_powertools": [
            {"where": w, "cum_us_per_call": c * per_call, "self_us_per_call": t * per_call, "ncalls": n}
            for t, c, n, w in cumulative[:top]
        ],
    }


def profile(harness: Harness, calls: int, top: int) -> dict[str, Any]:
    events = [harness.event(n) for n in range(1, calls + 1)]
    context = harness.context()
    for event in events[:50]:
        harness.call_handler(event, context)
        harness.call_bare()
    harness.control.reset()
    ours = cProfile.Profile()
    ours.enable()
    for event in events:
        harness.call_handler(event, context)
    ours.disable()
    bare = cProfile.Profile()
    bare.enable()
    for _ in events:
        harness.call_bare()
    bare.disable()
    return {"ours": _summarize(ours, calls, top), "bare": _summarize(bare, calls, top)}


# --- concurrency --------------------------------------------------------------------------------------


@dataclass
class Outcome:
    latency_ms: float
    ok: bool
    attempts: int = 0
    status: int = 0
    wrong: bool = False
    error: str | None = None


def _run_threads(threads: int, per_thread: int, work: Callable[[int], Outcome]) -> tuple[list[Outcome], int]:
    """``threads`` callers start together, each makes ``per_thread`` calls; (outcomes, hung threads)."""
    results: list[list[Outcome]] = [[] for _ in range(threads)]
    barrier = threading.Barrier(threads)

    def caller(index: int) -> None:
        barrier.wait()
        for k in range(per_thread):
            n = index * per_thread + k
            t0 = time.perf_counter_ns()
            try:
                outcome = work(n)
            except Exception as exc:  # a lost request: no response
                outcome = Outcome(0.0, ok=False, error=f"{type(exc).__name__}: {exc}"[:200])
            outcome.latency_ms = (time.perf_counter_ns() - t0) / 1e6
            results[index].append(outcome)

    workers = [threading.Thread(target=caller, args=(i,), daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + 120
    hung = 0
    for worker in workers:
        worker.join(timeout=max(0.0, deadline - time.monotonic()))
        hung += worker.is_alive()
    return [o for r in results for o in r], hung


def _telemetry(path: Path, request_ids: set[str]) -> dict[str, Any]:
    """What the handler wrote to stdout during a phase: one log line and one EMF document per request?"""
    logs: dict[str, int] = {}
    emf = merged = corrupt = crossed = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            document = json.loads(line)
        except ValueError:
            corrupt += 1
            continue
        if "_aws" in document:
            requests = document.get("Requests")
            if requests is None:
                continue  # the per-error-code document (single_metric)
            emf += 1
            if requests != [1.0]:
                merged += 1  # metrics of several requests in one document (shared Metrics state)
        elif document.get("message") == "request":
            request_id = str(document.get("requestId"))
            logs[request_id] = logs.get(request_id, 0) + 1
            if document.get("correlation_id") != request_id:
                crossed += 1  # the Logger's per-request keys (set at handler entry) came from another request
    return {
        "requests": len(request_ids),
        "log_lines": sum(logs.values()),
        "requests_without_log_line": len(request_ids - logs.keys()),
        "log_lines_with_another_correlation_id": crossed,
        "emf_documents": emf,
        "emf_documents_merged": merged,
        "corrupt_lines": corrupt,
    }


def concurrency(
    harness: Harness, thread_counts: list[int], requests: int, rounds: int, rate: float
) -> dict[str, Any]:
    control = harness.control
    for n in range(100):  # warm-up, every code path of a throttled request included
        harness.call_handler(harness.event(n))
        harness.call_bare()
    out: dict[str, Any] = {"telemetry_one_thread": _telemetry_control(harness, rate), "by_threads": {}}
    gc.collect()
    rss_before = rss_kib()
    threads_before = threading.active_count()
    out["rss_kib_before"] = rss_before
    handler_requests = 0
    serial = 1_000_000
    for threads in thread_counts:
        per_thread = max(1, requests // threads)
        sides: dict[str, list[Outcome]] = {"bare": [], "ours": []}
        telemetry: list[dict[str, Any]] = []
        hung_total = 0
        wall = {"bare": 0.0, "ours": 0.0}
        for index in range(rounds):
            for name in ["bare", "ours"] if index % 2 == 0 else ["ours", "bare"]:
                control.throttle(rate, threads * per_thread * 4, seed=threads * 100 + index)
                harness.handler.circuit.reset()
                if name == "bare":
                    started = time.perf_counter()
                    outcomes, hung = _run_threads(threads, per_thread, _bare_work(harness))
                    wall["bare"] += time.perf_counter() - started
                else:
                    base = serial
                    serial += threads * per_thread
                    events = {base + i: harness.event(base + i) for i in range(threads * per_thread)}
                    log = Path(tempfile.mkstemp(prefix="bench-stdout-")[1])
                    with _stdout_to(log):
                        started = time.perf_counter()
                        outcomes, hung = _run_threads(
                            threads, per_thread, _handler_work(harness, events, base)
                        )
                        wall["ours"] += time.perf_counter() - started
                    ids = {f"bench-{n:08d}" for n in events}
                    telemetry.append(_telemetry(log, ids))
                    log.unlink()
                    handler_requests += len(events)
                sides[name].extend(outcomes)
                hung_total += hung
        control.reset()
        out["by_threads"][str(threads)] = {
            "threads": threads,
            "requests_per_side": len(sides["ours"]),
            "hung_threads": hung_total,
            "wall_s": wall,
            "ours": _describe(sides["ours"]),
            "bare": _describe(sides["bare"]),
            "telemetry": {k: sum(t[k] for t in telemetry) for k in telemetry[0]},
        }
    gc.collect()
    out["rss_kib_after"] = rss_kib()
    out["handler_requests"] = handler_requests
    out["threads_left"] = threading.active_count() - threads_before
    out["python_heap"] = _heap_growth(harness, max(thread_counts), requests, rate)
    return out


def _telemetry_control(harness: Harness, rate: float, requests: int = 100) -> dict[str, Any]:
    """The same telemetry check with one caller thread: what intact output looks like."""
    harness.control.throttle(rate, requests * 4, seed=7)
    events = {n: harness.event(n) for n in range(requests)}
    log = Path(tempfile.mkstemp(prefix="bench-stdout-")[1])
    with _stdout_to(log):
        _run_threads(1, requests, _handler_work(harness, events, 0))
    harness.control.reset()
    result = _telemetry(log, {f"bench-{n:08d}" for n in events})
    log.unlink()
    return result


@contextlib.contextmanager
def _stdout_to(path: Path) -> Iterator[None]:
    """Send fd 1 to ``path`` (the handler's log lines and EMF documents), then back to /dev/null."""
    sys.stdout.flush()
    fd = os.open(path, os.O_WRONLY)
    os.dup2(fd, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(fd)
        os.close(devnull)


def _heap_growth(harness: Harness, threads: int, requests: int, rate: float, reps: int = 3) -> dict[str, Any]:
    """Python heap (tracemalloc, after gc) after each of ``reps`` untimed batches of ``requests``."""
    per_thread = max(1, requests // threads)
    tracemalloc.start()
    traced: list[int] = []
    try:
        for rep in range(reps):
            harness.control.throttle(rate, threads * per_thread * 4, seed=9000 + rep)
            events = {n: harness.event(n) for n in range(threads * per_thread)}
            _run_threads(threads, per_thread, _handler_work(harness, events, 0))
            del events
            harness.control.reset()
            gc.collect()
            traced.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
    batch = threads * per_thread
    return {
        "threads": threads,
        "requests_per_batch": batch,
        "traced_bytes_after_batch": traced,
        "growth_bytes_per_1k_requests": (traced[-1] - traced[0]) / ((reps - 1) * batch) * 1000,
    }


def _handler_work(harness: Harness, events: dict[int, dict[str, Any]], base: int) -> Callable[[int], Outcome]:
    def work(n: int) -> Outcome:
        number = base + n
        response = harness.call_handler(events[number])
        status = int(response["statusCode"])
        body = json.loads(response["body"])
        if status != 200:
            return Outcome(0.0, ok=False, status=status, error=str(body.get("error", {}).get("code")))
        wrong = (
            body["requestId"] != f"bench-{number:08d}" or f"[ticket {number}]" not in body["output"]["text"]
        )
        return Outcome(0.0, ok=not wrong, attempts=int(body["attempts"]), status=status, wrong=wrong)

    return work


def _bare_work(harness: Harness) -> Callable[[int], Outcome]:
    from botocore.exceptions import ClientError

    def work(n: int) -> Outcome:
        del n
        try:
            harness.call_bare()
        except ClientError as exc:
            return Outcome(0.0, ok=False, status=429, error=exc.response["Error"]["Code"])
        return Outcome(0.0, ok=True, attempts=1, status=200)

    return work


def _describe(outcomes: list[Outcome]) -> dict[str, Any]:
    latencies = [o.latency_ms for o in outcomes if o.error is None or o.status]
    first_try = [o.latency_ms for o in outcomes if o.ok and o.attempts == 1]
    errors: dict[str, int] = {}
    for o in outcomes:
        if not o.ok:
            key = o.error or ("WRONG_ANSWER" if o.wrong else str(o.status))
            errors[key] = errors.get(key, 0) + 1
    return {
        "requests": len(outcomes),
        "ok": sum(o.ok for o in outcomes),
        "lost": sum(1 for o in outcomes if o.status == 0),
        "wrong_answers": sum(o.wrong for o in outcomes),
        "errors": errors,
        "p50_ms": quantile(latencies, 0.50),
        "p95_ms": quantile(latencies, 0.95),
        "first_try_ok_p50_ms": quantile(first_try, 0.50),
        "first_try_ok_p95_ms": quantile(first_try, 0.95),
        "retried": sum(1 for o in outcomes if o.attempts > 1),
    }


# --- worst case ---------------------------------------------------------------------------------------


def worst(harness: Harness, runs: int, hang: bool) -> dict[str, Any]:
    control = harness.control
    throttled: list[dict[str, Any]] = []
    for n in range(runs):
        control.throttle(1.0, 100, seed=n)
        harness.handler.circuit.reset()  # the worst case is a closed circuit: every route tried in full
        throttled.append(_one(harness, 5_000_000 + n))
    out: dict[str, Any] = {"throttled": throttled}
    if hang:
        control.hang(60.0, 100)
        harness.handler.circuit.reset()
        out["hang"] = _one(harness, 6_000_000, countdown=True)
        control.hang(60.0, 100, match=PROFILES[EXAMPLE_USE_CASE]["primary"])
        harness.handler.circuit.reset()
        out["hang_primary"] = _one(harness, 6_000_001, countdown=True)
    control.reset()
    return out


def _one(harness: Harness, number: int, *, countdown: bool = False) -> dict[str, Any]:
    before = harness.control.stats()["calls"]
    event = harness.event(number)
    remaining_ms = int(LAMBDA_TIMEOUT_S * 1000)
    context = (
        CountdownLambdaContext(remaining_ms=remaining_ms) if countdown else harness.context(remaining_ms)
    )
    started = time.perf_counter()
    response = harness.call_handler(event, context)
    seconds = time.perf_counter() - started
    body = json.loads(response["body"])
    return {
        "seconds": seconds,
        "status": response["statusCode"],
        "code": body.get("error", {}).get("code"),
        "route": body.get("route"),
        "attempts": body.get("attempts"),
        "retry_after": (response.get("headers") or {}).get("Retry-After")
        or ",".join((response.get("multiValueHeaders") or {}).get("Retry-After", [])),
        "bedrock_calls": harness.control.stats()["calls"] - before,
    }


# --- main ---------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["warm", "profile", "concurrency", "worst"])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--control", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--block", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--threads", default="20,50")
    parser.add_argument("--requests", type=int, default=500, help="per side and round (concurrency)")
    parser.add_argument("--throttle-rate", type=float, default=0.2)
    parser.add_argument("--hang", action="store_true")
    args = parser.parse_args()

    harness = setup(args.endpoint, args.control)
    result: dict[str, Any]
    if args.mode == "warm":
        result = warm(harness, args.rounds, args.block, args.warmup)
    elif args.mode == "profile":
        result = profile(harness, args.calls, top=15)
    elif args.mode == "concurrency":
        threads = [int(t) for t in args.threads.split(",")]
        result = concurrency(harness, threads, args.requests, args.rounds, args.throttle_rate)
    else:
        result = worst(harness, args.rounds, args.hang)
    Path(args.out).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
