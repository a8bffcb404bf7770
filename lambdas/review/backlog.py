"""The backlog function: every ``platform_spec.review.BACKLOG_INTERVAL_MINUTES`` minutes (an EventBridge
schedule), per use case, the number of pending review items (``PendingReviews``) and the age of the
one waiting longest (``OldestPendingAgeSeconds``), from the pending index. An item's age runs from when it
went to people (``platform_spec.review.pending_since``), not from its answer's creation: an old answer a
caller rates 1 today is pending for seconds, not weeks.

Published on a schedule, not when items are written or decided: the oldest pending item's age grows while
nothing happens, and "nothing happens" (no reviewer, no traffic) is exactly when the SLA is being
missed. A metric computed on write would stop moving then, and its alarm would never fire. Every use case
gets a data point every run (0 when nothing is pending), so the alarms see the backlog drain too.

Within its time: a backlog too long to read before the function's timeout would end the run with no data
point at all, and the backlog alarms (missing data is not breaching) would go quiet exactly when the
backlog is largest. A page is read only while it fits in what the invocation has left at its worst
(``store_call_max_s``), less ``BACKLOG_MARGIN_S`` to publish: first the first page of every use case, then
the rest of each; the function's timeout leaves room for a first page of each
(``platform_spec.review.backlog_timeout_s``, up to 22 use cases at the store's worst). A use case whose pages
were not all read gets its lower bounds (the items read, the oldest of them), and the run then fails after
publishing (``BacklogIncomplete``) so its errors alarm says the backlog was not read whole.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.metrics import Metrics

from platform_spec.api import ReviewMetric, store_call_max_s
from platform_spec.review import BACKLOG_MARGIN_S, parse_iso
from platform_spec.runtime import RuntimeConfig, read_runtime_config

from .settings import load_settings
from .store import ReviewStore
from .telemetry import publish

settings = load_settings(os.environ)
runtime_config = read_runtime_config(settings.runtime_config_path)
logger = Logger(service=settings.service_name)
metrics = Metrics(namespace=settings.metrics_namespace, service=settings.service_name)
store = ReviewStore(review_table=settings.review_table, region=settings.region)


class BacklogIncomplete(RuntimeError):
    """Some use case's pending items were not all read in the invocation's time (its lower bounds were
    published)."""


@dataclass(frozen=True)
class Backlog:
    use_case: str
    pending: int
    oldest_age_s: float
    sla_s: int
    #: Every page was read; otherwise ``pending`` and ``oldest_age_s`` are lower bounds.
    complete: bool = True
    pages: int = 0

    @property
    def overdue(self) -> bool:
        return self.oldest_age_s > self.sla_s


def measure(
    config: RuntimeConfig,
    store: ReviewStore,
    *,
    now: float,
    deadline: float = math.inf,
    clock: Callable[[], float] = time.monotonic,
) -> list[Backlog]:
    """Every enabled use case's backlog at ``now`` (epoch seconds), read before ``deadline`` (on ``clock``),
    each page only while it fits at its worst: first the first page of every use case, in order, then the
    rest of each (``platform_spec.review.backlog_timeout_s`` sizes the time for the first pages)."""
    enabled = sorted((u for u in config.use_cases.values() if u.enabled), key=lambda u: u.id)
    readers = [store.pending_count(use_case.id) for use_case in enabled]

    def fits() -> bool:
        return clock() + store_call_max_s() <= deadline

    for reader in readers:
        if fits():
            reader.read_page()
    for reader in readers:
        while not reader.complete and fits():
            reader.read_page()
    return [
        Backlog(
            use_case=use_case.id,
            pending=read.count,
            oldest_age_s=round(max(0.0, now - parse_iso(read.oldest)) if read.oldest else 0.0, 3),
            sla_s=use_case.contract.review.sla_hours * 3600,
            complete=read.complete,
            pages=read.pages,
        )
        for use_case, read in zip(enabled, readers, strict=True)
    ]


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    del event  # the schedule's event carries nothing this function needs
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - BACKLOG_MARGIN_S
    backlogs = measure(runtime_config, store, now=time.time(), deadline=deadline)
    for backlog in backlogs:
        if not backlog.pages:
            continue  # nothing read: no data point rather than a 0 the alarms would take as drained
        publish(
            metrics,
            use_case=backlog.use_case,
            environment=runtime_config.environment,
            values={
                ReviewMetric.PENDING: ("Count", backlog.pending),
                ReviewMetric.OLDEST_PENDING_AGE: ("Seconds", backlog.oldest_age_s),
            },
        )
    overdue = [b.use_case for b in backlogs if b.overdue]
    incomplete = {
        b.use_case: f"at least {b.pending} pending ({b.pages} pages read)" for b in backlogs if not b.complete
    }
    logger.info(
        "review backlog",
        extra={"backlog": {b.use_case: [b.pending, b.oldest_age_s] for b in backlogs}, "overdue": overdue},
    )
    if incomplete:
        # published above as lower bounds; failing the run makes the errors alarm say so
        raise BacklogIncomplete(
            "the pending items were not all read in this run's time; lower bounds published for "
            + "; ".join(f"{uc}: {what}" for uc, what in incomplete.items())
        )
    return {"useCases": len(backlogs), "overdue": overdue}
