"""botocore clients of the stores a request writes after Bedrock answered, bounded by the time it has left.

A request must answer before the function times out (else API Gateway answers 5xx for an answer already
paid for, and an idempotency record stays in progress). So every store call after the answer (the held
answer's PutItem, the scoring queue's SendMessage, the idempotency record's save or delete) is made with a
client whose worst case fits in what is left before ``ends`` (``platform_spec.api.store_call_bounds``):
the configured timeouts and retries when they fit, else one attempt with a shorter read timeout, else no
call at all (:class:`NoTimeLeftError`, handled by each caller as the failure of that call). The timeouts
bound each socket read, not the answer, so each API call is also abandoned on the clock at the longest
those bounds allow (``platform_spec.api.store_call_max_s``; ``platform_spec.clients.call_within``): a store
that answers a byte at a time fails the call (``CallAbandoned``) as a hung one does.

A botocore client's timeouts and retries are fixed when it is created (``botocore.config.Config``:
https://botocore.amazonaws.com/v1/documentation/api/latest/reference/config.html), so each distinct bound
gets its own client, created on first use and kept in a small LRU cache (``platform_spec.clients.ClientCache``, as the
Bedrock clients are); with time to spare every call uses the configured one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, Final

from platform_spec.api import STORE_CONNECT_TIMEOUT_S, store_call_bounds, store_call_max_s
from platform_spec.clients import ClientCache, ClockBoundClient
from platform_spec.review import client_config

__all__ = ["DeadlineBoundClient", "NoTimeLeftError", "StoreClients"]


class NoTimeLeftError(Exception):
    """Not even one short store call fits in the time the request has left; the call was not made."""


class StoreClients:
    """boto3 clients of one service, one per (read timeout, attempts), created once and reused."""

    _MAX_CLIENTS: Final = 8

    def __init__(
        self, service: str, *, region: str | None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.service = service
        self.region = region
        self.clock = clock
        self._clients: ClientCache[tuple[float, int], Any] = ClientCache(
            self._create, max_clients=self._MAX_CLIENTS
        )

    def within(self, ends: float | None) -> Any:
        """A client whose call ends by ``ends`` (``clock()`` time; ``None``: the configured bounds).

        Raises :class:`NoTimeLeftError` when not even one short attempt fits.
        """
        bounds = store_call_bounds(float("inf") if ends is None else ends - self.clock())
        if bounds is None:
            raise NoTimeLeftError(f"no time left for a {self.service} call before the function times out")
        return self._clients.get(bounds)

    def _create(self, bounds: tuple[float, int]) -> Any:
        import boto3  # imported here: only a request that reaches a store needs it
        from botocore.config import Config

        read_timeout_s, attempts = bounds
        config = client_config(
            connect_timeout_s=STORE_CONNECT_TIMEOUT_S, read_timeout_s=read_timeout_s, attempts=attempts
        )
        client = boto3.client(self.service, region_name=self.region, config=Config(**config))
        return ClockBoundClient(client, store_call_max_s(attempts, read_timeout_s))


class DeadlineBoundClient:
    """Stands in for a boto3 client where a library holds one (Powertools' idempotency layer): every
    attribute is read from the client of :meth:`StoreClients.within` for the deadline in ``ends`` at that
    moment, so a call made after the answer is bounded by the time left, and one made before it (``ends``
    unset) uses the configured bounds."""

    def __init__(self, clients: StoreClients, ends: ContextVar[float | None]) -> None:
        self._clients = clients
        self._ends = ends

    def __getattr__(self, name: str) -> Any:
        return getattr(self._clients.within(self._ends.get()), name)
