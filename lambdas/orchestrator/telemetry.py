"""The per-request record behind the one log line and the EMF metrics, and the optional tracer.

Log line (exactly one per request, ``message == "request"``; level INFO, WARNING for 5xx, ERROR for a
500: with the exception for INTERNAL, without for UPSTREAM_NOT_PERMITTED): requestId, method, resource, status, outcome, errorCode, useCase, route,
profile, modelId, promptVersion, attempts, retries, fallbackUsed, circuitSkipped, upstreamErrors,
inputTokens, outputTokens, cacheReadInputTokens, cacheWriteInputTokens, estimatedCostUsd, latencyMs,
modelLatencyMs, guardrailAction,
idempotencyKeySent, idempotentReplay, idempotencyError (an answer whose record could not be saved), review (the review path's outcome), reviewError; plus ``prompt`` (messages and context) and ``responseText`` only
when the use case's ``log_prompts_and_responses`` is true.

Metrics (namespace ``POWERTOOLS_METRICS_NAMESPACE``), for invoke requests of a known use case, one EMF
document with dimensions ``service``, ``UseCase``, ``environment``: Requests, Latency (ms), and when
Bedrock answered ModelLatency (ms), InputTokens, OutputTokens, CacheReadInputTokens,
CacheWriteInputTokens (prompt-cache tokens, not included in InputTokens: the cache hit ratio is
CacheReadInputTokens / (InputTokens + CacheReadInputTokens + CacheWriteInputTokens)),
EstimatedCostUsd (only when the route is priced); on the review path ReviewEnqueueFailures and
HeldForReview (0/1); with an Idempotency-Key IdempotencySaveFailures (0/1: the answer went out, its
record could not be saved); always Retries (calls beyond the first), Fallbacks (0/1), GuardrailInterventions
(0/1: blocked or masked) and Errors (0/1), so their averages are rates. An error also emits a separate EMF document with one metric,
``Errors``, dimensions ``service``, ``UseCase``, ``environment``, ``ErrorCode`` (the stable API code):
per-code alarms without multiplying the main metrics' cardinality. Every request the function answers
with a 5xx, whatever its route or use case, also emits one per-version count by its class
(:data:`VERSION_ERROR_METRICS`): ``ServerErrors`` per 500 (a bug, a refused grant: what a release causes
on its own), ``UpstreamRejected`` per 502 (a request Bedrock refuses) and ``UpstreamUnavailable`` per
503/504 (a failing dependency, a spent budget), kept apart because callers and dependencies cause the
last two on every version and their shared rate must not hide a release's 500s; each with dimensions
``service``, ``environment`` and ``FunctionVersion`` (the version that ran, from Lambda's reserved
``AWS_LAMBDA_FUNCTION_VERSION``: https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime),
which the canary bake adds to Lambda's per-version ``Errors``: a 5xx the function answers is not a Lambda
error.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, TypeVar

from platform_spec.api import INTERVENTION_ACTIONS, Dimension, Metric

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(slots=True)
class RequestRecord:
    request_id: str
    method: str
    resource: str
    use_case: str | None = None
    status: int | None = None
    outcome: str | None = None
    error_code: str | None = None
    route: str | None = None
    profile: str | None = None
    model_id: str | None = None
    prompt_version: str | None = None
    attempts: int = 0
    fallback_used: bool = False
    circuit_skipped: list[str] = field(default_factory=list)
    upstream_errors: list[str] = field(default_factory=list)
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    estimated_cost_usd: float | None = None
    model_latency_ms: int | None = None
    guardrail_action: str | None = None
    idempotency_key_sent: bool = False
    idempotent_replay: bool = False
    #: The exception type of a failure to save the idempotency record of an answer (returned anyway).
    idempotency_error: str | None = None
    log_text: bool = False
    prompt: dict[str, Any] | None = None
    response_text: str | None = None
    exception: BaseException | None = None
    metrics_enabled: bool = False
    #: The review path: wired for this request, its outcome (queued, held, enqueue_failed, held_unqueued,
    #: hold_failed), the exception type of a failure, and whether queueing failed / the answer was held.
    review_enabled: bool = False
    review_outcome: str | None = None
    review_error: str | None = None
    review_enqueue_failed: bool = False
    held: bool = False

    def idempotency_unsaved(self, error: BaseException) -> None:
        """The answer's idempotency record could not be saved (the answer is returned anyway)."""
        self.idempotency_error = type(error).__name__

    def log_fields(self, latency_ms: int) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "requestId": self.request_id,
            "method": self.method,
            "resource": self.resource,
            "status": self.status,
            "outcome": self.outcome,
            "errorCode": self.error_code,
            "useCase": self.use_case,
            "route": self.route,
            "profile": self.profile,
            "modelId": self.model_id,
            "promptVersion": self.prompt_version,
            "attempts": self.attempts,
            "retries": max(0, self.attempts - 1),
            "fallbackUsed": self.fallback_used,
            "circuitSkipped": self.circuit_skipped,
            "upstreamErrors": self.upstream_errors,
            "inputTokens": self.input_tokens,
            "outputTokens": self.output_tokens,
            "cacheReadInputTokens": self.cache_read_tokens,
            "cacheWriteInputTokens": self.cache_write_tokens,
            "estimatedCostUsd": self.estimated_cost_usd,
            "latencyMs": latency_ms,
            "modelLatencyMs": self.model_latency_ms,
            "guardrailAction": self.guardrail_action,
            "idempotencyKeySent": self.idempotency_key_sent,
            "idempotentReplay": self.idempotent_replay,
            "idempotencyError": self.idempotency_error,
            "review": self.review_outcome,
            "reviewError": self.review_error,
        }
        if self.log_text:
            fields["prompt"] = self.prompt
            fields["responseText"] = self.response_text
        return fields


#: The per-version count each 5xx status the function answers adds to (module docstring).
VERSION_ERROR_METRICS: Final = MappingProxyType(
    {
        500: Metric.SERVER_ERRORS,
        502: Metric.UPSTREAM_REJECTED,
        503: Metric.UPSTREAM_UNAVAILABLE,
        504: Metric.UPSTREAM_UNAVAILABLE,
    }
)


def publish_metrics(
    metrics: Any, record: RequestRecord, *, latency_ms: int, environment: str, namespace: str, service: str
) -> None:
    """Write the request's EMF document(s) to stdout (see the module docstring)."""
    version_metric = VERSION_ERROR_METRICS.get(record.status or 500)
    if version_metric is not None:
        publish_version_error(version_metric, environment=environment, namespace=namespace, service=service)
    if not record.metrics_enabled or record.use_case is None:
        return
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    count, ms = MetricUnit.Count, MetricUnit.Milliseconds
    metrics.add_dimension(name=Dimension.USE_CASE, value=record.use_case)
    metrics.add_dimension(name=Dimension.ENVIRONMENT, value=environment)
    metrics.add_metric(name=Metric.REQUESTS, unit=count, value=1)
    metrics.add_metric(name=Metric.LATENCY, unit=ms, value=latency_ms)
    if record.model_latency_ms is not None:
        metrics.add_metric(name=Metric.MODEL_LATENCY, unit=ms, value=record.model_latency_ms)
    if record.input_tokens is not None:
        metrics.add_metric(name=Metric.INPUT_TOKENS, unit=count, value=record.input_tokens)
    if record.output_tokens is not None:
        metrics.add_metric(name=Metric.OUTPUT_TOKENS, unit=count, value=record.output_tokens)
    if record.cache_read_tokens is not None:
        metrics.add_metric(name=Metric.CACHE_READ_TOKENS, unit=count, value=record.cache_read_tokens)
    if record.cache_write_tokens is not None:
        metrics.add_metric(name=Metric.CACHE_WRITE_TOKENS, unit=count, value=record.cache_write_tokens)
    if record.estimated_cost_usd is not None:
        metrics.add_metric(
            name=Metric.ESTIMATED_COST_USD, unit=MetricUnit.NoUnit, value=record.estimated_cost_usd
        )
    metrics.add_metric(name=Metric.RETRIES, unit=count, value=max(0, record.attempts - 1))
    metrics.add_metric(name=Metric.FALLBACKS, unit=count, value=1 if record.fallback_used else 0)
    metrics.add_metric(
        name=Metric.GUARDRAIL_INTERVENTIONS,
        unit=count,
        value=1 if record.guardrail_action in INTERVENTION_ACTIONS else 0,
    )
    metrics.add_metric(name=Metric.ERRORS, unit=count, value=1 if record.error_code else 0)
    if record.idempotency_key_sent:
        metrics.add_metric(
            name=Metric.IDEMPOTENCY_SAVE_FAILURES, unit=count, value=1 if record.idempotency_error else 0
        )
    if record.review_enabled:
        metrics.add_metric(
            name=Metric.REVIEW_ENQUEUE_FAILURES, unit=count, value=1 if record.review_enqueue_failed else 0
        )
        metrics.add_metric(name=Metric.HELD_FOR_REVIEW, unit=count, value=1 if record.held else 0)
    metrics.flush_metrics()
    if record.error_code:
        with single_metric(
            name=Metric.ERRORS,
            unit=count,
            value=1,
            namespace=namespace,
            default_dimensions={
                Dimension.SERVICE: service,
                Dimension.USE_CASE: record.use_case,
                Dimension.ENVIRONMENT: environment,
                Dimension.ERROR_CODE: record.error_code,
            },
        ):
            pass


def publish_version_error(name: str, *, environment: str, namespace: str, service: str) -> None:
    """One data point of ``name`` (a :data:`VERSION_ERROR_METRICS` metric) for the function version that
    answered (module docstring); none outside Lambda (no ``AWS_LAMBDA_FUNCTION_VERSION``)."""
    version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
    if not version:
        return
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    with single_metric(
        name=name,
        unit=MetricUnit.Count,
        value=1,
        namespace=namespace,
        default_dimensions={
            Dimension.SERVICE: service,
            Dimension.ENVIRONMENT: environment,
            Dimension.FUNCTION_VERSION: version,
        },
    ):
        pass


class NoopTracer:
    """Stands in for Powertools ``Tracer`` when the X-Ray SDK is absent or tracing is disabled."""

    def capture_lambda_handler(
        self,
        lambda_handler: F | None = None,
        capture_response: bool | None = None,
        capture_error: bool | None = None,
    ) -> Any:
        del capture_response, capture_error
        if lambda_handler is None:
            return lambda handler: handler
        return lambda_handler

    def capture_method(self, method: F) -> F:
        return method

    def put_annotation(self, key: str, value: Any) -> None:
        del key, value


def make_tracer(service: str) -> Any:
    """Powertools ``Tracer`` (patching botocore only) when ``aws_xray_sdk`` is installed and
    ``POWERTOOLS_TRACE_DISABLED`` is not true; else a no-op. The X-Ray SDK is not in this project's
    dependencies (the Powertools layer has it) and costs init time: set POWERTOOLS_TRACE_DISABLED=true
    to skip it in latency-critical functions. The handler is traced with ``capture_response=False``:
    the response holds model output, which must not reach X-Ray metadata when text logging is off."""
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "").strip().lower() in ("1", "true", "yes", "on")
    if disabled or importlib.util.find_spec("aws_xray_sdk") is None:
        return NoopTracer()
    from aws_lambda_powertools import Tracer

    return Tracer(service=service, patch_modules=("botocore",))
