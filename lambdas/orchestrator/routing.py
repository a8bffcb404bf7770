"""Which routes a request tries, in order, and the circuit breaker that skips a failing primary.

Plan: the route picked by the use case's tiers (``primary`` when no tier matches), then ``fallback``.
When that first route's circuit is open it is skipped and the plan is ``fallback`` alone. The fallback
is never skipped: it is the last resort.

Circuit breaker (module-level state in the handler, one per container, thread-safe): a route opens for
``cooldown_s`` seconds when, within ``window_s`` seconds, it failed ``failure_threshold`` times, or timed
out ``timeout_threshold`` times, or any mix of the two that adds up (a timeout counts as
``failure_threshold / timeout_threshold`` failures: with the defaults 5 and 2, two hangs, or one hang
and three errors). A hang costs a caller the route's whole share of the time budget, so hangs must open
the circuit after far fewer occurrences than fast errors do. After the cool-down the next request tries
the route again (half-open); another failure run re-opens it. Failures are upstream faults (throttling,
5xx, timeouts, transport errors, malformed responses, access denied, not found); a ValidationException
or a guardrail intervention is not a route failure, and a success clears the count. A timeout is a read
timeout: the route accepted the request and did not answer within the attempt's window.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from .runtime_config import FALLBACK, UseCase


class CircuitBreaker:
    def __init__(
        self,
        *,
        failure_threshold: int,
        window_s: float,
        cooldown_s: float,
        timeout_threshold: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.timeout_threshold = failure_threshold if timeout_threshold is None else timeout_threshold
        self.window_s = window_s
        self.cooldown_s = cooldown_s
        self.clock = clock
        self._lock = threading.Lock()
        # Integer weights, so no rounding: an error weighs timeout_threshold, a timeout failure_threshold,
        # and the circuit opens at failure_threshold * timeout_threshold.
        self._open_at = self.failure_threshold * self.timeout_threshold
        self._failures: dict[str, deque[tuple[float, int]]] = {}
        self._open_until: dict[str, float] = {}

    def allow(self, key: str) -> bool:
        """False while the key's circuit is open."""
        with self._lock:
            until = self._open_until.get(key)
            if until is None:
                return True
            if self.clock() < until:
                return False
            del self._open_until[key]  # cool-down over: half-open, let traffic probe it
            self._failures.pop(key, None)
            return True

    def record_failure(self, key: str, *, timed_out: bool = False) -> None:
        """Count one failure of ``key``'s route; ``timed_out``: it was a read timeout (weighs more)."""
        weight = self.failure_threshold if timed_out else self.timeout_threshold
        with self._lock:
            now = self.clock()
            failures = self._failures.setdefault(key, deque())
            failures.append((now, weight))
            while failures and failures[0][0] <= now - self.window_s:
                failures.popleft()
            if sum(w for _, w in failures) >= self._open_at:
                self._open_until[key] = now + self.cooldown_s
                failures.clear()

    def record_success(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)
            self._open_until.pop(key, None)

    def is_open(self, key: str) -> bool:
        with self._lock:
            until = self._open_until.get(key)
            return until is not None and self.clock() < until

    def reset(self) -> None:
        with self._lock:
            self._failures.clear()
            self._open_until.clear()


def circuit_key(use_case_id: str, route_name: str) -> str:
    return f"{use_case_id}/{route_name}"


@dataclass(frozen=True, slots=True)
class RoutePlan:
    routes: tuple[str, ...]  # route names, in the order they are tried
    skipped: tuple[str, ...]  # route names skipped because their circuit is open


def plan_routes(
    use_case: UseCase, *, input_chars: int, message_count: int, circuit: CircuitBreaker
) -> RoutePlan:
    first = use_case.route_for(input_chars=input_chars, message_count=message_count)
    if not circuit.allow(circuit_key(use_case.id, first)):
        return RoutePlan(routes=(FALLBACK,), skipped=(first,))
    return RoutePlan(routes=(first, FALLBACK), skipped=())
