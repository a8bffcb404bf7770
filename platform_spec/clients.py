"""A small LRU cache of botocore clients by the bounds they were created with: standard library only, shared
by the orchestrator and the reviewer API.

A botocore client's timeouts and retries are fixed when it is created
(https://botocore.amazonaws.com/v1/documentation/api/latest/reference/config.html), so a call that must end
sooner than the configured bounds allow gets a client of its own. Callers round their bounds to a few
distinct values; this keeps the most recently used clients and creates each once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["ClientCache"]

K = TypeVar("K", bound=Hashable)
C = TypeVar("C")


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
