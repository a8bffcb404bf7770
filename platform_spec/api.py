"""The orchestration API's facts that the CDK side and the Lambda both use, written once.

Timeouts (the construct sets them, the handler budgets within them), request limits (API Gateway's
request model enforces them at the edge, the handler again), error codes (the handler answers them,
the API's gateway responses use the same shape, the README lists them), metric names and dimensions (the
handler emits them, the dashboard and alarms read them), and the retry and circuit-breaker constants.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

# ==================================================================== time

#: API Gateway's maximum integration timeout for a REST API: the caller gets 504 after it.
#: https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html
API_GATEWAY_TIMEOUT_S: Final = 29
#: The function's default timeout: below the integration timeout, so the function can still answer.
FUNCTION_TIMEOUT_S: Final = 28
#: Below this the orchestrator has no time for a single Bedrock attempt.
MIN_FUNCTION_TIMEOUT_S: Final = 5
#: The most one request may spend on Bedrock calls: the function timeout less a second to answer.
TIME_BUDGET_MAX_S: Final = FUNCTION_TIMEOUT_S - 1


@dataclass(frozen=True, slots=True)
class ResilienceSettings:
    """Retry, time budget and circuit-breaker constants (seconds). See ``lambdas/orchestrator/bedrock.py``
    for how they combine; nothing deploys other values (tests pass their own instance)."""

    max_attempts_per_route: int = 3
    backoff_base_s: float = 0.2
    backoff_max_s: float = 2.0
    connect_timeout_s: float = 1.0
    read_timeout_s: float = 25.0
    min_attempt_s: float = 0.25
    safety_margin_s: float = 0.5
    max_budget_s: float = float(TIME_BUDGET_MAX_S)
    #: what a route whose contract needs more than an equal share (its latency p95) leaves each later
    #: stage: the fallback still gets a try (a short answer from a fast model; a hung primary's circuit
    #: opens after two such requests and then the fallback has the whole budget)
    min_later_share_s: float = 3.0
    circuit_failure_threshold: int = 5
    #: read timeouts (hangs) that open a route's circuit on their own
    circuit_timeout_threshold: int = 2
    circuit_window_s: float = 30.0
    circuit_cooldown_s: float = 15.0

    def problems(self) -> list[str]:
        found = []
        if self.backoff_max_s < self.backoff_base_s:
            found.append("backoff_max_s must be >= backoff_base_s")
        if self.min_attempt_s > self.read_timeout_s:
            found.append("min_attempt_s must be <= read_timeout_s")
        if self.min_later_share_s < self.connect_timeout_s + self.min_attempt_s:
            found.append("min_later_share_s must fit one attempt (connect_timeout_s + min_attempt_s)")
        if (
            min(self.max_attempts_per_route, self.circuit_failure_threshold, self.circuit_timeout_threshold)
            < 1
        ):
            found.append("attempt and circuit thresholds must be at least 1")
        return found


def bedrock_budget_s(remaining_s: float, *, reserve_s: float, policy: ResilienceSettings) -> float:
    """Seconds a request may spend on Bedrock when the function has ``remaining_s`` left: that time less
    the safety margin (to answer) and ``reserve_s`` (the store calls after the answer that must complete,
    :func:`post_answer_reserve_s`), at most ``max_budget_s``."""
    return max(0.0, min(policy.max_budget_s, remaining_s - policy.safety_margin_s - reserve_s))


def max_latency_p95_s(*, held: bool, policy: ResilienceSettings | None = None) -> float:
    """The longest latency p95 a contract may declare: what its primary's share can wait in a request with
    the whole deployed budget (``FUNCTION_TIMEOUT_S`` less the margin and the post-answer reserve) after
    connecting, while the fallback keeps ``min_later_share_s`` (the orchestrator's ``route_deadline``)."""
    policy = policy or ResilienceSettings()
    budget = bedrock_budget_s(FUNCTION_TIMEOUT_S, reserve_s=post_answer_reserve_s(held=held), policy=policy)
    return budget - policy.min_later_share_s - policy.connect_timeout_s


# ==================================================================== stores on a request's path

#: Every botocore client of a store on a request's path (the orchestrator's idempotency records, held-item
#: write and queueing; the review functions' DynamoDB store): connect and read timeouts and attempts
#: (botocore's standard retry mode), so a store that does not answer fails its call in at most
#: :func:`store_call_max_s`: 7 s, or 12 s if the service asks for a later retry with ``x-amz-retry-after``
#: (which DynamoDB and SQS do not document sending), where the code answers 503 (``REVIEW_UNAVAILABLE``,
#: ``IDEMPOTENCY_UNAVAILABLE``) itself, instead of timing the function out (API Gateway's 502 or 504) with
#: botocore's defaults (60 s read, legacy retries). After Bedrock answered, the orchestrator bounds each
#: store call by the time its request has left (:func:`store_call_bounds`).
STORE_CONNECT_TIMEOUT_S: Final = 1.0
STORE_READ_TIMEOUT_S: Final = 2.0
STORE_ATTEMPTS: Final = 2
#: The longest botocore's standard retry mode waits before a store call's second attempt: rand() x min(1 s
#: x 2**0, 20 s) for a throttling error (0.05 s scale otherwise, 0.025 s for DynamoDB), plus up to 5 s more
#: when the response carries ``x-amz-retry-after`` (``botocore.retries.standard.ExponentialBackoff``;
#: "Retry behavior" in https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html).
STORE_RETRY_DELAY_MAX_S: Final = 6.0
#: The shortest read timeout a store call is started with when the time left cuts it; below it the call
#: is not made (a DynamoDB or SQS write answers in milliseconds; a shorter window is not worth a try).
STORE_MIN_READ_TIMEOUT_S: Final = 0.2


def store_call_max_s(attempts: int = STORE_ATTEMPTS, read_timeout_s: float = STORE_READ_TIMEOUT_S) -> float:
    """The longest one store call can take: every attempt connecting and reading up to its timeouts, and the
    retry delays between them (:data:`STORE_RETRY_DELAY_MAX_S`)."""
    return attempts * (STORE_CONNECT_TIMEOUT_S + read_timeout_s) + (attempts - 1) * STORE_RETRY_DELAY_MAX_S


def tenths_down(seconds: float) -> float:
    """``seconds`` rounded down to 100 ms, so that read timeouts cut to the time left take few distinct
    values (a client each); a sum that floating point leaves just under a tenth (14.6 - 1 - 12 - 0.5 is
    1.0999...) counts as that tenth."""
    return math.floor(seconds * 10 + 1e-9) / 10


def store_call_bounds(seconds: float) -> tuple[float, int] | None:
    """(read timeout, attempts) of a store call that must end within ``seconds``, or ``None`` if none fits.

    The configured bounds when even their worst case fits (:func:`store_call_max_s`); otherwise one attempt,
    its read timeout cut to what is left after connecting (rounded down to 100 ms, so few distinct clients
    are created), if that is at least :data:`STORE_MIN_READ_TIMEOUT_S`. With one attempt botocore makes one
    request and never waits to retry, so the call ends within connect + read timeout.
    """
    if seconds >= store_call_max_s():
        return STORE_READ_TIMEOUT_S, STORE_ATTEMPTS
    read_timeout_s = tenths_down(min(STORE_READ_TIMEOUT_S, seconds - STORE_CONNECT_TIMEOUT_S))
    if read_timeout_s < STORE_MIN_READ_TIMEOUT_S:
        return None
    return read_timeout_s, 1


def post_answer_reserve_s(*, held: bool) -> float:
    """Seconds the Bedrock budget leaves for the store calls after the answer that decide what the caller
    gets: one full attempt (connect + read) of the held answer's PutItem when the answer is held for review
    (without it the answer is not released: 503 ``REVIEW_UNAVAILABLE``). Queueing the output for scoring and
    saving the idempotency record change nothing the caller receives (a failure is logged and counted) and
    are not reserved (all three would take 9 s of a 27 s budget): they run in the time left, bounded by it
    (:func:`store_call_bounds`), or not at all.
    """
    return STORE_CONNECT_TIMEOUT_S + STORE_READ_TIMEOUT_S if held else 0.0


#: Retry-After of MODEL_QUOTA_EXCEEDED: Bedrock's on-demand rate quotas (tokens and requests per minute)
#: replenish within a minute; ServiceQuotaExceededException itself says only "resubmit later"
#: (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html, Errors).
QUOTA_RETRY_AFTER_S: Final = 60
#: How long an idempotent answer is replayed by default.
IDEMPOTENCY_TTL_S: Final = 3600

# ==================================================================== requests

MAX_BODY_BYTES: Final = 256 * 1024
MAX_MESSAGES: Final = 40
MAX_MESSAGE_CHARS: Final = 64_000
MAX_CONTEXT_CHARS: Final = 200_000
#: Characters per token of English text and code: the low estimate of a cached prompt prefix (caching
#: is placed only where a prefix surely reaches the model's minimum), and ASCII text's share of
#: :func:`estimated_tokens`.
CHARS_PER_TOKEN: Final = 4
#: Characters per token of the other alphabets (accented Latin, Greek, Cyrillic, Hebrew, Arabic, Indic
#: scripts): their words split into more tokens than English ones.
OTHER_ALPHABET_CHARS_PER_TOKEN: Final = 3
#: Characters that are a token or more each: combining marks (U+0300-U+036F, U+1AB0-U+1AFF, U+1DC0-U+1DFF:
#: stacked on one letter they are no word of an alphabet), punctuation and symbols from U+2000 to U+2BFF
#: (dashes, quotes, arrows, mathematical and technical symbols, box drawing, Braille, dingbats and the emoji
#: of those blocks: U+2705, U+2764, U+2B50), and from U+2E00 on (CJK ideographs, kana, Hangul, the other
#: emoji and symbols).
_TOKEN_EACH: Final = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u2000-\u2bff\u2e00-\U0010ffff]")


def estimated_tokens(text: str) -> int:
    """The input estimate a contract's ``limits.max_input_tokens`` is checked against: ASCII characters at
    CHARS_PER_TOKEN a token, other alphabets' at OTHER_ALPHABET_CHARS_PER_TOKEN, :data:`_TOKEN_EACH`
    (combining marks, symbols, emoji, CJK) one token each. Characters / 4 alone made 8,000 ideographs (~8,000
    tokens) 2,000, so a caller could send four times the cap in CJK text, spending the use case's
    tokens-per-minute quota and cost that much faster; at 3 characters a token, 8,000 emoji, Braille
    patterns or stacked accents below U+2E80 were ~2,667. An estimate, not Bedrock's count (which only the
    model's tokenizer gives, after the call)."""
    if text.isascii():
        return math.ceil(len(text) / CHARS_PER_TOKEN)
    ascii_chars = len(text.encode("ascii", "ignore"))
    wide = len(text) - len(_TOKEN_EACH.sub("", text))
    other = len(text) - ascii_chars - wide
    return math.ceil(ascii_chars / CHARS_PER_TOKEN + other / OTHER_ALPHABET_CHARS_PER_TOKEN + wide)


ROLES: Final = ("user", "assistant")
#: The answer's ``guardrail.action`` values (``"NONE"`` otherwise) that are an intervention: blocked, or
#: masked (Bedrock answers a mask with stopReason guardrail_intervened too). The GuardrailInterventions
#: metric counts them, and human review flags them.
INTERVENTION_ACTIONS: Final = frozenset({"INTERVENED", "MASKED"})

IDEMPOTENCY_KEY_HEADER: Final = "Idempotency-Key"
REPLAY_HEADER: Final = "Idempotent-Replayed"

# ==================================================================== errors


@dataclass(frozen=True, slots=True)
class ErrorCode:
    status: int
    when: str
    retryable: bool = False


#: Every error code the handler answers, with its status (the README's table is this table).
ERRORS: Mapping[str, ErrorCode] = MappingProxyType(
    {
        "INVALID_JSON": ErrorCode(
            400, "Body is not UTF-8 JSON (or is nested too deeply, or uses NaN/Infinity)."
        ),
        "INVALID_REQUEST": ErrorCode(
            400,
            "A field is missing, has the wrong type, breaks a count/size limit, or the conversation shape is wrong "
            "(roles, alternation, last turn not user); context missing for a use case with contextual grounding.",
        ),
        "UNKNOWN_FIELD": ErrorCode(400, "A field the API does not define."),
        "FORBIDDEN_FIELD": ErrorCode(
            400,
            "A field that would choose the model, system prompt, token cap, guardrail, tools or inference settings "
            "(modelId, system, maxTokens, ...).",
        ),
        "DUPLICATE_FIELD": ErrorCode(400, "The same key twice in one JSON object."),
        "INVALID_CHARACTERS": ErrorCode(
            400,
            "Control (other than tab, LF, CR), zero-width, bidi-override, Unicode tag, variation selector (but one "
            "presentation selector after a character) or other invisible characters, or lone surrogates; field "
            "names the message index.",
        ),
        "INVALID_IDEMPOTENCY_KEY": ErrorCode(400, "Idempotency-Key is not 1-255 visible ASCII characters."),
        "IDEMPOTENCY_KEY_REFUSED": ErrorCode(
            400,
            "An Idempotency-Key for a use case whose contract forbids storing answers "
            "(logging.prompts_and_responses: false): a replay needs the stored answer; send the request without "
            "it. Nothing is stored, no Bedrock call.",
        ),
        "CALLER_HISTORY_REFUSED": ErrorCode(
            400,
            "An assistant turn for a use case whose contract refuses caller history "
            "(conversation.caller_history: refuse, the default).",
        ),
        "NOT_A_REVIEWER": ErrorCode(
            403,
            "A reviewer endpoint called by an IAM identity that is not a session of the environment's "
            "reviewer role (the API's IAM policy should already have refused it).",
        ),
        "SELF_REVIEW": ErrorCode(
            403,
            "A decision by the request's own caller: the reviewer session is a session of the caller's "
            "principal, or has the name the request was made under (platform_spec.review.self_review); "
            "another reviewer must decide it. Nothing is changed.",
        ),
        "NOT_FOUND": ErrorCode(404, "No such path/method."),
        "REVIEW_NOT_FOUND": ErrorCode(
            404,
            "No review item with this id for this use case (and, for a caller, made by this caller), or it "
            "expired after the contract's review.retention_days.",
        ),
        "REQUEST_NOT_FOUND": ErrorCode(
            404,
            "Feedback on a request id with no scored output of this use case made by this caller: unknown, "
            "not answered, not scored yet (retry in a few seconds) or expired.",
        ),
        "USE_CASE_NOT_FOUND": ErrorCode(404, "Unknown or disabled use case."),
        "IDEMPOTENCY_IN_PROGRESS": ErrorCode(
            409,
            "A request of the same caller with the same Idempotency-Key and use case is running; Retry-After: "
            "seconds until its in-progress record expires.",
            retryable=True,
        ),
        "PAYLOAD_TOO_LARGE": ErrorCode(413, "Body over 256 KiB."),
        "INPUT_TOO_LARGE": ErrorCode(413, "Estimated input tokens (characters / 4) over the use case's cap."),
        "UNSUPPORTED_MEDIA_TYPE": ErrorCode(
            415, "Content-Type is not application/json (charset, if given, utf-8)."
        ),
        "REVIEW_ALREADY_DECIDED": ErrorCode(
            409, "A decision on a review item a reviewer has already decided; nothing is changed."
        ),
        "REVIEW_NOT_PENDING": ErrorCode(
            409,
            "A decision on a review item that was scored but never sent to people (its mode or flags did not "
            "select it); nothing is changed.",
        ),
        "FEEDBACK_ALREADY_RECORDED": ErrorCode(
            409, "This caller already sent feedback on this request (feedback records are write-once)."
        ),
        "IDEMPOTENCY_KEY_REUSED": ErrorCode(
            422,
            "The caller used the Idempotency-Key before, for this use case, with another body (compared as "
            "canonical JSON); no Bedrock call. Another caller's key never collides with it.",
        ),
        "THROTTLED": ErrorCode(
            429,
            "Bedrock throttled every route tried (ThrottlingException, or a mix of throttling and quota errors).",
            retryable=True,
        ),
        "MODEL_QUOTA_EXCEEDED": ErrorCode(
            429,
            "Every route tried answered ServiceQuotaExceededException: the account is over a Bedrock service "
            "quota (not API Gateway's usage-plan QUOTA_EXCEEDED). Retry-After: 60.",
            retryable=True,
        ),
        "CORRECTION_NOT_STORABLE": ErrorCode(
            422,
            "A `correct` decision on a use case whose contract forbids storing response text "
            "(logging.prompts_and_responses: false); approve or reject it with a reason instead.",
        ),
        "CORRECTION_BLOCKED": ErrorCode(
            422,
            "A `correct` decision whose correctedText the use case's guardrail blocks (ApplyGuardrail, source "
            "OUTPUT: the policies that fired are named); the item stays pending and nothing is released (the "
            "attempt is audited, without its text). A correction the guardrail only masks is stored masked.",
        ),
        "CORRECTION_NOT_CHECKABLE": ErrorCode(
            422,
            "A `correct` decision no guardrail can check: the item's use case is no longer deployed here, "
            "Bedrock refused the check as invalid (ValidationException, e.g. a text longer than the guardrail "
            "accepts), or a grounded use case's item lost the request's context (too large for the review "
            "queue) so the grounding check cannot apply; nothing is stored. Shorten the correction, or "
            "approve or reject it with a reason.",
        ),
        "INTERNAL": ErrorCode(500, "A bug. Logged with the request id; the body says nothing more."),
        "GUARDRAIL_NOT_PERMITTED": ErrorCode(
            500,
            "The guardrail check of a correction was refused as not permitted or not found "
            "(AccessDeniedException, ResourceNotFoundException: the function's grant or the guardrail version "
            "is missing in this deployment): nothing is stored and the item stays pending. Not retryable: the "
            "deployment must be fixed (the function logs the error).",
        ),
        "UPSTREAM_NOT_PERMITTED": ErrorCode(
            500,
            "Every route tried, or the caller-history guardrail check, was refused as not permitted or not "
            "found (AccessDeniedException, ResourceNotFoundException: the function's grant, the inference "
            "profile or the guardrail version is missing in this deployment). Not retryable: the deployment "
            "must be fixed (the function logs an error; the Api5xx alarm counts it).",
        ),
        "UPSTREAM_REJECTED": ErrorCode(
            502, "Bedrock rejected the request (ValidationException); not retried."
        ),
        "UPSTREAM_UNAVAILABLE": ErrorCode(
            503,
            "Every route failed (errors, timeouts, malformed responses; a route refused as not permitted when "
            "another failed otherwise or its circuit skipped one), or the caller-history guardrail check could "
            "not run (fails closed).",
            retryable=True,
        ),
        "IDEMPOTENCY_UNAVAILABLE": ErrorCode(
            503,
            "The idempotency store could not be read or written before the request ran (after it, the "
            "answer is returned anyway).",
            retryable=True,
        ),
        "REVIEW_UNAVAILABLE": ErrorCode(
            503,
            "The review store could not be read or written: a held answer is not released without a stored "
            "review item (fails closed), or a reviewer or feedback request could not be served.",
            retryable=True,
        ),
        "GUARDRAIL_UNAVAILABLE": ErrorCode(
            503,
            "The guardrail check of a correction could not run (an error, a timeout, too little time left): "
            "nothing is stored and the item stays pending (fails closed). Retry-After: 2.",
            retryable=True,
        ),
        "TIME_BUDGET_EXCEEDED": ErrorCode(
            504,
            "The time budget ended the last route before it answered (it hung or kept failing until no attempt fit).",
            retryable=True,
        ),
    }
)


class ApiError(Exception):
    """A failure with a documented status code (:data:`ERRORS`); raised anywhere in a handler, rendered as
    the JSON error body (:func:`error_body`) by the function that serves the API."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if code not in ERRORS:
            raise ValueError(f"undocumented error code {code!r}")
        super().__init__(message)
        self.code = code
        self.status = ERRORS[code].status
        self.message = message
        self.field = field
        self.headers: dict[str, str] = dict(headers or {})


def error_body(code: str, message: str, *, field: str | None, request_id: str) -> dict[str, Any]:
    """``{"error": {"code", "message", "field", "requestId"}}``: every error the functions answer."""
    return {"error": {"code": code, "message": message, "field": field, "requestId": request_id}}


#: Codes of the errors API Gateway answers itself (gateway responses), with the same body shape.
GATEWAY_ERRORS: Mapping[str, str] = MappingProxyType(
    {
        "BAD_REQUEST_BODY": "INVALID_REQUEST",
        "BAD_REQUEST_PARAMETERS": "INVALID_REQUEST",
        "MISSING_AUTHENTICATION_TOKEN": "NOT_FOUND_OR_UNSIGNED",
        "ACCESS_DENIED": "ACCESS_DENIED",
        "INVALID_SIGNATURE": "INVALID_SIGNATURE",
        "THROTTLED": "THROTTLED",
        "QUOTA_EXCEEDED": "QUOTA_EXCEEDED",
        "REQUEST_TOO_LARGE": "PAYLOAD_TOO_LARGE",
        "UNSUPPORTED_MEDIA_TYPE": "UNSUPPORTED_MEDIA_TYPE",
        "INTEGRATION_TIMEOUT": "TIME_BUDGET_EXCEEDED",
        "WAF_FILTERED": "BLOCKED_BY_WAF",
        "DEFAULT_4XX": "REQUEST_REJECTED",
        "DEFAULT_5XX": "UPSTREAM_ERROR",
    }
)

# ==================================================================== metrics

SERVICE_NAME: Final = "bedrock-orchestrator"
METRICS_NAMESPACE: Final = "BedrockPlatform"


class Dimension:
    """Dimensions of the orchestrator's EMF metrics (``service`` is Powertools' own)."""

    SERVICE: Final = "service"
    USE_CASE: Final = "UseCase"
    ENVIRONMENT: Final = "environment"
    ERROR_CODE: Final = "ErrorCode"
    #: The function version that answered (Lambda's ``AWS_LAMBDA_FUNCTION_VERSION``), on
    #: :attr:`Metric.SERVER_ERRORS`, :attr:`Metric.UPSTREAM_REJECTED` and :attr:`Metric.UPSTREAM_UNAVAILABLE` only.
    FUNCTION_VERSION: Final = "FunctionVersion"


class Metric:
    """The orchestrator's EMF metric names (namespace :data:`METRICS_NAMESPACE`)."""

    REQUESTS: Final = "Requests"
    LATENCY: Final = "Latency"
    MODEL_LATENCY: Final = "ModelLatency"
    INPUT_TOKENS: Final = "InputTokens"
    OUTPUT_TOKENS: Final = "OutputTokens"
    CACHE_READ_TOKENS: Final = "CacheReadInputTokens"
    CACHE_WRITE_TOKENS: Final = "CacheWriteInputTokens"
    ESTIMATED_COST_USD: Final = "EstimatedCostUsd"
    RETRIES: Final = "Retries"
    FALLBACKS: Final = "Fallbacks"
    GUARDRAIL_INTERVENTIONS: Final = "GuardrailInterventions"
    ERRORS: Final = "Errors"
    #: 0/1 per answered request of a function wired to the review path: the output could not be queued
    #: for scoring (the caller's answer is unchanged; a held answer is not released).
    REVIEW_ENQUEUE_FAILURES: Final = "ReviewEnqueueFailures"
    #: 0/1 per answered request: the answer was held for review (202).
    HELD_FOR_REVIEW: Final = "HeldForReview"
    #: 0/1 per request with an Idempotency-Key: the answer went out but its record could not be saved
    #: (a retry with the key calls Bedrock again).
    IDEMPOTENCY_SAVE_FAILURES: Final = "IdempotencySaveFailures"
    #: 1 per request the function answered with a 500 (a bug, a refused grant; not a 503/504 of a failing
    #: dependency nor a 502 for a request Bedrock refuses, which callers can cause), with the dimensions
    #: ``service``, ``environment`` and ``FunctionVersion`` only. Lambda's own per-version ``Errors`` counts
    #: invocations that failed (an unhandled exception, a timeout), not a 5xx the function answered: the
    #: canary bake judges a new version by both (``lambdas/canary_bake/bake.py``).
    SERVER_ERRORS: Final = "ServerErrors"
    #: 1 per request the function answered 502 ``UPSTREAM_REJECTED`` (Bedrock refused the request as
    #: invalid), with the same dimensions as :attr:`SERVER_ERRORS`. Kept apart from it: a release that builds
    #: an invalid request fails every call this way, but callers can also send requests Bedrock refuses, to
    #: every version, and such a shared rate must not hide a release's own 500s (the bake judges each count).
    UPSTREAM_REJECTED: Final = "UpstreamRejected"
    #: 1 per request the function answered 503 or 504 (every route failed, timed out, or a store could not
    #: be used), with the same dimensions. A failing dependency is shared by both versions of a bake, which
    #: judges it only as part of all errors, beyond the stable version's rate; a release that cannot read
    #: Bedrock's answers (every route "malformed") fails every call this way.
    UPSTREAM_UNAVAILABLE: Final = "UpstreamUnavailable"


#: ``service`` dimension of the review path's functions (scoring, reviewer API, backlog), whose metrics
#: share :data:`METRICS_NAMESPACE`.
REVIEW_SERVICE_NAME: Final = "bedrock-review"


class ReviewMetric:
    """EMF metrics of the review path (namespace :data:`METRICS_NAMESPACE`, dimensions ``service`` =
    :data:`REVIEW_SERVICE_NAME`, ``UseCase``, ``environment``)."""

    #: scoring function, one per output scored: 1, the score (0 to 1), 0/1 below the low-score threshold,
    #: 0/1 sent to people, and the rubric's score where the judge graded it.
    SCORED: Final = "ScoredOutputs"
    QUALITY_SCORE: Final = "QualityScore"
    LOW_SCORE: Final = "LowScore"
    SENT_TO_REVIEW: Final = "SentToReview"
    RUBRIC_SCORE: Final = "RubricScore"
    #: reviewer API, one per decision: 1, 0/1 rejected, 0/1 corrected, seconds from when the item went to
    #: people (``platform_spec.review.pending_since``) to the decision.
    DECISIONS: Final = "ReviewDecisions"
    REJECTED: Final = "Rejected"
    CORRECTED: Final = "Corrected"
    DECISION_SECONDS: Final = "ReviewDecisionSeconds"
    #: reviewer API, one per caller feedback: the rating (1 to 5) and 0/1 negative.
    FEEDBACK_RATING: Final = "FeedbackRating"
    NEGATIVE_FEEDBACK: Final = "NegativeFeedback"
    #: backlog function, every run, per use case: pending items and the longest wait (seconds since the
    #: earliest ``pendingSince``).
    PENDING: Final = "PendingReviews"
    OLDEST_PENDING_AGE: Final = "OldestPendingAgeSeconds"
