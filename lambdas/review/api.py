"""The review endpoints of the orchestration API (AWS_IAM authorization, Lambda proxy integration).

Reviewer endpoints (callable only by sessions of the environment's reviewer role: the API's IAM policy
grants them to that role alone, and this function refuses any other identity with 403 ``NOT_A_REVIEWER``):

* ``GET /reviews?useCase=<id>[&limit=<1-100>][&nextToken=<token>]``: the use case's pending items,
  earliest answer first, each with when it went to people (``pendingSince``), its age since then, its SLA
  due time and whether it is overdue (the SLA runs from ``pendingSince``, not the answer's creation);
* ``GET /reviews/{reviewId}``: one item: scores, why it went to people, the prompt version, model and
  guardrail version, the text where the contract lets it be stored (else where the reviewer looks:
  the invocation log's location and the request metadata to find the record by), and its audit trail;
* ``POST /reviews/{reviewId}/decision``: ``{"decision": "approve" | "reject" | "correct", "reason":
  "<10-2000 characters>", "correctedText": "<the corrected answer: correct only>"}``; 403 ``SELF_REVIEW``
  when the reviewer is the request's own caller (``platform_spec.review.self_review``: the same principal,
  or a reviewer session with the name the request was made under). A correction goes through the use
  case's guardrail first (``correction``): stored as written or masked, or refused (422
  ``CORRECTION_BLOCKED``; 503 ``GUARDRAIL_UNAVAILABLE`` when the check cannot run now, 500
  ``GUARDRAIL_NOT_PERMITTED`` when this deployment may not run it), the item still pending.

Caller endpoints (any identity the API admits; a caller sees only what it asked itself):

* ``POST /use-cases/{useCaseId}/feedback``: ``{"requestId": "...", "rating": 1-5, "comment": "..."}``;
* ``GET /use-cases/{useCaseId}/reviews/{reviewId}``: a held answer: 202 while pending, 200 ``released``
  (the approved or corrected text) or 200 ``rejected`` (no text).

Who acts is always the IAM identity API Gateway authenticated (``requestContext.identity.userArn``),
never a field of the body. Every decision, feedback and blocked correction is a write-once audit record
(``platform_spec.review.audit_record``); a decision updates the item and writes its record in one
transaction, so an unknown or already-decided item changes nothing (404 / 409).
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.logging import Logger, correlation_paths
from aws_lambda_powertools.metrics import Metrics

from platform_spec.api import ApiError, ReviewMetric, error_body
from platform_spec.contract import USE_CASE_ID, ReviewPolicy
from platform_spec.requests import (
    body_bytes,
    check_characters,
    check_content_type,
    parse_json,
    unknown_field,
)
from platform_spec.review import (
    LIST_LIMIT_DEFAULT,
    LIST_LIMIT_MAX,
    MAX_COMMENT_CHARS,
    MAX_CORRECTION_CHARS,
    MAX_REASON_CHARS,
    MAX_REVIEW_ID_CHARS,
    MIN_REASON_CHARS,
    NEGATIVE_RATING_MAX,
    RATING_MAX,
    RATING_MIN,
    AuditEvent,
    DecisionKind,
    ReviewEnv,
    ReviewMessage,
    ReviewReason,
    ReviewStatus,
    ReviewTable,
    access_key,
    audit_record,
    comment_update,
    decision_update,
    feedback_event,
    is_session_of,
    iso_now,
    negative_feedback_goes_to_people,
    parse_iso,
    pending_since,
    principal_of,
    read_scores,
    refused_correction_event,
    self_review,
    to_pending_update,
    user_arn,
)
from platform_spec.runtime import RuntimeUseCase, read_runtime_config

from .correction import (
    CorrectionBlocked,
    CorrectionGuard,
    CorrectionUncheckable,
    Grounding,
    GuardrailNotPermitted,
    GuardrailUnavailable,
)
from .settings import SettingsError, load_settings
from .store import Conflict, ReviewStore, decode_token, encode_token
from .telemetry import publish

settings = load_settings(
    os.environ, needs=(ReviewEnv.AUDIT_TABLE, ReviewEnv.REVIEWER_ROLE_ARN, ReviewEnv.GUARDRAILS)
)
runtime_config = read_runtime_config(settings.runtime_config_path)
_unguarded = sorted(set(runtime_config.use_cases) - set(settings.guardrails))
if _unguarded:  # a correction of their items could not be checked: refuse to start rather than release it
    raise SettingsError(
        [
            f"{ReviewEnv.GUARDRAILS} has no guardrail for use case(s) {', '.join(_unguarded)} of the runtime config"
        ]
    )
guard = CorrectionGuard(region=settings.region, guardrails=settings.guardrails)
logger = Logger(service=settings.service_name)
metrics = Metrics(namespace=settings.metrics_namespace, service=settings.service_name)
store = ReviewStore(
    review_table=settings.review_table, audit_table=settings.audit_table, region=settings.region
)
app = APIGatewayRestResolver()

_JSON = "application/json"
DECISION_FIELDS = frozenset({"decision", "reason", "correctedText"})
FEEDBACK_FIELDS = frozenset({"requestId", "rating", "comment"})
REJECTED_MESSAGE = "A reviewer rejected this answer; it will not be released."


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        response: dict[str, Any] = app.resolve(event, context)
    except Exception:  # the resolver itself failed (not an API Gateway event)
        logger.exception("unresolvable event")
        request_id = str(getattr(context, "aws_request_id", "") or "unknown")
        response = {
            "statusCode": 500,
            "headers": {"Content-Type": _JSON},
            "body": json.dumps(
                error_body("INTERNAL", "An internal error occurred.", field=None, request_id=request_id)
            ),
            "isBase64Encoded": False,
        }
    return response


# ==================================================================== reviewer endpoints


def _listed_use_case(value: Any) -> tuple[str, ReviewPolicy, bool]:
    """The use case whose pending items a reviewer lists: (id, review policy, whether it is configured).
    An enabled one, or an id of the right form that the configuration no longer has (a retired use case, or
    one taken out of this environment): its items stay in the table until decided or expired, and must
    stay reachable to be settled (:func:`list_pending` answers 404 when none of its items is pending, so a
    typo is still an unknown use case)."""
    if (
        isinstance(value, str)
        and runtime_config.enabled_use_case(value) is None
        and not USE_CASE_ID.problems(value)
    ):
        return value, _policy(value), False
    use_case = _use_case(value, field="useCase")
    return use_case.id, use_case.contract.review, True


@app.get("/reviews")
def list_pending() -> Response[str]:
    reviewer = _reviewer()
    params = app.current_event.query_string_parameters or {}
    use_case_id, policy, configured = _listed_use_case(params.get("useCase"))
    limit = _limit(params.get("limit"))
    start = None
    if params.get("nextToken"):
        try:
            start = decode_token(params["nextToken"], use_case=use_case_id)
        except ValueError:
            raise ApiError(
                "INVALID_REQUEST",
                "nextToken is not a token this API issued for this use case's list.",
                field="nextToken",
            ) from None
    items, last = _store(lambda: store.pending(use_case_id, limit=limit, start_key=start))
    if not configured and not items and start is None:
        raise ApiError(
            "USE_CASE_NOT_FOUND",
            "No enabled use case has this id, and no item of one that had it is pending.",
            field="useCase",
        )
    now = time.time()
    sla_s = policy.sla_hours * 3600
    listed = []
    for item in items:
        since = pending_since(item)
        started = parse_iso(since)
        waited = now - started
        listed.append(
            {
                "reviewId": item[ReviewTable.KEY],
                "useCase": use_case_id,
                "createdAt": item[ReviewTable.CREATED_AT],
                "pendingSince": since,
                "ageSeconds": max(0, round(waited)),
                "dueAt": iso_now(started + sla_s),
                "overdue": waited > sla_s,
                "held": bool(item.get(ReviewTable.HELD)),
                "reasons": item.get(ReviewTable.REASONS, []),
                "score": item.get(ReviewTable.SCORE),
                "scored": ReviewTable.SCORED_AT in item,
            }
        )
    logger.info("pending listed", extra={"reviewer": reviewer, "useCase": use_case_id, "count": len(listed)})
    return _json(
        200,
        {"useCase": use_case_id, "configured": configured, "items": listed, "nextToken": encode_token(last)},
    )


@app.get("/reviews/<reviewId>")
def read_item(reviewId: str) -> Response[str]:  # the name is the API's path parameter
    _reviewer()
    item = _item(reviewId)
    message = ReviewMessage.from_json(str(item[ReviewTable.MESSAGE]))
    sla_s = _policy(message.use_case).sla_hours * 3600
    since = pending_since(item)
    audit, complete = _store(lambda: store.audit_trail(reviewId, time_left_s=_time_left_s))
    return _json(
        200,
        {
            "reviewId": reviewId,
            "useCase": message.use_case,
            "status": item[ReviewTable.STATUS],
            "createdAt": message.created_at,
            "pendingSince": since,
            "dueAt": iso_now(parse_iso(since) + sla_s),
            "held": message.held,
            "reasons": item.get(ReviewTable.REASONS, []),
            "score": item.get(ReviewTable.SCORE),
            "scores": [
                {"scorer": s.scorer.value, "passed": s.passed, "score": s.score, "explanation": s.explanation}
                for s in read_scores(item.get(ReviewTable.SCORES))
            ],
            "promptVersion": message.prompt_version,
            "route": message.route,
            "modelId": message.model_id,
            "guardrail": {
                "arn": message.guardrail_arn,
                "version": message.guardrail_version,
                "action": message.guardrail_action,
            },
            "text": _text_view(message),
            "invocationLog": _log_view(message),
            "decision": json.loads(str(item[ReviewTable.DECISION])) if ReviewTable.DECISION in item else None,
            "feedbackComment": item.get(ReviewTable.FEEDBACK_COMMENT),
            "audit": [{k: v for k, v in record.items() if k != "expiresAt"} for record in audit],
            "auditComplete": complete,
        },
    )


@app.post("/reviews/<reviewId>/decision")
def decide(reviewId: str) -> Response[str]:  # the name is the API's path parameter
    reviewer = _reviewer()
    body = _body(DECISION_FIELDS)
    try:
        kind = DecisionKind(str(body.get("decision")))
    except ValueError:
        raise ApiError(
            "INVALID_REQUEST",
            f"decision must be one of {', '.join(k.value for k in DecisionKind)}.",
            field="decision",
        ) from None
    reason = _text(body.get("reason"), "reason", minimum=MIN_REASON_CHARS, maximum=MAX_REASON_CHARS)
    corrected = body.get("correctedText")
    if kind is DecisionKind.CORRECT:
        corrected = _text(corrected, "correctedText", minimum=1, maximum=MAX_CORRECTION_CHARS)
    elif corrected is not None:
        raise ApiError(
            "INVALID_REQUEST", "correctedText belongs to a correct decision only.", field="correctedText"
        )
    item = _item(reviewId)
    message = ReviewMessage.from_json(str(item[ReviewTable.MESSAGE]))
    if kind is DecisionKind.CORRECT and not message.text_stored:
        raise ApiError(
            "CORRECTION_NOT_STORABLE",
            "This use case's contract forbids storing response text, so a corrected text cannot be stored "
            "either. Approve or reject with a reason.",
            field="decision",
        )
    _not_decided(item)
    refused = self_review(reviewer, caller=str(item[ReviewTable.CALLER]), caller_arn=message.caller_arn)
    if refused is not None:
        raise ApiError(
            "SELF_REVIEW",
            f"A request's caller may not decide its own review: {refused}. Fix: another reviewer decides it, "
            "in a reviewer session named after themselves (RoleSessionName and SourceIdentity).",
            field="reviewId",
        )
    checked = _check_correction(message, corrected, reviewer) if corrected is not None else None
    now = time.time()
    actor = reviewer
    decision: dict[str, Any] = {
        "decision": kind.value,
        "reason": reason,
        "reviewer": actor,
        "decidedAt": iso_now(now),
    }
    what = _signed({"decision": kind.value, "reason": reason})
    if checked is not None:  # as the guardrail let it through: masked text, never what it masked
        decision["correctedText"] = checked.text
        decision["guardrail"] = {
            "action": checked.verdict.value,
            "arn": checked.guardrail.arn,
            "version": checked.guardrail.version,
        }
        what["correctedText"] = checked.text
        what["guardrail"] = checked.verdict.value
    policy = _policy(message.use_case)
    try:
        _store(
            lambda: store.record(
                audit_record(
                    subject=reviewId,
                    event=AuditEvent.DECISION.value,
                    kind=AuditEvent.DECISION,
                    message=message,
                    actor=actor,
                    what=what,
                    retention_days=policy.audit_retention_days,
                    now=now,
                ),
                item_update=decision_update(
                    reviewId, decision=decision, status=kind.status, reviewer=actor, now=now
                ),
            )
        )
    except Conflict:
        # Decided (or dropped) between the read above and the transaction: read again for the right answer.
        _not_decided(_item(reviewId))
        raise ApiError(
            "REVIEW_ALREADY_DECIDED", "Another decision was recorded first.", field="reviewId"
        ) from None
    except ApiError as unavailable:
        # The write failed without a condition failing: DynamoDB cancels a transaction with TransactionConflict
        # while another request on the item is in flight (a second reviewer's decision), or the answer was lost.
        # Decided meanwhile is 409 like any second decision; still pending, the 503 stands (a retry may succeed):
        # https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html#API_TransactWriteItems_Errors
        _not_decided(_item(reviewId))
        raise unavailable
    publish(
        metrics,
        use_case=message.use_case,
        environment=runtime_config.environment,
        values={
            ReviewMetric.DECISIONS: ("Count", 1),
            ReviewMetric.REJECTED: ("Count", 1 if kind is DecisionKind.REJECT else 0),
            ReviewMetric.CORRECTED: ("Count", 1 if kind is DecisionKind.CORRECT else 0),
            ReviewMetric.DECISION_SECONDS: ("Seconds", max(0.0, now - parse_iso(pending_since(item)))),
        },
    )
    logger.info("review decided", extra={"reviewId": reviewId, "decision": kind.value, "reviewer": actor})
    decided: dict[str, Any] = {
        "reviewId": reviewId,
        "status": kind.status.value,
        "decision": kind.value,
        "reviewer": actor,
        "decidedAt": decision["decidedAt"],
    }
    if checked is not None:  # what the caller will receive, as the guardrail left it
        decided["correctedText"] = checked.text
        decided["guardrail"] = {"action": checked.verdict.value}
    return _json(200, decided)


# ==================================================================== caller endpoints


@app.post("/use-cases/<useCaseId>/feedback")
def feedback(useCaseId: str) -> Response[str]:  # the name is the API's path parameter
    use_case = _use_case(useCaseId, field="useCaseId")
    body = _body(FEEDBACK_FIELDS)
    request_id = _text(body.get("requestId"), "requestId", minimum=1, maximum=MAX_REVIEW_ID_CHARS)
    rating = body.get("rating")
    if isinstance(rating, bool) or not isinstance(rating, int) or not RATING_MIN <= rating <= RATING_MAX:
        raise ApiError(
            "INVALID_REQUEST",
            f"rating must be a whole number from {RATING_MIN} to {RATING_MAX}.",
            field="rating",
        )
    comment = body.get("comment")
    if comment is not None:
        comment = _text(comment, "comment", minimum=1, maximum=MAX_COMMENT_CHARS)
    actor = user_arn(app.current_event.raw_event) or "anonymous"
    item = _get(request_id)
    if (
        item is None
        or item[ReviewTable.USE_CASE] != use_case.id
        or item[ReviewTable.CALLER] != principal_of(actor)
    ):
        raise ApiError(
            "REQUEST_NOT_FOUND",
            "No answered request with this id for this use case made by this caller (or it is not scored yet: "
            "retry in a few seconds).",
            field="requestId",
        )
    message = ReviewMessage.from_json(str(item[ReviewTable.MESSAGE]))
    negative = rating <= NEGATIVE_RATING_MAX
    policy = use_case.contract.review
    to_people = (
        negative
        and negative_feedback_goes_to_people(policy)
        and item[ReviewTable.STATUS] == ReviewStatus.SCORED.value
    )
    now = time.time()
    what: dict[str, str | int] = {"rating": rating}
    # A comment may quote the answer: stored only where text may be, and on the item (expiring with it),
    # not in the audit record, which outlives it by years (ReviewTable.FEEDBACK_COMMENT).
    kept = comment if comment is not None and message.text_stored else None
    if kept is not None:
        what["commentChars"] = len(kept)
    audit = audit_record(
        subject=request_id,
        event=feedback_event(actor),
        kind=AuditEvent.FEEDBACK,
        message=message,
        actor=actor,
        what=what,
        retention_days=policy.audit_retention_days,
        now=now,
    )
    flip = to_pending_update(
        request_id, use_case=use_case.id, reason=ReviewReason.NEGATIVE_FEEDBACK, now=now, comment=kept
    )
    # The item may change in between: a reviewer picked it up (then it is not sent again, and the comment
    # goes on alone), or it expired (then the feedback is recorded alone: no item to keep the comment with).
    updates: list[dict[str, Any] | None] = [flip] if to_people else []
    if kept is not None:
        updates.append(comment_update(request_id, kept))
    updates.append(None)
    for update in updates:
        try:
            _store(functools.partial(store.record, audit, item_update=update))
        except Conflict as conflict:
            if "audit" in conflict.which:
                raise ApiError(
                    "FEEDBACK_ALREADY_RECORDED",
                    "This caller already sent feedback on this request.",
                    field="requestId",
                ) from None
            to_people = False
            continue
        break
    publish(
        metrics,
        use_case=use_case.id,
        environment=runtime_config.environment,
        values={
            ReviewMetric.FEEDBACK_RATING: ("NoUnit", rating),
            ReviewMetric.NEGATIVE_FEEDBACK: ("Count", 1 if negative else 0),
        },
    )
    return _json(
        201, {"requestId": request_id, "rating": rating, "recorded": True, "sentToReview": to_people}
    )


@app.get("/use-cases/<useCaseId>/reviews/<reviewId>")
def held_answer(useCaseId: str, reviewId: str) -> Response[str]:  # the API's path parameters
    use_case = _use_case(useCaseId, field="useCaseId")
    actor = user_arn(app.current_event.raw_event)
    item = _get(reviewId)
    if (
        item is None
        or item[ReviewTable.USE_CASE] != use_case.id
        or item[ReviewTable.CALLER] != principal_of(actor)
    ):
        raise ApiError(
            "REVIEW_NOT_FOUND", "No review of a request of this caller has this id.", field="reviewId"
        )
    message = ReviewMessage.from_json(str(item[ReviewTable.MESSAGE]))
    status = ReviewStatus(str(item[ReviewTable.STATUS]))
    body: dict[str, Any] = {
        "reviewId": reviewId,
        "requestId": reviewId,
        "useCase": use_case.id,
        "promptVersion": message.prompt_version,
    }
    if not message.held:
        return _json(200, {**body, "status": "delivered", "reviewStatus": status.value})
    if not status.decided:
        since = parse_iso(pending_since(item))
        return _json(
            202,
            {
                **body,
                "status": "pending",
                "dueAt": iso_now(since + use_case.contract.review.sla_hours * 3600),
            },
            {"Retry-After": "60"},
        )
    decision = json.loads(str(item[ReviewTable.DECISION]))
    if status is ReviewStatus.REJECTED:
        return _json(
            200,
            {
                **body,
                "status": "rejected",
                "output": None,
                "message": REJECTED_MESSAGE,
                "decidedAt": decision["decidedAt"],
            },
        )
    corrected = status is ReviewStatus.CORRECTED
    text = decision.get("correctedText") if corrected else message.output
    # the guardrail's action on the text released: the correction's check, or the model answer's
    action = (
        (decision.get("guardrail") or {}).get("action", "NONE") if corrected else message.guardrail_action
    )
    return _json(
        200,
        {
            **body,
            "status": "released",
            "output": {"text": text, "truncated": message.truncated and not corrected},
            "guardrail": {"action": action},
            "corrected": corrected,
            "decidedAt": decision["decidedAt"],
        },
    )


# ==================================================================== errors


@app.exception_handler(ApiError)  # type: ignore[untyped-decorator]
def _api_error(exc: ApiError) -> Response[str]:
    return _json(
        exc.status, error_body(exc.code, exc.message, field=exc.field, request_id=_request_id()), exc.headers
    )


@app.not_found
def _not_found(exc: NotFoundError) -> Response[str]:
    del exc
    return _json(
        404, error_body("NOT_FOUND", "No such resource or method.", field=None, request_id=_request_id())
    )


@app.exception_handler(Exception)  # type: ignore[untyped-decorator]
def _unexpected(exc: Exception) -> Response[str]:
    logger.exception("review request failed", extra={"requestId": _request_id()})
    del exc
    return _json(
        500,
        error_body(
            "INTERNAL",
            "An internal error occurred. Quote the request id when reporting it.",
            field=None,
            request_id=_request_id(),
        ),
    )


# ==================================================================== helpers


def _request_id() -> str:
    context = app.current_event.raw_event.get("requestContext") or {}
    return str(context.get("requestId") or "unknown")


def _time_left_s() -> float:
    """What is left of this invocation, in seconds."""
    return float(app.lambda_context.get_remaining_time_in_millis()) / 1000


def _json(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response[str]:
    return Response(
        status_code=status, content_type=_JSON, body=json.dumps(body), headers=dict(headers or {})
    )


def _reviewer() -> str:
    """The reviewer's IAM ARN; 403 unless it is a session of the reviewer role (defence in depth: the
    API's IAM policy already admits only that role to these resources)."""
    actor = user_arn(app.current_event.raw_event)
    assert settings.reviewer_role_arn is not None  # required at init
    if not is_session_of(actor, settings.reviewer_role_arn):
        raise ApiError(
            "NOT_A_REVIEWER",
            "Only sessions of the environment's reviewer role may use the reviewer endpoints.",
            field=None,
        )
    return str(actor)


def _use_case(value: Any, *, field: str) -> RuntimeUseCase:
    if not isinstance(value, str) or not value:
        raise ApiError("INVALID_REQUEST", f"{field} is required.", field=field)
    use_case = runtime_config.enabled_use_case(value)
    if use_case is None:
        raise ApiError("USE_CASE_NOT_FOUND", "No enabled use case has this id.", field=field)
    return use_case


def _check_correction(message: ReviewMessage, text: str, reviewer: str) -> Any:
    """The correction through the use case's guardrail (``correction``), or the API error that refuses it.
    A blocked one is audited (who, when, what fired; never the text) before the refusal."""
    use_case = runtime_config.use_cases.get(message.use_case)
    grounding = None
    grounded = use_case is not None and use_case.contract.guardrail.grounded
    if grounded and message.input is not None and message.input.context is not None:
        # as the orchestrator grounded the answer: the caller's context and last question
        grounding = Grounding(source=message.input.context, query=message.input.question)
    elif grounded and message.text_note is not None:
        # The answer was checked against a context this item no longer has (too large for the review queue):
        # without it the correction would skip the grounding check the answer met. Fails closed.
        raise ApiError(
            "CORRECTION_NOT_CHECKABLE",
            f"The request's context was too large to keep with this review item ({message.text_note}), so the "
            "contextual grounding check the answer met cannot apply to a correction; nothing was stored and "
            "the item is still pending. Fix: approve or reject the answer with a reason.",
            field="decision",
        )
    remaining_s = _time_left_s()
    try:
        return guard.check(message.use_case, text, grounding=grounding, remaining_s=remaining_s)
    except LookupError:
        raise ApiError(
            "CORRECTION_NOT_CHECKABLE",
            f"Use case {message.use_case!r} is no longer deployed here, so no guardrail can check a correction. "
            "Approve or reject it with a reason.",
            field="decision",
        ) from None
    except CorrectionUncheckable as refused:
        logger.warning("correction refused by the guardrail API", extra={"why": str(refused)})
        raise ApiError(
            "CORRECTION_NOT_CHECKABLE",
            "Bedrock refused to check this correction with the use case's guardrail (ValidationException, e.g. a "
            "text longer than the guardrail accepts); nothing was stored and the item is still pending. Fix: "
            "shorten correctedText, or approve or reject the answer with a reason.",
            field="correctedText",
        ) from None
    except CorrectionBlocked as blocked:
        logger.info("correction blocked", extra={"useCase": message.use_case, "fired": list(blocked.fired)})
        _audit_refused_correction(message, reviewer, blocked)
        raise ApiError(
            "CORRECTION_BLOCKED",
            f"The use case's guardrail blocks this correction ({blocked}); nothing was stored and the item is "
            "still pending. Fix: rewrite correctedText without it, or reject the answer with a reason.",
            field="correctedText",
        ) from None
    except GuardrailNotPermitted as denied:
        # an error, not a warning: nothing a reviewer does cures it (the Api5xx alarm counts the 500s)
        logger.error(
            "correction guardrail not permitted", extra={"useCase": message.use_case, "why": str(denied)}
        )
        raise ApiError(
            "GUARDRAIL_NOT_PERMITTED",
            "The use case's guardrail refused the review function (not permitted, or not found at its deployed "
            "version); nothing was stored and the item is still pending. Retrying will not help: the platform "
            "team must fix the deployment (the function's log names the error).",
            field="correctedText",
        ) from None
    except GuardrailUnavailable as unavailable:
        logger.warning("correction guardrail unavailable", extra={"why": str(unavailable)})
        raise ApiError(
            "GUARDRAIL_UNAVAILABLE",
            "The guardrail check of the correction could not run; nothing was stored and the item is still "
            "pending. Retry after the delay in Retry-After.",
            field="correctedText",
            headers={"Retry-After": "2"},
        ) from None


def _signed(what: dict[str, str | int]) -> dict[str, str | int]:
    """A reviewer audit record's ``what`` with the access key the request was signed with (when there is
    one): CloudTrail's AssumeRole event of this key names who assumed the reviewer role and the session's
    source identity, which API Gateway does not pass on."""
    signed_with = access_key(app.current_event.raw_event)
    return what if signed_with is None else {**what, "actorAccessKey": signed_with}


def _audit_refused_correction(message: ReviewMessage, reviewer: str, blocked: CorrectionBlocked) -> None:
    """A write-once audit record of a correction the guardrail blocked. Nothing was stored or released, so a
    record that cannot be written is logged and the refusal stands."""
    now = time.time()
    what = _signed({"fired": ", ".join(blocked.fired) or "the guardrail intervened"})
    record = audit_record(
        subject=message.review_id,
        event=refused_correction_event(now, _request_id()),
        kind=AuditEvent.CORRECTION_REFUSED,
        message=message,
        actor=reviewer,
        what=what,
        retention_days=_policy(message.use_case).audit_retention_days,
        now=now,
    )
    try:
        store.record(record)
    except Exception:
        logger.exception("the refused correction could not be audited")


def _policy(use_case_id: str) -> ReviewPolicy:
    """The use case's review policy; for an item whose use case has left the configuration, the contract
    defaults (its SLA and audit retention as a contract that says nothing would have them)."""
    use_case = runtime_config.use_cases.get(use_case_id)
    return use_case.contract.review if use_case is not None else ReviewPolicy()


def _limit(raw: str | None) -> int:
    if raw is None:
        return LIST_LIMIT_DEFAULT
    # ASCII digits only, and few: str.isdigit also accepts digits int() does not read ("²"), and int()
    # refuses more than sys.get_int_max_str_digits() of them
    if (
        not (raw.isascii() and raw.isdigit() and len(raw) <= len(str(LIST_LIMIT_MAX)))
        or not 1 <= int(raw) <= LIST_LIMIT_MAX
    ):
        raise ApiError(
            "INVALID_REQUEST", f"limit must be a whole number from 1 to {LIST_LIMIT_MAX}.", field="limit"
        )
    return int(raw)


def _get(review_id: str) -> dict[str, Any] | None:
    """The review item with this id, or None. An id longer than any request id names no item and is not
    looked up (``MAX_REVIEW_ID_CHARS``: DynamoDB could refuse the key, which would read as a store failure)."""
    if len(review_id) > MAX_REVIEW_ID_CHARS:
        return None
    item: dict[str, Any] | None = _store(lambda: store.get(review_id))
    return item


def _item(review_id: str) -> dict[str, Any]:
    item = _get(review_id)
    if item is None:
        raise ApiError("REVIEW_NOT_FOUND", "No review item has this id (or it expired).", field="reviewId")
    return item


def _not_decided(item: Mapping[str, Any]) -> None:
    status = ReviewStatus(str(item[ReviewTable.STATUS]))
    if status.decided:
        raise ApiError(
            "REVIEW_ALREADY_DECIDED", f"This item was already decided ({status.value}).", field="reviewId"
        )
    if status is not ReviewStatus.PENDING:
        raise ApiError(
            "REVIEW_NOT_PENDING",
            "This item was scored but never sent to people; there is nothing to decide.",
            field="reviewId",
        )


def _store(call: Any) -> Any:
    """Run a store call; a failure of the store itself is 503 REVIEW_UNAVAILABLE (conflicts pass)."""
    try:
        return call()
    except Conflict:
        raise
    except Exception as exc:
        logger.exception("review store failed")
        raise ApiError(
            "REVIEW_UNAVAILABLE",
            "The review store is unavailable. Retry after the delay in Retry-After.",
            headers={"Retry-After": "2"},
        ) from exc


def _body(allowed: frozenset[str]) -> dict[str, Any]:
    event = app.current_event
    headers = {k.lower(): v for k, v in (event.headers or {}).items()}
    check_content_type(headers.get("content-type"))
    document = parse_json(body_bytes(event.body, bool(event.is_base64_encoded)))
    if not isinstance(document, dict):
        raise ApiError("INVALID_REQUEST", "The body must be a JSON object.", field=None)
    unknown = [key for key in document if key not in allowed]
    if unknown:
        raise unknown_field(unknown[0], frozenset(allowed))
    return document


def _text(value: Any, field: str, *, minimum: int, maximum: int) -> str:
    """``value`` as stored: at least ``minimum`` characters besides surrounding blanks, at most ``maximum`` in
    all (the stored text, blanks included: padding must not carry a comment past its bound)."""
    if not isinstance(value, str) or not value.strip():
        raise ApiError("INVALID_REQUEST", f"{field} is required and must be a non-blank string.", field=field)
    if len(value.strip()) < minimum or len(value) > maximum:
        raise ApiError(
            "INVALID_REQUEST", f"{field} must have {minimum} to {maximum} characters.", field=field
        )
    check_characters(value, field)
    return value


def _text_view(message: ReviewMessage) -> dict[str, Any]:
    if message.text_stored and (message.input is not None or message.output is not None):
        return {
            "stored": True,
            "input": None
            if message.input is None
            else {
                "messages": [{"role": t.role, "content": t.content} for t in message.input.messages],
                "context": message.input.context,
            },
            "output": message.output,
            "truncated": message.truncated,
            "note": message.text_note,
        }
    if message.text_stored:
        return {"stored": False, "note": message.text_note}
    return {
        "stored": False,
        "note": "This use case's contract forbids storing prompts and responses (logging.prompts_and_responses: "
        "false): the platform stored no text. The scores were computed from the answer before it was returned. "
        "See invocationLog for where the request's record is, and ask the calling team for the input by its "
        "request id.",
    }


def _log_view(message: ReviewMessage) -> dict[str, Any]:
    logs = settings.invocation_logs
    view: dict[str, Any] = {"requestMetadata": dict(message.request_metadata)}
    if logs is None:
        view["note"] = (
            "This environment does not own the account's invocation logging: the account's owning environment "
            "says where the records are; find them by requestMetadata.requestId."
        )
        return view
    view.update(
        {
            "logGroup": logs.log_group,
            "bucket": logs.bucket,
            "region": logs.region,
            "query": logs.query(message.request_metadata),
            "textDelivered": logs.text_delivered,
        }
    )
    if not logs.text_delivered:
        view["note"] = (
            "Bedrock's text delivery is off in this account (a contract enabled here forbids storing text): the "
            "invocation record holds the model, token counts and timing, not the text."
        )
    return view
