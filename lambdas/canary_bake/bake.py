"""The production canary bake, one step at a time: begin, check (again and again), then promote or roll back.

The same functions run in the delivery account's state machine (through ``handler.py``, which waits
``poll_minutes`` between checks with a Step Functions Wait state) and in ``python -m delivery.gates canary``
(which waits with a clock it is given: the real one, or a fake one offline). They take boto3 clients of
the production account and the time as arguments, and return the new :class:`BakeState`:

- ``begin``: reads the production stack's outputs (the function, the version this deploy published, the
  critical alarms); if the live alias already serves that version there is nothing to bake (SKIP); if
  that version is the live one's code and configuration published again (:func:`version_differences`: a
  stage rollback redeploying the last release publishes a new version number of the code that was live)
  it serves all traffic at once, unbaked (SKIP); if a critical alarm is already in ALARM the release does
  not start (ROLLED_BACK, no traffic moved); otherwise the live alias keeps serving its version and sends
  CANARY_WEIGHT of the traffic to the new one (HOLD).
- ``check``: any critical alarm in ALARM, missing, or a live alias someone else changed rolls back (the
  alias serves only the stable version again, and the SSM parameter names it), and so does the new
  version's own error rate (:func:`version_errors`); after ``bake_seconds`` with every alarm quiet and the
  new version's errors within the policy it promotes (the SSM parameter names the new version, then the
  alias serves it alone), but only if the new version served at least ``min_invocations`` through the
  live alias during the whole bake (:func:`untested_canary`); with fewer it rolls back; otherwise HOLD.
  A check run again after it promoted (its answer lost: the task timed out, Step Functions retried it)
  finds the promotion complete and answers PROMOTED again.
- ``clear_canary``: after a bake stopped without finishing (its execution timed out, was stopped or
  failed; no ``BakeState`` survives it), the live alias keeps the version it serves and sends nothing to
  any other, and the SSM parameter names that version.

The live alias and the SSM parameter agree after every step that finishes: a promotion writes the
parameter, then the alias (:func:`_serve_alone`); a roll back or a clear writes the version the alias
serves alone back to the parameter, so a promotion that failed between its two writes never leaves the
next deploy resolving an unpromoted version as live.

Lambda alias routing: ``RoutingConfig.AdditionalVersionWeights`` sends a share of the alias's traffic to a
second version; an alias points at two versions at most, both with the same execution role and
dead-letter configuration, and then never at $LATEST
(https://docs.aws.amazon.com/lambda/latest/dg/lambda-traffic-shifting-using-aliases.html). An empty map
clears it.

Judging the new version by its own metrics: the critical alarms watch what is release-wide (the API's 5xx
and latency, throttles of the function's shared concurrency, the use cases' Bedrock metrics), where the
canary's tenth of the traffic is diluted nine to one and the stable version's faults count against the
release. The orchestrator's errors are judged per version instead: for invocations through an
alias, Lambda publishes ``AWS/Lambda`` metrics with the dimensions ``FunctionName``, ``Resource``
(``<function>:<alias>``) and ``ExecutedVersion`` (the version that ran), "to compare error rates for two
versions of a function that are both targets of a weighted alias"; ``Errors`` counts invocations that
failed, an unhandled exception or a timeout (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics.html).
The orchestrator answers its own failures (a bug is a 500 ``INTERNAL``, a request Bedrock refuses a 502,
a failing upstream a 503, a spent time budget a 504), which Lambda counts as successful invocations: so
the function also emits, with its own ``FunctionVersion``, ``ServerErrors`` per 500, ``UpstreamRejected``
per 502 and ``UpstreamUnavailable`` per 503/504 it answered (``platform_spec.api.Metric``, in its EMF
namespace). A version's errors are Lambda's ``Errors`` plus all three, divided by ``Invocations``, and the
rule judges three counts (:func:`failing_canary`): all of them (a release that builds an invalid request,
or cannot read Bedrock's answers, fails every call with a 502 or a 503; a failing upstream both versions
share is discounted by the stable version's rate), its own (without the 502s and 503/504s, which callers
and dependencies cause on every version, so that their shared rate does not hide a release's 500s), and
Lambda's ``Errors`` alone (nor a shared rate of 500s a crash). A version that answers every request with a
5xx is rolled back like one that crashes.

Promotion fails closed: the alarms and the error rate only ever say "nothing wrong seen", which is also
what a canary that received no traffic shows, and what a bake reading metrics under dimensions Lambda does
not publish (zero invocations, zero errors) shows. So before promoting, the bake counts the new version's
invocations through the live alias over the whole bake and rolls back below ``min_invocations``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from platform_spec.api import METRICS_NAMESPACE, SERVICE_NAME, Dimension, Metric
from platform_spec.delivery import (
    BAKE_COUNT_PERIOD_SECONDS,
    CANARY_WEIGHT,
    INITIAL_LIVE_VERSION,
    LATENCY_MIN_INCREASE_MS,
    LATENCY_MIN_INVOCATIONS,
    LIVE_ALIAS,
    VERSION_ERROR_WINDOW_MINUTES,
    BakeDecision,
    BakePolicy,
    BakeState,
    Output,
    live_version_parameter,
)

#: DescribeAlarms takes at most 100 alarm names per request
#: (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html).
ALARM_NAMES_PER_REQUEST = 100
#: Lambda sends its metrics in one-minute intervals (monitoring-metrics.html above); each minute is summed.
METRIC_PERIOD_SECONDS = 60
#: Where both versions fail, the canary's errors must be this unlikely at the stable version's rate before
#: they are its own (``failing_canary``). Strict because a check runs every ``poll_minutes`` over the last
#: hour: a shared fault that lasts hours meets many windows, and each would risk a good release at this
#: rate. A canary that truly fails more keeps failing: the next windows, with more of its invocations,
#: reach it.
SHARED_FAULT_SIGNIFICANCE = 0.001


def _variables(configuration: Mapping[str, Any]) -> Any:
    return (configuration.get("Environment") or {}).get("Variables") or {}


def _layers(configuration: Mapping[str, Any]) -> Any:
    return sorted(layer["Arn"] for layer in configuration.get("Layers") or [])


#: What GetFunctionConfiguration reports of a version that decides what it runs and how
#: (https://docs.aws.amazon.com/lambda/latest/api/API_GetFunctionConfiguration.html): the deployment
#: package's SHA-256, handler, runtime, architecture, memory, timeout, ephemeral storage, environment
#: variables and layer versions (a layer's ARN names its version). Left out: what differs between any two
#: versions (number, ARN, RevisionId, LastModified, Description) and what only observes or connects (logging,
#: tracing, VPC, dead-letter target, role: an alias's two versions must share role and dead-letter
#: configuration anyway).
RELEASE_FIELDS: Mapping[str, Any] = {
    "CodeSha256": lambda c: c.get("CodeSha256"),
    "Handler": lambda c: c.get("Handler"),
    "Runtime": lambda c: c.get("Runtime"),
    "Architectures": lambda c: c.get("Architectures"),
    "MemorySize": lambda c: c.get("MemorySize"),
    "Timeout": lambda c: c.get("Timeout"),
    "EphemeralStorage": lambda c: (c.get("EphemeralStorage") or {}).get("Size"),
    "Environment.Variables": _variables,
    "Layers": _layers,
}


@dataclasses.dataclass(frozen=True)
class Clients:
    """boto3 clients in the production account and region."""

    cloudformation: Any
    lambda_: Any
    cloudwatch: Any
    ssm: Any


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    stacks = cloudformation.describe_stacks(StackName=stack_name).get("Stacks") or []
    return {o["OutputKey"]: o["OutputValue"] for o in (stacks[0].get("Outputs") or [])} if stacks else {}


def alarm_states(cloudwatch: Any, names: Sequence[str]) -> dict[str, str]:
    """The state (OK, ALARM, INSUFFICIENT_DATA) of each named metric or composite alarm that exists."""
    states: dict[str, str] = {}
    for start in range(0, len(names), ALARM_NAMES_PER_REQUEST):
        request: dict[str, Any] = {
            "AlarmNames": list(names[start : start + ALARM_NAMES_PER_REQUEST]),
            "AlarmTypes": ["CompositeAlarm", "MetricAlarm"],
        }
        while True:
            page = cloudwatch.describe_alarms(**request)
            for alarm in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]:
                states[alarm["AlarmName"]] = alarm["StateValue"]
            if not page.get("NextToken"):
                break
            request["NextToken"] = page["NextToken"]
    return states


@dataclasses.dataclass(frozen=True)
class VersionErrors:
    """One version's errors (Lambda's and the 5xx it answered) and invocations through the live alias in a
    window."""

    version: str
    #: Lambda's ``Errors``: invocations that failed (an unhandled exception, a timeout).
    failed: float
    invocations: float
    #: The 500s (``ServerErrors``), 502s (``UpstreamRejected``) and 503/504s (``UpstreamUnavailable``) the
    #: function answered: successful invocations to Lambda.
    answered: float = 0.0
    rejected: float = 0.0
    unavailable: float = 0.0

    @property
    def errors(self) -> float:
        return self.failed + self.answered + self.rejected + self.unavailable

    @property
    def rate(self) -> float:
        # Errors and Invocations arrive separately; an error never counts as less than one invocation.
        return self.errors / max(self.invocations, self.errors) if self.errors else 0.0

    def failed_only(self) -> VersionErrors:
        """Lambda's ``Errors`` alone (invocations that failed), without the 5xx the function answered."""
        return dataclasses.replace(self, answered=0.0, rejected=0.0, unavailable=0.0)

    def own(self) -> VersionErrors:
        """Lambda's ``Errors`` and the 500s, without the 502s (requests Bedrock refused) and the 503/504s
        (failing dependencies): what callers and dependencies cannot cause on both versions."""
        return dataclasses.replace(self, rejected=0.0, unavailable=0.0)

    def __str__(self) -> str:
        answered = f"; {self.answered:g} of them answered 500" if self.answered else ""
        rejected = f"; {self.rejected:g} answered 502 (Bedrock refused the request)" if self.rejected else ""
        unavailable = f"; {self.unavailable:g} answered 503/504" if self.unavailable else ""
        return (
            f"version {self.version}: {self.errors:g} of {self.invocations:g} invocations failed "
            f"({self.rate:.1%}{answered}{rejected}{unavailable})"
        )


#: The orchestrator's per-version counts of the 5xx it answered, by ``VersionErrors`` field.
_ANSWERED_METRICS = (
    ("answered", Metric.SERVER_ERRORS),
    ("rejected", Metric.UPSTREAM_REJECTED),
    ("unavailable", Metric.UPSTREAM_UNAVAILABLE),
)


def _metric_query(
    query_id: str,
    namespace: str,
    metric: str,
    dimensions: Mapping[str, str],
    period: int,
    stat: str = "Sum",
) -> Any:
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {
                "Namespace": namespace,
                "MetricName": metric,
                "Dimensions": [{"Name": name, "Value": value} for name, value in dimensions.items()],
            },
            "Period": period,
            "Stat": stat,
        },
        "ReturnData": True,
    }


def _series(
    cloudwatch: Any, queries: Sequence[Any], *, start: float, end: float
) -> dict[str, dict[datetime, float]]:
    """Each query's data points from ``start`` to ``end`` (epoch seconds), by query id and timestamp."""
    series: dict[str, dict[datetime, float]] = {q["Id"]: {} for q in queries}
    request: dict[str, Any] = {
        "MetricDataQueries": list(queries),
        "StartTime": datetime.fromtimestamp(start, UTC),
        "EndTime": datetime.fromtimestamp(end, UTC),
    }
    while True:
        page = cloudwatch.get_metric_data(**request)
        for result in page.get("MetricDataResults", []):
            points = series[result["Id"]]
            for at, value in zip(result.get("Timestamps") or [], result.get("Values") or [], strict=False):
                points[at] = points.get(at, 0.0) + value
        if not page.get("NextToken"):
            break
        request["NextToken"] = page["NextToken"]
    return series


def _summed(cloudwatch: Any, queries: Sequence[Any], *, start: float, end: float) -> dict[str, float]:
    """Each query's data points from ``start`` to ``end`` (epoch seconds) added up, by query id."""
    return {
        query_id: sum(points.values())
        for query_id, points in _series(cloudwatch, queries, start=start, end=end).items()
    }


def _alias_dimensions(function_name: str, version: str) -> dict[str, str]:
    """Lambda's dimensions for invocations through the live alias that ran ``version``."""
    return {
        "FunctionName": function_name,
        "Resource": f"{function_name}:{LIVE_ALIAS}",
        "ExecutedVersion": version,
    }


def version_errors(
    cloudwatch: Any,
    function_name: str,
    versions: Sequence[str],
    *,
    environment: str,
    start: float,
    end: float,
    period: int = METRIC_PERIOD_SECONDS,
) -> dict[str, VersionErrors]:
    """Each version's errors and ``Invocations`` (Sum) through the live alias from ``start`` to ``end`` (epoch
    seconds), summed over data points of ``period`` seconds: Lambda's ``Errors`` and ``Invocations`` per
    executed version, and the 5xx the function answered (``ServerErrors``, ``UpstreamRejected``,
    ``UpstreamUnavailable`` of ``environment`` per ``FunctionVersion``; module docstring)."""
    queries = []
    for index, version in enumerate(versions):
        lambda_dimensions = _alias_dimensions(function_name, version)
        for metric in ("Errors", "Invocations"):
            queries.append(
                _metric_query(f"{metric.lower()}{index}", "AWS/Lambda", metric, lambda_dimensions, period)
            )
        function_dimensions = {
            Dimension.SERVICE: SERVICE_NAME,
            Dimension.ENVIRONMENT: environment,
            Dimension.FUNCTION_VERSION: version,
        }
        for field, metric in _ANSWERED_METRICS:
            queries.append(
                _metric_query(f"{field}{index}", METRICS_NAMESPACE, metric, function_dimensions, period)
            )
    sums = _summed(cloudwatch, queries, start=start, end=end)
    return {
        version: VersionErrors(
            version,
            sums[f"errors{index}"],
            sums[f"invocations{index}"],
            **{field: sums[f"{field}{index}"] for field, _ in _ANSWERED_METRICS},
        )
        for index, version in enumerate(versions)
    }


def binomial_tail(errors: float, invocations: float, rate: float) -> float:
    """P(X >= ``errors``) for X ~ Binomial(``invocations``, ``rate``): how likely so many errors are by chance
    when every invocation fails with probability ``rate``. 1.0 where ``errors`` is at most the expected
    count (no evidence either way); computed term by term in log space (standard library only)."""
    n, k = round(max(invocations, errors)), round(errors)
    if k <= 0 or rate >= 1:
        return 1.0
    if rate <= 0:
        return 0.0
    if k <= n * rate:
        return 1.0
    log_p, log_q = math.log(rate), math.log1p(-rate)
    total = 0.0
    # k is past the mean, so at or past the mode: the terms only shrink. Stop once they no longer count,
    # including when the first one already underflows to 0 (a busy hour, a count far past the rate): the
    # rest are 0 too, and walking them all would take seconds per million invocations.
    for x in range(k, n + 1):
        term = math.exp(
            math.lgamma(n + 1) - math.lgamma(x + 1) - math.lgamma(n - x + 1) + x * log_p + (n - x) * log_q
        )
        total += term
        if term <= total * 1e-12:
            break
    return min(1.0, total)


def _window_start(state: BakeState, now: float) -> float | None:
    """Where a check's window begins: VERSION_ERROR_WINDOW_MINUTES before ``now``, not before the bake's
    start (None: the bake has not run a moment yet)."""
    start = max(state.started_at, now - VERSION_ERROR_WINDOW_MINUTES * 60)
    return start if now > start else None


def failing_canary(clients: Clients, state: BakeState, *, now: float) -> str | None:
    """Why the new version rolls back on its own errors (None when it does not): in the last
    VERSION_ERROR_WINDOW_MINUTES of the bake, at least ``min_errors`` errors (failed invocations and 5xx the
    function answered), a share of its invocations above ``max_error_rate``, and above the stable version's
    share beyond chance (a fault both versions share is not the release's: rolling back would not mend it).

    Beyond chance: where the stable version had errors too (a shared source: a failing upstream, requests
    Bedrock refuses, a bug already in the stable code), the canary's count must be one that the stable
    version's rate would give less often than ``SHARED_FAULT_SIGNIFICANCE`` (0.1 %, :func:`binomial_tail`).
    The canary serves a tenth of the traffic, so comparing shares alone would roll good releases back on
    chance: 6 errors in 100 beside 45 in 900 happens 38 % of the time at the same 5 % rate. Where the stable
    version had none, any share above the limit is above it.

    The rule judges three counts: all errors, the version's own (:meth:`VersionErrors.own`) and Lambda's
    failed invocations alone, so that no rate both versions share hides a canary's own 500s or crashes."""
    start = _window_start(state, now)
    if start is None:
        return None
    found = version_errors(
        clients.cloudwatch,
        state.function_name,
        [state.target_version, state.stable_version],
        environment=state.environment,
        start=start,
        end=now,
    )
    canary, stable = found[state.target_version], found[state.stable_version]
    # Every count, then without the 502s and 503/504s, then Lambda's failed invocations alone: a rate both
    # versions share (502s for requests callers send that Bedrock refuses, 503s of a failing upstream; 500s
    # of a bug already in the stable code) would otherwise hide, in the chance it allows, a canary's own 500s
    # or crashes.
    counts = (
        (canary, stable),
        (canary.own(), stable.own()),
        (canary.failed_only(), stable.failed_only()),
    )
    for canary_errors, stable_errors in counts:
        verdict = _beyond_stable(canary_errors, stable_errors, state, minutes=(now - start) / 60)
        if verdict is not None:
            return verdict
    return None


def _beyond_stable(
    canary: VersionErrors, stable: VersionErrors, state: BakeState, *, minutes: float
) -> str | None:
    """``failing_canary``'s rule for one count of errors over the last ``minutes``: why, or None."""
    if canary.errors < state.min_errors or canary.rate <= state.max_error_rate or canary.rate <= stable.rate:
        return None
    beyond = ""
    if stable.errors:
        chance = binomial_tail(canary.errors, canary.invocations, stable.rate)
        if chance >= SHARED_FAULT_SIGNIFICANCE:
            return None
        beyond = f", more often than the stable version's rate gives by chance (P = {chance:.2g})"
    return (
        f"{canary} in the last {minutes:.0f} minutes: above the limit {state.max_error_rate:.1%} "
        f"and the stable {stable}{beyond}"
    )


@dataclasses.dataclass(frozen=True)
class VersionLatency:
    """How long one version's invocations through the live alias took in a window, minute by minute: each
    minute's mean ``Duration`` (Lambda's Sum / SampleCount with ``ExecutedVersion`` = that version) and how
    many invocations it is the mean of."""

    version: str
    #: (mean duration in ms, invocations) of each minute with any.
    minutes: tuple[tuple[float, float], ...] = ()

    @property
    def count(self) -> float:
        return sum(n for _, n in self.minutes)

    @property
    def typical_ms(self) -> float:
        """The median of the minutes' means, each weighted by its invocations (the lower one on a tie): a
        few slow invocations move the minutes they fall in, not the median."""
        half, seen = self.count / 2, 0.0
        for mean, n in sorted(self.minutes):
            seen += n
            if seen >= half:
                return mean
        return 0.0

    def __str__(self) -> str:
        return (
            f"version {self.version}: {self.typical_ms:.0f} ms per invocation (the median of its minutes' means) "
            f"over {self.count:g}"
        )


def version_latencies(
    cloudwatch: Any, function_name: str, versions: Sequence[str], *, start: float, end: float
) -> dict[str, VersionLatency]:
    """Each version's invocation durations through the live alias from ``start`` to ``end``, minute by
    minute: Lambda's ``Duration`` "Sum" and "SampleCount" per executed version (the same dimensions as
    ``Invocations``, https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics.html)."""
    queries = [
        _metric_query(
            f"{stat.lower()}{index}", "AWS/Lambda", "Duration", dimensions, METRIC_PERIOD_SECONDS, stat
        )
        for index, version in enumerate(versions)
        for dimensions in [_alias_dimensions(function_name, version)]
        for stat in ("Sum", "SampleCount")
    ]
    series = _series(cloudwatch, queries, start=start, end=end)
    found = {}
    for index, version in enumerate(versions):
        sums, counts = series[f"sum{index}"], series[f"samplecount{index}"]
        minutes = tuple(
            (sums.get(minute, 0.0) / count, count) for minute, count in sorted(counts.items()) if count > 0
        )
        found[version] = VersionLatency(version, minutes)
    return found


def slow_canary(clients: Clients, state: BakeState, *, now: float) -> str | None:
    """Why the new version rolls back on its latency (None when it does not): in the last
    VERSION_ERROR_WINDOW_MINUTES of the bake, with at least LATENCY_MIN_INVOCATIONS invocations of each
    version, the new version's typical invocation (:attr:`VersionLatency.typical_ms`) took longer than the
    stable version's by more than ``max_latency_increase`` of it and by at least LATENCY_MIN_INCREASE_MS.

    The release-wide latency alarms see the canary's tenth diluted nine to one; the two versions serve the
    same mix of requests (the alias splits invocations at random), so their typical durations compare one
    code with the other. Typical is the median of the minutes' mean durations, not the window's mean: two
    invocations that ran to 28 s among 50 (a slow model turn either version meets) lift a 2 s mean by over
    a second, enough to roll a good release back on chance in one of a 72-hour bake's 864 checks; they
    lift two minutes, not the median. A release whose every answer is slower lifts most minutes. (A
    percentile of each version's invocations would need CloudWatch's percentile statistics, which the
    offline tests' moto does not compute.) Lambda's ``Duration`` is the handler's time (initialization is
    reported apart), so the new version's cold starts count only in what its handler does first."""
    start = _window_start(state, now)
    if state.max_latency_increase is None or start is None:
        return None
    found = version_latencies(
        clients.cloudwatch,
        state.function_name,
        [state.target_version, state.stable_version],
        start=start,
        end=now,
    )
    canary, stable = found[state.target_version], found[state.stable_version]
    if min(canary.count, stable.count) < LATENCY_MIN_INVOCATIONS:
        return None
    increase = canary.typical_ms - stable.typical_ms
    if increase < LATENCY_MIN_INCREASE_MS or increase <= stable.typical_ms * state.max_latency_increase:
        return None
    return (
        f"{canary} in the last {(now - start) / 60:.0f} minutes, {increase / stable.typical_ms:.0%} longer than "
        f"the stable {stable} (bake.max_latency_increase {state.max_latency_increase:.0%})"
    )


def bake_invocations(
    clients: Clients, state: BakeState, *, now: float
) -> tuple[VersionErrors, VersionErrors]:
    """What the new and the stable version served through the live alias from the bake's start to ``now``,
    in one GetMetricData call with BAKE_COUNT_PERIOD_SECONDS data points (valid at any age of the start)."""
    found = version_errors(
        clients.cloudwatch,
        state.function_name,
        [state.target_version, state.stable_version],
        environment=state.environment,
        start=state.started_at,
        end=now,
        period=BAKE_COUNT_PERIOD_SECONDS,
    )
    return found[state.target_version], found[state.stable_version]


def untested_canary(
    state: BakeState, canary: VersionErrors, stable: VersionErrors, *, now: float
) -> str | None:
    """Why the new version may not be promoted though nothing failed (None when it may): over the whole
    bake (:func:`bake_invocations`) it served fewer than ``min_invocations`` through the live alias."""
    if canary.invocations >= state.min_invocations:
        return None
    return (
        f"version {state.target_version} served {canary.invocations:g} invocations through {LIVE_ALIAS} "
        f"during the {(now - state.started_at) / 60:.0f}-minute bake (version {state.stable_version}: "
        f"{stable.invocations:g}), fewer than bake.min_invocations {state.min_invocations}: promoting it would "
        "release untested code; check that traffic reached the alias (its routing config should send "
        f"{CANARY_WEIGHT:.0%} to version {state.target_version}) and that Lambda's metrics carry the "
        "dimensions FunctionName, Resource and ExecutedVersion, then release again"
    )


def version_differences(lambda_: Any, function_name: str, stable: str, target: str) -> list[str]:
    """The :data:`RELEASE_FIELDS` in which version ``target`` differs from version ``stable`` (none: the same
    code and configuration published again)."""
    stable_configuration, target_configuration = (
        lambda_.get_function_configuration(FunctionName=function_name, Qualifier=version)
        for version in (stable, target)
    )
    return [
        name
        for name, read in RELEASE_FIELDS.items()
        if read(stable_configuration) != read(target_configuration)
    ]


def _weights(alias: Mapping[str, Any]) -> dict[str, float]:
    return dict((alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {})


def _route(clients: Clients, state: BakeState, version: str, weights: Mapping[str, float]) -> None:
    clients.lambda_.update_alias(
        FunctionName=state.function_name,
        Name=LIVE_ALIAS,
        FunctionVersion=version,
        RoutingConfig={"AdditionalVersionWeights": dict(weights)},
    )


def _decide(state: BakeState, decision: BakeDecision, detail: str) -> BakeState:
    return dataclasses.replace(state, decision=decision, detail=detail)


def _names(alarms: Iterable[str]) -> str:
    return ", ".join(sorted(alarms))


def begin(
    clients: Clients,
    *,
    environment: str,
    stack_name: str,
    bake_seconds: float,
    now: float,
    policy: BakePolicy | None = None,
) -> BakeState:
    """The release's bake, begun (module docstring); ``policy``'s limits (its defaults without) are what
    its checks judge by."""
    outputs = stack_outputs(clients.cloudformation, stack_name)
    missing = [
        k for k in (Output.FUNCTION_NAME, Output.RELEASE_VERSION, Output.CRITICAL_ALARMS) if k not in outputs
    ]
    if missing:
        raise LookupError(
            f"stack {stack_name} has no output {', '.join(missing)}: deploy this commit to {environment} first"
        )
    function_name = outputs[Output.FUNCTION_NAME]
    alias = clients.lambda_.get_alias(FunctionName=function_name, Name=LIVE_ALIAS)
    state = BakeState(
        environment=environment,
        function_name=function_name,
        stable_version=str(alias["FunctionVersion"]),
        target_version=outputs[Output.RELEASE_VERSION],
        parameter_name=live_version_parameter(environment),
        critical_alarms=tuple(name for name in outputs[Output.CRITICAL_ALARMS].split(",") if name),
        started_at=now,
        bake_seconds=bake_seconds,
        **(policy or BakePolicy()).limits(),
    )
    if state.stable_version == INITIAL_LIVE_VERSION:
        # The first release of a baked environment: live served $LATEST, which is already this code, and a
        # weighted alias needs two published versions. Pin live to the published version.
        return promote(
            clients,
            state,
            f"first release: live served {INITIAL_LIVE_VERSION}; pinned to the published version",
        )
    # A bake that stopped unfinished may have left the parameter naming a version it never promoted (its
    # abort leaves the alias and the parameter to this bake while this one runs: ``clear_canary``).
    renamed = _name_served(clients, state.parameter_name, state.stable_version)
    if state.stable_version == state.target_version:
        if _weights(alias):  # a bake that was stopped half-way left a share on another version
            _route(clients, state, state.stable_version, {})
        return _decide(
            state, BakeDecision.SKIP, f"live already serves version {state.target_version}{renamed}"
        )
    try:
        differences = version_differences(
            clients.lambda_, function_name, state.stable_version, state.target_version
        )
    except Exception as error:  # comparing only spares a bake: without it, bake
        # (e.g. a stage rollback to a template whose release role may not read version configurations)
        differences = [f"what could not be compared: GetFunctionConfiguration failed: {error}"]
    if not differences:
        # What the bake would watch already served all of live traffic: a stage rollback redeployed it.
        _serve_alone(clients, state)
        return _decide(
            state,
            BakeDecision.SKIP,
            f"version {state.target_version} is version {state.stable_version}'s code and configuration "
            f"published again ({', '.join(RELEASE_FIELDS)} equal): it serves 100 % without a bake{renamed}",
        )
    firing = [
        name
        for name, value in alarm_states(clients.cloudwatch, state.critical_alarms).items()
        if value == "ALARM"
    ]
    if firing:
        if _weights(alias):
            _route(clients, state, state.stable_version, {})
        return _decide(
            state,
            BakeDecision.ROLLED_BACK,
            f"not started: critical alarm(s) already in ALARM ({_names(firing)}); no traffic was moved to "
            f"version {state.target_version}{renamed}",
        )
    _route(clients, state, state.stable_version, {state.target_version: CANARY_WEIGHT})
    return _decide(
        state,
        BakeDecision.HOLD,
        f"version {state.target_version} serves {CANARY_WEIGHT:.0%} of live traffic beside version "
        f"{state.stable_version} (it differs in {', '.join(differences)}); baking for {bake_seconds / 60:g} "
        f"minutes{renamed}",
    )


def check(clients: Clients, state: BakeState, *, now: float) -> BakeState:
    alias = clients.lambda_.get_alias(FunctionName=state.function_name, Name=LIVE_ALIAS)
    expected = {state.target_version: CANARY_WEIGHT}
    elapsed = now - state.started_at
    if elapsed >= state.bake_seconds and _promoted(clients, state, alias):
        # The same check again after it promoted and its answer was lost (the task timed out after the
        # alias moved, or Step Functions retried it): promoting is done, so say so instead of rolling back.
        return _decide(
            state,
            BakeDecision.PROMOTED,
            f"version {state.target_version} serves 100 % and {state.parameter_name} names it: an earlier "
            "attempt of this check promoted it after the bake (its answer was lost)",
        )
    if str(alias["FunctionVersion"]) != state.stable_version or _weights(alias) != expected:
        return roll_back(
            clients,
            state,
            f"the live alias changed during the bake (serves {alias['FunctionVersion']} with "
            f"{_weights(alias) or 'no other version'}, expected {state.stable_version} with {expected})",
        )
    states = alarm_states(clients.cloudwatch, state.critical_alarms)
    unknown = [name for name in state.critical_alarms if name not in states]
    if unknown:
        return roll_back(
            clients, state, f"critical alarm(s) not found, so the bake cannot watch them: {_names(unknown)}"
        )
    firing = [name for name, value in states.items() if value == "ALARM"]
    if firing:
        return roll_back(clients, state, f"critical alarm(s) in ALARM: {_names(firing)}")
    failing = failing_canary(clients, state, now=now)
    if failing is not None:
        return roll_back(clients, state, f"the new version fails more than the stable one: {failing}")
    slow = slow_canary(clients, state, now=now)
    if slow is not None:
        return roll_back(clients, state, f"the new version is slower than the stable one: {slow}")
    if elapsed >= state.bake_seconds:
        # Nothing failed, which is also what a canary that served nothing shows: promote only a tested one.
        canary, stable = bake_invocations(clients, state, now=now)
        untested = untested_canary(state, canary, stable, now=now)
        if untested is not None:
            return roll_back(clients, state, untested)
        return promote(
            clients,
            state,
            f"baked {elapsed / 60:.0f} minutes at {CANARY_WEIGHT:.0%} with every critical alarm quiet, "
            f"the new version's errors and latency within the policy, and {canary.invocations:g} invocations "
            f"of it through {LIVE_ALIAS} (bake.min_invocations {state.min_invocations})",
        )
    return _decide(
        state,
        BakeDecision.HOLD,
        f"{elapsed / 60:.0f} of {state.bake_seconds / 60:g} minutes at {CANARY_WEIGHT:.0%}; critical alarms "
        "quiet, the new version's errors and latency within the policy",
    )


def _live_parameter(ssm: Any, name: str) -> str | None:
    """The version the live-version parameter names (None when it does not exist)."""
    try:
        return str(ssm.get_parameter(Name=name)["Parameter"]["Value"])
    except ssm.exceptions.ParameterNotFound:
        return None


def _name_live(ssm: Any, name: str, version: str) -> None:
    """The live-version parameter names ``version``: what CloudFormation resolves as the live alias's version
    on every later deploy (``constructs/orchestration_api/function.py``). PutParameter with Overwrite
    replaces the value of an existing parameter
    (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html)."""
    ssm.put_parameter(Name=name, Value=version, Type="String", Overwrite=True)


def _name_served(clients: Clients, name: str, version: str) -> str:
    """The live-version parameter ``name`` names ``version``, the one the live alias serves; what changed,
    for the decision's detail ("" when it already did)."""
    named = _live_parameter(clients.ssm, name)
    if named == version:
        return ""
    _name_live(clients.ssm, name, version)
    return f"; {name} named {named or 'nothing'}, now {version}"


def _promoted(clients: Clients, state: BakeState, alias: Mapping[str, Any]) -> bool:
    """Whether this bake's promotion is complete: the alias serves the new version alone and the parameter
    names it (what :func:`_serve_alone` leaves)."""
    return (
        str(alias["FunctionVersion"]) == state.target_version
        and not _weights(alias)
        and _live_parameter(clients.ssm, state.parameter_name) == state.target_version
    )


def _serve_alone(clients: Clients, state: BakeState) -> None:
    """The parameter first (every later deploy resolves it), then the alias. A failure in between (the
    alias update fails, or the step times out) leaves the parameter naming the new version while the alias
    still serves the stable one with the canary's share: the state machine then checks again (a check
    that finds the bake unfinished or failing rolls back) or rolls back, and :func:`roll_back` and
    :func:`clear_canary` name the stable version in the parameter again, so no later deploy resolves a
    version that was not promoted as live."""
    _name_live(clients.ssm, state.parameter_name, state.target_version)
    _route(clients, state, state.target_version, {})


def promote(clients: Clients, state: BakeState, why: str) -> BakeState:
    _serve_alone(clients, state)
    return _decide(state, BakeDecision.PROMOTED, f"version {state.target_version} serves 100 %: {why}")


def roll_back(clients: Clients, state: BakeState, why: str) -> BakeState:
    """Live serves only the stable version again, and the live-version parameter names it: a promotion that
    failed half-way (:func:`_serve_alone`) may have named the new version there already. The parameter
    first: the stable version is safe for a deploy to resolve whatever the alias does, and a roll back that
    fails after it still sends the canary's share to the new version, which is what the stuck-canary
    message says."""
    _name_live(clients.ssm, state.parameter_name, state.stable_version)
    _route(clients, state, state.stable_version, {})
    return _decide(
        state,
        BakeDecision.ROLLED_BACK,
        f"rolled back to version {state.stable_version} (version {state.target_version} gets no traffic): {why}",
    )


def running_executions(
    stepfunctions: Any, state_machine_arn: str, *, besides: str | None = None
) -> list[str]:
    """The ARNs of the bake state machine's executions that are running, but ``besides`` (ListExecutions
    with ``statusFilter`` RUNNING, one page: one is enough). ListExecutions "is eventually consistent" and
    may miss an execution started moments ago
    (https://docs.aws.amazon.com/step-functions/latest/apireference/API_ListExecutions.html)."""
    page = stepfunctions.list_executions(
        stateMachineArn=state_machine_arn, statusFilter="RUNNING", maxResults=10
    )
    return [e["executionArn"] for e in page.get("executions", []) if e["executionArn"] != besides]


def clear_canary(clients: Clients, *, stack_name: str, parameter_name: str) -> str:
    """The live alias keeps serving its version and sends no traffic to any other (during a bake, that is
    the stable version, and the other the release), and the live-version parameter ``parameter_name`` names
    that version (a promotion that stopped half-way may have named the release there). What was done, for
    the log."""
    outputs = stack_outputs(clients.cloudformation, stack_name)
    function_name = outputs.get(Output.FUNCTION_NAME)
    if function_name is None:
        return f"stack {stack_name} has no output {Output.FUNCTION_NAME}: no live alias to clear"
    alias = clients.lambda_.get_alias(FunctionName=function_name, Name=LIVE_ALIAS)
    version, weights = str(alias["FunctionVersion"]), _weights(alias)
    renamed = _name_served(clients, parameter_name, version)
    if not weights:
        return (
            f"the {LIVE_ALIAS} alias of {function_name} serves version {version} alone: nothing to roll back"
            f"{renamed}"
        )
    clients.lambda_.update_alias(
        FunctionName=function_name,
        Name=LIVE_ALIAS,
        FunctionVersion=version,
        RoutingConfig={"AdditionalVersionWeights": {}},
    )
    return (
        f"rolled back: the {LIVE_ALIAS} alias of {function_name} serves version {version} alone "
        f"(it sent {weights} to the canary){renamed}"
    )
