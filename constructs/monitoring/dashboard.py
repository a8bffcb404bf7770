"""One CloudWatch dashboard per environment: overview, a row per use case, guardrails, log delivery."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch

from bedrock_constructs.guardrail import Guardrail
from bedrock_constructs.inference_profile import ApplicationInferenceProfile
from bedrock_constructs.monitoring.alarms import DEFAULT_PERIOD
from constructs import Construct

FULL_WIDTH = 24


def estimated_cost(
    profiles: Mapping[str, ApplicationInferenceProfile],
    period: cdk.Duration,
    label: str,
    id_prefix: str = "c",
) -> cloudwatch.MathExpression | None:
    """USD per period from token counts and the catalog's list prices; None if no route is priced.

    An unpriced route is left out of the sum (and the label says so) rather than counted as free; a
    price the catalog marks ``confirmed: false`` is used, and the label says so too.
    """
    terms, metrics, unpriced, unconfirmed = [], {}, [], False
    for i, (route, profile) in enumerate(profiles.items()):
        price_in = profile.source.price_per_1k_input_usd
        price_out = profile.source.price_per_1k_output_usd
        if price_in is None or price_out is None:
            unpriced.append(route)
            continue
        unconfirmed |= not profile.source.price_confirmed
        tokens_in, tokens_out = f"{id_prefix}in{i}", f"{id_prefix}out{i}"
        metrics[tokens_in] = profile.metric_input_tokens(period=period)
        metrics[tokens_out] = profile.metric_output_tokens(period=period)
        terms.append(
            f"FILL({tokens_in}, 0) * {price_in:.8f} / 1000 + FILL({tokens_out}, 0) * {price_out:.8f} / 1000"
        )
    if not terms:
        return None
    suffix = f" (excludes unpriced: {', '.join(unpriced)})" if unpriced else ""
    if unconfirmed:
        suffix += " (unconfirmed list prices)"
    return cloudwatch.MathExpression(
        expression=" + ".join(terms), using_metrics=metrics, label=label + suffix, period=period
    )


def cache_hit_ratio(
    *,
    read: cloudwatch.IMetric,
    write: cloudwatch.IMetric,
    plain: cloudwatch.IMetric,
    period: cdk.Duration,
    label: str,
    id_prefix: str = "h",
) -> cloudwatch.MathExpression:
    """Percent of input tokens read from the prompt cache: read / (plain input + read + write).

    From the orchestrator's EMF metrics (``CacheReadInputTokens``, ``CacheWriteInputTokens`` and
    ``InputTokens``: ``OrchestratorFunction.metric_use_case``; Converse reports cache tokens apart from
    ``inputTokens``). The ``AWS/Bedrock`` runtime metrics table lists no cache-token metric
    (https://docs.aws.amazon.com/bedrock/latest/userguide/monitoring-runtime-metrics.html), and the
    EMF metrics cover exactly the traffic the platform sends. No data point in a period without tokens.
    """
    r, w, i = f"{id_prefix}r", f"{id_prefix}w", f"{id_prefix}i"
    return cloudwatch.MathExpression(
        expression=f"100 * FILL({r}, 0) / (FILL({i}, 0) + FILL({r}, 0) + FILL({w}, 0))",
        using_metrics={r: read, w: write, i: plain},
        label=label,
        period=period,
    )


class PlatformDashboard(Construct):
    """The environment's dashboard. Rows are added through ``add_*``, normally by
    :class:`~bedrock_constructs.monitoring.MonitoringFacade`, which owns the rows and the alarms.

    ``add_section(title, widgets)`` adds any other row (the facade's ``monitor_api`` does).
    """

    def __init__(self, scope: Construct, id: str, *, period: cdk.Duration = DEFAULT_PERIOD) -> None:
        super().__init__(scope, id)
        self.period = period
        self.dashboard = cloudwatch.Dashboard(
            self, "Resource", period_override=cloudwatch.PeriodOverride.AUTO
        )

    def add_section(self, title: str, widgets: Sequence[cloudwatch.IWidget]) -> None:
        self.dashboard.add_widgets(cloudwatch.TextWidget(markdown=f"## {title}", width=FULL_WIDTH, height=1))
        self.dashboard.add_widgets(*widgets)

    def add_overview(self, use_cases: Mapping[str, Mapping[str, ApplicationInferenceProfile]]) -> None:
        """Every use case on the same graphs: traffic, errors, latency percentiles, tokens, cost."""
        p = self.period

        def per_use_case(metric: str, statistic: str = "Sum") -> list[cloudwatch.IMetric]:
            return [
                profiles["primary"].metric(metric, statistic=statistic, period=p, label=f"{uc} {statistic}")
                for uc, profiles in use_cases.items()
            ]

        costs = [
            cost
            for n, (uc, profiles) in enumerate(use_cases.items())
            if (cost := estimated_cost(profiles, p, uc, id_prefix=f"u{n}")) is not None
        ]
        self.add_section(
            "Overview: all use cases (primary routes; cost covers every route)",
            [
                cloudwatch.GraphWidget(
                    title="Invocations", left=per_use_case("Invocations"), stacked=True, width=6
                ),
                cloudwatch.GraphWidget(
                    title="Throttles and errors",
                    left=per_use_case("InvocationThrottles")
                    + per_use_case("InvocationServerErrors")
                    + per_use_case("InvocationClientErrors"),
                    width=6,
                ),
                cloudwatch.GraphWidget(
                    title="Model latency p50 / p95 / p99 (ms)",
                    left=[m for s in ("p50", "p95", "p99") for m in per_use_case("InvocationLatency", s)],
                    width=6,
                ),
                cloudwatch.GraphWidget(
                    title="Tokens",
                    left=per_use_case("InputTokenCount"),
                    right=per_use_case("OutputTokenCount"),
                    width=3,
                ),
                cloudwatch.GraphWidget(title="Estimated cost (USD)", left=costs, stacked=True, width=3),
            ],
        )

    def add_use_case(
        self,
        use_case_id: str,
        profiles: Mapping[str, ApplicationInferenceProfile],
        latency_target_ms: float,
        alarms: Sequence[cloudwatch.IAlarm] = (),
    ) -> None:
        """One row for a use case, every route side by side, with its latency target drawn."""
        p = self.period

        def routes(fn: str, **kw: object) -> list[cloudwatch.IMetric]:
            return [getattr(prof, fn)(period=p, label=route, **kw) for route, prof in profiles.items()]

        cost = estimated_cost(profiles, p, "Estimated cost (USD)")
        widgets: list[cloudwatch.IWidget] = [
            cloudwatch.GraphWidget(
                title="Invocations / throttles / errors",
                left=routes("metric_invocations")
                + routes("metric_throttles")
                + routes("metric_server_errors")
                + routes("metric_client_errors"),
                width=6,
            ),
            cloudwatch.GraphWidget(
                title="Latency p95 and time to first token (ms)",
                left=routes("metric_invocation_latency") + routes("metric_time_to_first_token"),
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(value=latency_target_ms, label="p95 target (contract)")
                ],
                width=6,
            ),
            cloudwatch.GraphWidget(
                title="Tokens in / out and estimated TPM quota usage",
                left=routes("metric_input_tokens") + routes("metric_output_tokens"),
                right=routes("metric_estimated_tpm_quota_usage"),
                width=6,
            ),
            cloudwatch.GraphWidget(title="Estimated cost (USD)", left=[cost] if cost else [], width=3),
        ]
        if alarms:
            widgets.append(cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(alarms), width=3))
        self.add_section(f"Use case: {use_case_id}", widgets)

    def add_guardrails(self, guardrails: Mapping[str, Guardrail]) -> None:
        p = self.period
        self.add_section(
            "Guardrails (published versions)",
            [
                cloudwatch.GraphWidget(
                    title="Guardrail invocations",
                    left=[g.metric_invocations(period=p, label=uc) for uc, g in guardrails.items()],
                    width=12,
                ),
                cloudwatch.GraphWidget(
                    title="Guardrail interventions",
                    left=[
                        g.metric_invocations_intervened(period=p, label=uc) for uc, g in guardrails.items()
                    ],
                    width=12,
                ),
            ],
        )

    def add_log_delivery(
        self, cloudwatch_failures: cloudwatch.IMetric, s3_failures: cloudwatch.IMetric
    ) -> None:
        self.add_section(
            "Invocation logging",
            [
                cloudwatch.GraphWidget(
                    title="Invocation log delivery failures",
                    left=[cloudwatch_failures, s3_failures],
                    width=12,
                )
            ],
        )
