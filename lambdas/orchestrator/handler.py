"""API Gateway (REST, proxy integration) -> Amazon Bedrock Converse, one governed use case at a time.

Endpoints:

* ``POST /use-cases/{useCaseId}/invoke``: body ``{"messages": [...], "context": "..."}`` (see
  ``validation``) -> 200 ``{"requestId", "useCase", "output": {"text", "truncated"}, "usage":
  {"inputTokens", "outputTokens", "cacheReadInputTokens", "cacheWriteInputTokens"}, "estimatedCostUsd",
  "guardrail": {"action": "NONE" | "INTERVENED" | "MASKED"},
  "route", "promptVersion", "attempts", "fallbackUsed"}``. Optional ``Idempotency-Key`` header (refused
  where the contract forbids storing text: ``validation.parse_idempotency_key``). Assistant turns
  (caller history) are refused or checked by the guardrail first, per the contract (``validation``,
  ``bedrock.check_input``), as is caller text in look-alike letters, folded (``platform_spec.lookalikes``);
  input that check blocks is a 200 with ``route: null``, ``attempts: 0``.
* ``GET /use-cases``: enabled use cases (id, purpose, riskTier, limits, promptVersion).
* ``GET /health``: liveness, no Bedrock call.

Errors: ``errors`` (status/code table). Retries, fallback and time budget: ``bedrock``. Routing and
circuit breaker: ``routing``. Idempotency: ``idempotency``. Log line and metrics: ``telemetry``. Review
path (every answered output queued for scoring; a held answer stored for a reviewer and answered 202
``{"requestId", "reviewId", "status": "pending", "result"}``): ``review``.

Init (import) parses the environment and runtime_config.json and fails, naming the problem, if either is
invalid. It stays cheap: no pydantic, no Powertools Parser, no X-Ray SDK unless installed, no boto3;
botocore clients and the idempotency store are created on first use and then reused.
"""

from __future__ import annotations

import contextvars
import dataclasses
import json
import os
import time
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.logging import Logger, correlation_paths
from aws_lambda_powertools.metrics import Metrics
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from platform_spec.api import bedrock_budget_s, post_answer_reserve_s
from platform_spec.contract import CallerHistory
from platform_spec.review import (
    ReviewedTurn,
    ReviewInput,
    ReviewMessage,
    iso_now,
    principal_of,
    score_output,
    user_arn,
)

from .bedrock import (
    BedrockClients,
    InvocationResult,
    Outcome,
    RouteTarget,
    build_converse_request,
    build_input_check,
    cache_plan,
    check_input,
)
from .bedrock import invoke_with_resilience as _invoke_with_resilience
from .errors import INTERNAL_MESSAGE, QUOTA_RETRY_AFTER_S, ApiError, error_body, retry_after_s
from .idempotency import REPLAY_HEADER, IdempotentRunner, key_material
from .pricing import estimate_cost_usd
from .review import ReviewPath
from .routing import CircuitBreaker, circuit_key, plan_routes
from .runtime_config import FALLBACK, UseCase, load_runtime_config
from .settings import ResilienceSettings, Settings, load_settings
from .telemetry import RequestRecord, make_tracer, publish_metrics
from .validation import InvokeRequest, parse_idempotency_key, parse_invoke_request

settings: Settings = load_settings(os.environ)
runtime_config = load_runtime_config(settings.runtime_config_path, settings.resources)

_holding = sorted(
    u.id for u in runtime_config.use_cases.values() if u.enabled and u.contract.review.hold_for_review
)
if _holding and settings.review_table is None:
    # Fail closed: a held answer must never be released because the function was deployed without the
    # store that holds it (the construct refuses this at synth; a harness that does not exercise the review
    # path turns holding off in the runtime config it writes).
    raise RuntimeError(
        f"use cases {_holding} hold answers for review (review.hold_for_review) but this function has no review "
        "path: set REVIEW_TABLE and REVIEW_QUEUE_URL"
    )
review_path = (
    ReviewPath(table_name=settings.review_table, queue_url=settings.review_queue_url, region=settings.region)
    if settings.review_table is not None and settings.review_queue_url is not None
    else None
)

logger = Logger(service=settings.service_name)
metrics = Metrics(namespace=settings.metrics_namespace, service=settings.service_name)
tracer = make_tracer(settings.service_name)
app = APIGatewayRestResolver()


def _wire(policy: ResilienceSettings) -> tuple[BedrockClients, CircuitBreaker, IdempotentRunner]:
    """The module's Bedrock clients, circuit breaker and idempotency runner for a resilience policy."""
    return (
        BedrockClients(
            region=settings.region,
            connect_timeout_s=policy.connect_timeout_s,
            read_timeout_s=policy.read_timeout_s,
        ),
        CircuitBreaker(
            failure_threshold=policy.circuit_failure_threshold,
            timeout_threshold=policy.circuit_timeout_threshold,
            window_s=policy.circuit_window_s,
            cooldown_s=policy.circuit_cooldown_s,
        ),
        IdempotentRunner(
            table_name=settings.idempotency_table,
            ttl_s=settings.idempotency_ttl_s,
            retry_after_s=retry_after_s(policy),
        ),
    )


bedrock_clients, circuit, idempotency = _wire(settings.resilience)


def configure(resilience: ResilienceSettings) -> None:
    """Use another resilience policy (the deployed function never calls this: its values are the
    constants of ``platform_spec.api``). Tests, the demo and the benchmark shorten backoffs and timeouts
    with it, without environment variables that production would have to leave unset."""
    global settings, bedrock_clients, circuit, idempotency
    problems = resilience.problems()
    if problems:
        raise ValueError("invalid resilience settings: " + "; ".join(problems))
    settings = dataclasses.replace(settings, resilience=resilience)
    bedrock_clients, circuit, idempotency = _wire(resilience)


_JSON = "application/json"
_current: contextvars.ContextVar[RequestRecord] = contextvars.ContextVar("orchestrator_request")
#: This request's own event and context. The resolver (``app``) is a module-level singleton whose
#: ``current_event`` and ``lambda_context`` the next ``resolve()`` replaces: Lambda runs one request at a
#: time per execution environment, but a process that serves requests on several threads (a threaded host,
#: the benchmark's item 6) would let a route read another request's body. Routes read these instead.
_own: contextvars.ContextVar[tuple[Any, Any]] = contextvars.ContextVar("orchestrator_event")


# The tracer is a Powertools Tracer or a no-op (typed Any); the signature below is what Lambda calls.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)  # type: ignore[untyped-decorator]
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(event, context)


def handle(event: Any, context: Any) -> dict[str, Any]:
    """Resolve one API Gateway event; always returns a proxy response and logs exactly one line."""
    started = time.perf_counter()
    record = RequestRecord(
        request_id=_request_id(event, context),
        method=str(event.get("httpMethod")) if isinstance(event, dict) else "",
        resource=str(event.get("resource")) if isinstance(event, dict) else "",
    )
    token = _current.set(record)
    own = _own.set((event, context))
    try:
        try:
            response = app.resolve(event, context)
        except Exception as exc:  # the resolver itself failed (e.g. not an API Gateway event)
            record.exception = exc
            record.error_code = "INTERNAL"
            response = {
                "statusCode": 500,
                "headers": {"Content-Type": _JSON},
                "body": json.dumps(
                    error_body("INTERNAL", INTERNAL_MESSAGE, field=None, request_id=record.request_id)
                ),
                "isBase64Encoded": False,
            }
        record.status = int(response.get("statusCode", 500))
        _finish(record, latency_ms=round((time.perf_counter() - started) * 1000))
        return response
    finally:
        _own.reset(own)
        _current.reset(token)


# --- routes -------------------------------------------------------------------------------------------


@app.get("/health")
def health() -> Response[str]:
    _current.get().outcome = "ok"
    return _json(200, {"status": "ok", "environment": runtime_config.environment})


@app.get("/use-cases")
def list_use_cases() -> Response[str]:
    _current.get().outcome = "ok"
    use_cases = [
        {
            "id": use_case.id,
            "purpose": use_case.contract.purpose,
            "riskTier": use_case.contract.risk_tier.value,
            "limits": {
                "maxInputTokens": use_case.contract.limits.max_input_tokens,
                "maxOutputTokens": use_case.contract.limits.max_output_tokens,
            },
            "promptVersion": use_case.prompt.version,
        }
        for use_case in sorted(runtime_config.use_cases.values(), key=lambda u: u.id)
        if use_case.enabled
    ]
    return _json(200, {"useCases": use_cases})


@app.post("/use-cases/<useCaseId>/invoke")
def invoke(useCaseId: str) -> Response[str]:  # the name is the API's path parameter
    record = _current.get()
    use_case = runtime_config.enabled_use_case(useCaseId)
    if use_case is None:
        raise ApiError("USE_CASE_NOT_FOUND", "No enabled use case has this id.", field="useCaseId")
    record.use_case = use_case.id
    record.metrics_enabled = True
    record.prompt_version = use_case.prompt.version
    record.log_text = use_case.log_prompts_and_responses

    raw_event, lambda_context = _own.get()
    event = APIGatewayProxyEvent(raw_event)  # this request's, as app.current_event is (see _own)
    request = parse_invoke_request(
        headers=event.headers,
        body=event.body,
        is_base64_encoded=bool(event.is_base64_encoded),
        use_case=use_case,
    )
    key = parse_idempotency_key(event.headers, use_case)
    if record.log_text:
        record.prompt = {
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "context": request.context,
        }
    caller_arn = user_arn(event.raw_event)
    caller = principal_of(caller_arn)
    ends = _request_ends(lambda_context)

    def produce() -> dict[str, Any]:
        answered = _invoke(use_case, request, record, ends)
        return _reviewed(use_case, request, record, caller, answered, ends, caller_arn=caller_arn)

    if key is None:
        return _to_response(produce())
    record.idempotency_key_sent = True
    response = idempotency.run(
        key=key_material(idempotency_key=key, use_case_id=use_case.id, caller=caller, request=request),
        produce=produce,
        lambda_context=lambda_context,
        ends=ends,
        on_unsaved=record.idempotency_unsaved,
    )
    if (response.get("headers") or {}).get(REPLAY_HEADER) == "true":
        record.idempotent_replay = True
        record.outcome = "replayed"
    return _to_response(response)


# --- errors -------------------------------------------------------------------------------------------


@app.exception_handler(ApiError)  # type: ignore[untyped-decorator]
def _api_error(exc: ApiError) -> Response[str]:
    return _error_response(exc)


@app.not_found
def _not_found(exc: NotFoundError) -> Response[str]:
    del exc
    return _error_response(ApiError("NOT_FOUND", "No such resource or method.", field=None))


def _error_response(exc: ApiError) -> Response[str]:
    record = _current.get()
    record.error_code = exc.code
    if record.outcome is None:
        record.outcome = "client_error" if exc.status < 500 else "upstream_error"
    body = error_body(exc.code, exc.message, field=exc.field, request_id=record.request_id)
    return _json(exc.status, body, exc.headers)


@app.exception_handler(Exception)  # type: ignore[untyped-decorator]
def _unexpected(exc: Exception) -> Response[str]:
    record = _current.get()
    record.exception = exc
    record.error_code = "INTERNAL"
    record.outcome = "internal_error"
    return _json(500, error_body("INTERNAL", INTERNAL_MESSAGE, field=None, request_id=record.request_id))


# --- invoke -------------------------------------------------------------------------------------------


def _invoke(
    use_case: UseCase, request: InvokeRequest, record: RequestRecord, ends: float | None
) -> dict[str, Any]:
    """Call Bedrock for a validated request; a proxy-style dict for a 200, else raise ``ApiError``.

    The Bedrock deadline leaves, before ``ends``, the time of the store calls after the answer that decide
    what the caller gets (``_budget_s``)."""
    resources = settings.resources.use_cases[use_case.id]
    plan = plan_routes(
        use_case, input_chars=request.input_chars, message_count=len(request.messages), circuit=circuit
    )
    record.circuit_skipped = list(plan.skipped)
    arns: dict[str, str] = {}
    targets: list[RouteTarget] = []
    for route in plan.routes:
        arns[route] = resources.profile_arns[route]
        arguments = build_converse_request(
            use_case=use_case,
            cache=cache_plan(
                use_case=use_case, request=request, min_tokens=use_case.routes[route].prompt_cache_min_tokens
            ),
            profile_arn=arns[route],
            guardrail_id=resources.guardrail_arn,
            guardrail_version=resources.guardrail_version,
            request=request,
            request_metadata={"requestId": record.request_id, "useCase": use_case.id, "route": route},
        )
        fallback = route == FALLBACK
        targets.append(
            RouteTarget(
                route=route,
                arguments=arguments,
                circuit_key=None if fallback else circuit_key(use_case.id, route),
                # the contract's p95 is the answer time of the routes it chose (the fallback is last anyway)
                expected_s=0.0 if fallback else use_case.contract.latency_p95_ms / 1000,
            )
        )

    deadline = time.monotonic() + _budget_s(ends, held=_holds(use_case))
    check = build_input_check(
        guardrail_id=resources.guardrail_arn,
        guardrail_version=resources.guardrail_version,
        request=request,
        history=use_case.contract.conversation.caller_history is CallerHistory.GUARD,
        grounded=use_case.contract.guardrail.grounded,
    )
    checked = None
    if check is not None:
        checked = check_input(
            check=check,
            routes=len(targets),
            clients=bedrock_clients,
            policy=settings.resilience,
            deadline=deadline,
        )
        _record_calls(record, checked)
        if checked.outcome is Outcome.INTERVENED:
            return _input_blocked(use_case, record)
        if checked.outcome is not Outcome.ANSWERED:
            record.outcome = checked.outcome.value
            raise _upstream_error(checked)
    result = _invoke_with_resilience(
        plan=targets,
        clients=bedrock_clients,
        policy=settings.resilience,
        deadline=deadline,
        circuit=circuit,
        result=checked,
    )
    _record_calls(record, result)
    last_route = result.route or next(
        (a.route for a in reversed(result.attempts) if a.route in arns), plan.routes[0]
    )
    record.route = last_route
    record.profile = arns[last_route]
    record.model_id = use_case.routes[last_route].model_id
    if result.outcome not in (Outcome.ANSWERED, Outcome.INTERVENED) or result.answer is None:
        if result.outcome is Outcome.NOT_PERMITTED and plan.skipped:
            # a route the circuit skipped was paused, not refused: a retry after its cool-down can be answered
            result.outcome = Outcome.UNAVAILABLE
        record.outcome = result.outcome.value
        raise _upstream_error(result)

    answer = result.answer
    cost = estimate_cost_usd(
        use_case.routes[last_route],
        input_tokens=answer.input_tokens,
        output_tokens=answer.output_tokens,
        cache_read_tokens=answer.cache_read_tokens,
        cache_write_tokens=answer.cache_write_tokens,
    )
    if answer.masked:  # the guardrail only masked (ANONYMIZE): the answer, as Bedrock masked it
        text, action = answer.text, "MASKED"
    elif answer.intervened:
        policy = use_case.contract.guardrail
        text = (
            policy.blocked_output_message if answer.blocked_side == "output" else policy.blocked_input_message
        )
        action = "INTERVENED"
    else:
        text, action = answer.text, "NONE"
    record.outcome = result.outcome.value
    record.input_tokens = answer.input_tokens
    record.output_tokens = answer.output_tokens
    record.cache_read_tokens = answer.cache_read_tokens
    record.cache_write_tokens = answer.cache_write_tokens
    record.estimated_cost_usd = cost
    record.model_latency_ms = (
        answer.model_latency_ms
        if answer.model_latency_ms is not None
        else round((result.model_seconds or 0.0) * 1000)
    )
    record.guardrail_action = action
    record.response_text = text
    body = {
        "requestId": record.request_id,
        "useCase": use_case.id,
        "output": {"text": text, "truncated": answer.truncated},
        "usage": {
            "inputTokens": answer.input_tokens,
            "outputTokens": answer.output_tokens,
            "cacheReadInputTokens": answer.cache_read_tokens,
            "cacheWriteInputTokens": answer.cache_write_tokens,
        },
        "estimatedCostUsd": cost,
        "guardrail": {"action": action},
        "route": last_route,
        "promptVersion": use_case.prompt.version,
        "attempts": result.calls,
        "fallbackUsed": record.fallback_used,
    }
    return {"statusCode": 200, "headers": {"Content-Type": _JSON}, "body": body}


def _reviewed(
    use_case: UseCase,
    request: InvokeRequest,
    record: RequestRecord,
    caller: str,
    answered: dict[str, Any],
    ends: float | None,
    *,
    caller_arn: str | None,
) -> dict[str, Any]:
    """The answer after the review path (module ``review``): queued for scoring, or held (202). Both calls
    end by ``ends``: a hold that cannot is not made and fails closed (503), a queueing that cannot is
    skipped and counted like any failure to queue. ``caller_arn`` (the authenticated ARN, session name
    included) goes with the item, for the reviewer API's self-review rule."""
    if review_path is None:
        return answered
    body = answered["body"]
    policy = use_case.contract.review
    resources = settings.resources.use_cases[use_case.id]
    intervened = body["guardrail"]["action"] == "INTERVENED"
    text = body["output"]["text"]
    stored = use_case.log_prompts_and_responses
    message = ReviewMessage(
        review_id=record.request_id,
        use_case=use_case.id,
        created_at=iso_now(time.time()),
        caller=caller,
        caller_arn=caller_arn,
        held=policy.hold_for_review,
        prompt_version=use_case.prompt.version,
        route=body["route"],
        model_id=record.model_id,
        guardrail_arn=resources.guardrail_arn,
        guardrail_version=resources.guardrail_version,
        guardrail_action=body["guardrail"]["action"],
        text_stored=stored,
        input=ReviewInput(
            messages=tuple(ReviewedTurn(role=m.role, content=m.content) for m in request.messages),
            context=request.context,
        )
        if stored
        else None,
        output=text if stored else None,
        truncated=bool(body["output"]["truncated"]),
        # Where text may not leave the request, it is scored here and only the scores travel.
        scores=None if stored else score_output(use_case.scoring, text, intervened=intervened),
        request_metadata={"requestId": record.request_id, "useCase": use_case.id},
    )
    record.review_enabled = True
    if policy.hold_for_review:
        try:
            review_path.hold(message, policy=policy, now=time.time(), ends=ends)
        except Exception as exc:  # fail closed: no answer leaves without its stored item
            record.review_outcome = "hold_failed"
            record.review_error = type(exc).__name__
            raise ApiError(
                "REVIEW_UNAVAILABLE",
                "This use case releases answers only after review, and the review store is unavailable, so "
                "the answer was not released. Retry after the delay in Retry-After.",
                headers={"Retry-After": str(retry_after_s(settings.resilience))},
            ) from exc
        record.held = True
    try:
        review_path.enqueue(message, ends=ends)
        record.review_outcome = "held" if record.held else "queued"
    except Exception as exc:  # never changes the caller's answer: logged, counted, alarmed
        record.review_outcome = "held_unqueued" if record.held else "enqueue_failed"
        record.review_error = type(exc).__name__
        record.review_enqueue_failed = True
    if not record.held:
        return answered
    result = f"/use-cases/{use_case.id}/reviews/{record.request_id}"
    return {
        "statusCode": 202,
        "headers": {"Content-Type": _JSON, "Location": result},
        "body": {
            "requestId": record.request_id,
            "reviewId": record.request_id,
            "useCase": use_case.id,
            "status": "pending",
            "promptVersion": use_case.prompt.version,
            "slaHours": policy.sla_hours,
            "result": result,
        },
    }


def _record_calls(record: RequestRecord, result: InvocationResult) -> None:
    record.attempts = result.calls
    record.fallback_used = result.used_route(FALLBACK)
    record.upstream_errors = [
        f"{a.route}:{a.result}" for a in result.attempts if a.result not in ("ok", "intervened")
    ]


def _input_blocked(use_case: UseCase, record: RequestRecord) -> dict[str, Any]:
    """The 200 for input the input check blocked: the blocked-input message, no model call."""
    text = use_case.contract.guardrail.blocked_input_message
    record.outcome = Outcome.INTERVENED.value
    record.guardrail_action = "INTERVENED"
    record.input_tokens = record.output_tokens = record.cache_read_tokens = record.cache_write_tokens = 0
    record.estimated_cost_usd = 0.0
    record.response_text = text
    body = {
        "requestId": record.request_id,
        "useCase": use_case.id,
        "output": {"text": text, "truncated": False},
        "usage": {"inputTokens": 0, "outputTokens": 0, "cacheReadInputTokens": 0, "cacheWriteInputTokens": 0},
        "estimatedCostUsd": 0.0,
        "guardrail": {"action": "INTERVENED"},
        "route": None,
        "promptVersion": use_case.prompt.version,
        "attempts": 0,
        "fallbackUsed": False,
    }
    return {"statusCode": 200, "headers": {"Content-Type": _JSON}, "body": body}


def _upstream_error(result: InvocationResult) -> ApiError:
    """The API error for an invocation no route answered; every retryable one says when to retry."""
    retry_after = {"Retry-After": str(retry_after_s(settings.resilience))}
    if result.outcome is Outcome.QUOTA_EXCEEDED:
        return ApiError(
            "MODEL_QUOTA_EXCEEDED",
            "Every model route of this use case is over its Bedrock service quota. Retry after the delay "
            "in Retry-After; if it persists, the account's quota must be raised.",
            headers={"Retry-After": str(QUOTA_RETRY_AFTER_S)},
        )
    if result.outcome is Outcome.THROTTLED:
        return ApiError(
            "THROTTLED",
            "The model is throttling this use case. Retry after the delay in Retry-After.",
            headers=retry_after,
        )
    if result.outcome is Outcome.TIMED_OUT:
        return ApiError(
            "TIME_BUDGET_EXCEEDED",
            "The model did not answer within the time budget. Retry after the delay in Retry-After.",
            headers=retry_after,
        )
    if result.outcome is Outcome.REJECTED:
        return ApiError("UPSTREAM_REJECTED", "The model service rejected the request.")
    if result.outcome is Outcome.NOT_PERMITTED:
        return ApiError(
            "UPSTREAM_NOT_PERMITTED",
            "This deployment may not call the model service for this use case. Retrying will not help "
            "until the deployment is fixed; the error is logged for its operators.",
        )
    return ApiError(
        "UPSTREAM_UNAVAILABLE",
        "The model service is unavailable. Retry after the delay in Retry-After.",
        headers=retry_after,
    )


def _request_ends(context: Any) -> float | None:
    """When (``time.monotonic()``) this request must have made its last call: the Lambda's remaining time
    less the safety margin to answer; ``None`` without a Lambda context (no bound)."""
    get_remaining = getattr(context, "get_remaining_time_in_millis", None)
    if get_remaining is None:
        return None
    return time.monotonic() + float(get_remaining()) / 1000 - settings.resilience.safety_margin_s


def _holds(use_case: UseCase) -> bool:
    """Whether this request's answer is held for review (a PutItem after the answer decides what the caller
    gets)."""
    return review_path is not None and use_case.contract.review.hold_for_review


def _budget_s(ends: float | None, *, held: bool) -> float:
    """Seconds this request may spend on Bedrock from now: the time left before ``ends`` less the reserve
    for the store calls after the answer (``platform_spec.api.post_answer_reserve_s``), at most
    ``max_budget_s``."""
    policy = settings.resilience
    if ends is None:
        return policy.max_budget_s
    left = ends - time.monotonic() + policy.safety_margin_s  # bedrock_budget_s takes the margin off itself
    return bedrock_budget_s(left, reserve_s=post_answer_reserve_s(held=held), policy=policy)


# --- helpers ------------------------------------------------------------------------------------------


def _json(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response[str]:
    return Response(
        status_code=status, content_type=_JSON, body=json.dumps(body), headers=dict(headers or {})
    )


def _to_response(proxy: Mapping[str, Any]) -> Response[str]:
    headers = {k: v for k, v in (proxy.get("headers") or {}).items() if k.lower() != "content-type"}
    return _json(int(proxy["statusCode"]), proxy["body"], headers)


def _request_id(event: Any, context: Any) -> str:
    if isinstance(event, dict):
        request_context = event.get("requestContext")
        if isinstance(request_context, dict) and isinstance(request_context.get("requestId"), str):
            return str(request_context["requestId"])
    return str(getattr(context, "aws_request_id", "") or "unknown")


def _finish(record: RequestRecord, *, latency_ms: int) -> None:
    """Publish the request's metrics and write its one log line."""
    fields = record.log_fields(latency_ms)
    try:
        publish_metrics(
            metrics,
            record,
            latency_ms=latency_ms,
            environment=runtime_config.environment,
            namespace=settings.metrics_namespace,
            service=settings.service_name,
        )
    except Exception as exc:  # metrics must never fail a request that has already been answered
        fields["metricsError"] = type(exc).__name__
        metrics.clear_metrics()  # Powertools keeps metrics in class-level state: do not leak them
    status = record.status or 500
    if record.exception is not None:
        logger.error("request", extra=fields, exc_info=record.exception)
    elif status == 500:  # a deployment fault (UPSTREAM_NOT_PERMITTED): no retry cures it
        logger.error("request", extra=fields)
    elif status >= 500:
        logger.warning("request", extra=fields)
    else:
        logger.info("request", extra=fields)
