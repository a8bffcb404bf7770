"""``metric(metric_name, **MetricOptions)`` as aws-cdk's own L2 constructs offer it.

aws-cdk's DESIGN_GUIDELINES ("Metrics"): a construct exposes ``metric(metricName, props?: MetricOptions)``
with the service's own metric names and dimensions filled in, plus ``metricXxx()`` shortcuts for the
metrics people use most; the caller chooses statistic, period, label, colour, ... through the same
``MetricOptions`` every aws-cdk metric takes. :class:`MetricOptions` is that struct as keyword arguments
(``aws_cloudwatch.MetricOptions``), so mypy checks every call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict, Unpack

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch

from platform_spec.api import METRICS_NAMESPACE, Dimension

#: CloudWatch's and aws-cdk's default period for a metric.
DEFAULT_PERIOD = cdk.Duration.minutes(5)


class MetricOptions(TypedDict, total=False):
    """The keyword arguments of ``aws_cloudwatch.MetricOptions`` (aws-cdk-lib 2.275)."""

    account: str
    color: str
    dimensions_map: Mapping[str, str]
    id: str
    label: str
    period: cdk.Duration
    region: str
    stack_account: str
    stack_region: str
    statistic: str
    unit: cloudwatch.Unit
    visible: bool


def service_metric(
    *,
    namespace: str,
    metric_name: str,
    dimensions: Mapping[str, str],
    statistic: str,
    options: MetricOptions,
) -> cloudwatch.Metric:
    """A metric of ``namespace`` with the construct's ``dimensions`` and default ``statistic`` over a
    5-minute period; every one of ``options`` wins over those defaults (``dimensions_map`` replaces the
    construct's dimensions, as in aws-cdk's own ``metric()``)."""
    values: MetricOptions = {"statistic": statistic, "period": DEFAULT_PERIOD}
    if dimensions:
        values["dimensions_map"] = dict(dimensions)
    values.update(options)
    return cloudwatch.Metric(namespace=namespace, metric_name=metric_name, **values)


def with_defaults(options: MetricOptions, **defaults: Unpack[MetricOptions]) -> MetricOptions:
    """``options`` with ``defaults`` for what the caller left out: what a ``metric_<name>()`` shortcut
    passes to ``metric()`` (for instance ``statistic="p95"`` for a latency)."""
    merged: MetricOptions = {**defaults}
    merged.update(options)
    return merged


def use_case_metric(
    *, service: str, metric_name: str, use_case_id: str, environment: str, options: MetricOptions
) -> cloudwatch.Metric:
    """One of this project's own EMF metrics (namespace ``platform_spec.api.METRICS_NAMESPACE``) of one
    use case, with exactly the dimensions the functions publish (``service``, ``UseCase``,
    ``environment``: ``platform_spec.api.Dimension``); CloudWatch does not aggregate across dimensions.
    Sum over 5 minutes unless ``options`` say otherwise."""
    return service_metric(
        namespace=METRICS_NAMESPACE,
        metric_name=metric_name,
        dimensions={
            Dimension.SERVICE: service,
            Dimension.USE_CASE: use_case_id,
            Dimension.ENVIRONMENT: environment,
        },
        statistic="Sum",
        options=options,
    )
