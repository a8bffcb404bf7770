"""EMF metrics of the review functions: one document per event, dimensions ``service``, ``UseCase``,
``environment`` (``platform_spec.api.Dimension``), names ``platform_spec.api.ReviewMetric``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from platform_spec.api import Dimension


def publish(
    metrics: Any, *, use_case: str, environment: str, values: Mapping[str, tuple[str, float]]
) -> None:
    """Flush one EMF document: ``values`` maps metric name to (unit name, value). A failure to publish
    never fails the event it describes; Powertools keeps metrics in class-level state, so they are
    cleared."""
    from aws_lambda_powertools.metrics import MetricUnit

    try:
        metrics.add_dimension(name=Dimension.USE_CASE, value=use_case)
        metrics.add_dimension(name=Dimension.ENVIRONMENT, value=environment)
        for name, (unit, value) in values.items():
            metrics.add_metric(name=name, unit=MetricUnit[unit], value=value)
        metrics.flush_metrics()
    except Exception:
        metrics.clear_metrics()
