"""Bounded calls to AWS, shared by the orchestrator and the reviewer API (standard library only): a small LRU
cache of botocore clients by the bounds they were created with (:class:`ClientCache`), and a wall-clock
bound on one call (:func:`call_within`).

A botocore client's timeouts and retries are fixed when it is created
(https://botocore.amazonaws.com/v1/documentation/api/latest/reference/config.html), so a call that must end
sooner than the configured bounds allow gets a client of its own. Callers round their bounds to a few
distinct values; this keeps the most recently used clients and creates each once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from functools import partial
from typing import Any, Generic, TypeVar

__all__ = ["NOT_PERMITTED_CODES", "CallAbandoned", "ClientCache", "ClockBoundClient", "call_within"]

K = TypeVar("K", bound=Hashable)
C = TypeVar("C")
T = TypeVar("T")

#: Bedrock Runtime errors no retry can cure: the caller's grant, or the resource it names (an inference
#: profile, a guardrail or its version), is missing in this deployment. Converse and ApplyGuardrail both
#: answer them (AccessDeniedException 403, ResourceNotFoundException 404: "Errors" in
#: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html and
#: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ApplyGuardrail.html). IAM changes are
#: eventually consistent (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency),
#: so one may last seconds after a deployment; callers are answered "not permitted" without Retry-After and
#: the function logs an error, as for a deployment fault.
NOT_PERMITTED_CODES: frozenset[str] = frozenset({"AccessDeniedException", "ResourceNotFoundException"})


class ClientCache(Generic[K, C]):
    """Clients by key (their bounds), created with ``create(key)`` on first use; at most ``max_clients``
    kept, the least recently used dropped first. Thread-safe."""

    def __init__(self, create: Callable[[K], C], *, max_clients: int = 8) -> None:
        self._create = create
        self._max_clients = max_clients
        self._lock = threading.Lock()
        self._clients: OrderedDict[K, C] = OrderedDict()

    def get(self, key: K) -> C:
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._create(key)
                self._clients[key] = client
                while len(self._clients) > self._max_clients:
                    self._clients.popitem(last=False)
            else:
                self._clients.move_to_end(key)
            return client

    def __len__(self) -> int:
        return len(self._clients)


class CallAbandoned(TimeoutError):
    """The call had not returned within its wall-clock bound (:func:`call_within`); it was left to end on its
    own thread, and whatever it returns or raises then is discarded."""


def call_within(seconds: float, call: Callable[[], T], *, name: str = "bounded-call") -> T:
    """``call()``'s result, or :class:`CallAbandoned` when it has not returned within ``seconds``.

    botocore's ``read_timeout`` bounds each read from the socket, not the response: "The time in seconds
    till a timeout exception is thrown when attempting to read from a connection"
    (https://botocore.amazonaws.com/v1/documentation/api/latest/reference/config.html), and Python's socket
    timeout applies to each operation (https://docs.python.org/3/library/socket.html#socket-timeouts). An
    endpoint that sends its answer a byte at a time, each within the read timeout, holds the call far past
    it (measured: 19 s with a 1 s read timeout), past any time budget built on the read timeout. So the call
    runs on a daemon thread and is abandoned at the bound: the caller goes on at once, and the abandoned
    call ends on its own (its socket read times out, the endpoint finishes or closes) with its outcome
    discarded. A daemon thread never keeps the process alive; in Lambda a thread still running when the
    handler returns is frozen with the execution environment and resumes with the next invocation
    (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html), where it only finishes
    reading an answer nobody waits for. botocore clients may be shared between threads
    (https://boto3.amazonaws.com/v1/documentation/api/latest/guide/clients.html, "Multithreading or
    multiprocessing with clients"):
    the caller's next call on the same client takes another pooled connection. Tracing: the X-Ray SDK keeps
    its context per thread, and in Lambda builds a new thread's context from ``_X_AMZN_TRACE_ID``
    (aws-xray-sdk 2.15, ``core/lambda_launcher.py``), so the call's subsegment is recorded under the
    function's segment; the caller's entity is not carried in (the SDK README's ThreadPoolExecutor
    pattern), since an abandoned call would then hold the caller's subsegment open and unsent."""
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as error:  # handed to the waiting thread
            outcome["error"] = error
        finally:
            done.set()

    threading.Thread(target=run, name=name, daemon=True).start()
    if not done.wait(seconds):
        raise CallAbandoned(f"no complete answer within {seconds:.1f} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


class ClockBoundClient:
    """A boto3 client whose API operations (``meta.method_to_api_mapping``) are abandoned on the clock after
    ``limit_s`` (:func:`call_within`: the longest its timeouts, attempts and retry delays allow); every other
    attribute (``meta``, ``exceptions``) is the client's own."""

    def __init__(self, client: Any, limit_s: float) -> None:
        self._client = client
        self._limit_s = limit_s

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name not in self._client.meta.method_to_api_mapping:
            return attribute

        def bounded(*args: Any, **kwargs: Any) -> Any:
            return call_within(self._limit_s, partial(attribute, *args, **kwargs), name=f"aws-{name}")

        return bounded
