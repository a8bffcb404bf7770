"""Human review and continuous scoring, declared once: standard library only.

The orchestrator, the scoring function, the reviewer API and the backlog function read this module (each
Lambda asset ships ``platform_spec``), and so do the construct (table keys, index, TTL attribute,
environment variable names, limits) and the tests:

* which outputs go to people: :func:`people_reasons` (the contract's ``review`` section, a hash of the
  request id for the sampled share: :func:`sample_fraction`; a negative rating:
  :func:`negative_feedback_goes_to_people`);
* how a live output is scored: :class:`LiveScoring` (the golden suite's ``defaults``, its PII types and
  refusal markers, the rubric) applied by :func:`score_output`, and :func:`overall_score`;
* the queue message (:class:`ReviewMessage`), and the DynamoDB layout of review items
  (:class:`ReviewTable`) and audit records (:class:`AuditTable`), with the request parameters that
  write them (:func:`new_item`, :func:`decision_update`, :func:`audit_record`), so that the orchestrator
  (which writes held items) and the scoring function write the same item;
* who a caller is: :func:`principal_of`, :func:`is_session_of` (the reviewer role), and whether a
  reviewer is the request's own caller: :func:`self_review`.

DynamoDB requests are built for the low-level client (``{"S": ...}`` attribute values), so no boto3
type conversion (and no ``Decimal``) is involved.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Final

from platform_spec.api import (
    MAX_MESSAGE_CHARS,
    STORE_ATTEMPTS,
    STORE_CONNECT_TIMEOUT_S,
    STORE_READ_TIMEOUT_S,
    store_call_max_s,
    tenths_down,
)
from platform_spec.contract import ReviewMode, ReviewPolicy, RiskTier
from platform_spec.evaluation import Expectations, RubricDocument
from platform_spec.fields import Spec, SpecError, from_dict, spec, to_dict
from platform_spec.scoring import (
    ScoreResult,
    ScorerName,
    json_schema,
    length,
    must_contain,
    must_not_contain,
    pii_absent,
    refusal,
    regex,
)

# ==================================================================== limits and timings

#: Caller ratings run from RATING_MIN to RATING_MAX; at or below NEGATIVE_RATING_MAX a rating is negative.
RATING_MIN: Final = 1
RATING_MAX: Final = 5
NEGATIVE_RATING_MAX: Final = 2
#: A decision's reason and a feedback comment.
MIN_REASON_CHARS: Final = 10
MAX_REASON_CHARS: Final = 2000
MAX_COMMENT_CHARS: Final = 2000
#: A correction replaces a model answer, so it has the same bound as a message.
MAX_CORRECTION_CHARS: Final = MAX_MESSAGE_CHARS
#: SQS's default maximum message size (a queue may allow up to 1 MiB; the construct keeps the default).
#: A message above it drops the context, then all text (the item keeps references only).
#: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html
MAX_MESSAGE_BYTES: Final = 256 * 1024
#: The characters SQS refuses in a message body: it accepts only #x9 | #xA | #xD | #x20 to #xD7FF |
#: #xE000 to #xFFFD | #x10000 to #x10FFFF (XML 1.0's characters) and answers any other with
#: ``InvalidMessageContents`` (SendMessage, ``MessageBody``:
#: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html, and "Message
#: content" in the quotas page above; some SDK copies of the API page say SQS replaces them with U+FFFD
#: instead: the text would be changed either way).
#: That is the C0 controls but tab, LF and CR, the surrogates U+D800-U+DFFF and the noncharacters U+FFFE
#: and U+FFFF: all in the Basic Multilingual Plane, so each has a 4-digit JSON escape (``\uffff``).
SQS_REFUSED_CHARS: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
#: The longest review id (and feedback ``requestId``) the review API looks up. A review id is the API
#: request id (API Gateway's ``requestId``, a UUID), so a longer one names no item; looking it up anyway
#: would ask DynamoDB for a partition key it may refuse (at most 2,048 bytes:
#: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Constraints.html#limits-partition-sort-keys),
#: a ValidationException the API would answer as the store failing (503). 128 characters are at most
#: 512 bytes in UTF-8.
MAX_REVIEW_ID_CHARS: Final = 128
#: Items per page of the pending list.
LIST_LIMIT_DEFAULT: Final = 25
LIST_LIMIT_MAX: Final = 100
#: The scoring function's judge call (Bedrock Converse on the use case's judge profile, at most
#: ``platform_spec.evaluation.JUDGE_MAX_TOKENS`` out): connect and read timeouts, and botocore's attempts
#: in its ``standard`` retry mode, which retries throttling, 5xx and timeouts (a read timeout is an
#: ``HTTPClientError``), the first retry after at most 1 s, or up to 5 s more when the service sends
#: ``x-amz-retry-after`` (botocore/retries/standard.py; https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html).
JUDGE_CONNECT_TIMEOUT_S: Final = 3.0
JUDGE_READ_TIMEOUT_S: Final = 20.0
JUDGE_ATTEMPTS: Final = 2
JUDGE_RETRY_DELAY_MAX_S: Final = 6.0
#: What the scoring function keeps back at the end of an invocation (its own writes and metrics).
SCORING_MARGIN_S: Final = 3.0
#: The scoring function's timeout: room for a batch of ten messages with healthy judge calls (a few
#: seconds each); the function starts a message only while its item's read and write fit in what is left
#: (2 x :func:`~platform_spec.api.store_call_max_s`, 24 s), and a judge call only while the longest one could
#: take (``JUDGE_ATTEMPTS`` x (connect + read) + the retry delay, 52 s) and the item's write after it (12 s)
#: fit, so a hung or slow judge or store fails its own messages (delivered again) instead of timing out the
#: invocation and with it the whole batch. The
#: queue's visibility timeout is six times it, as Lambda's documentation asks for an SQS event source
#: (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html).
SCORING_TIMEOUT_S: Final = 120
QUEUE_VISIBILITY_TIMEOUT_S: Final = 6 * SCORING_TIMEOUT_S
#: Deliveries of a message before SQS moves it to the dead-letter queue (retries, then the DLQ).
MAX_RECEIVE_COUNT: Final = 5
#: How often the backlog function publishes the pending count and the oldest pending item's age.
BACKLOG_INTERVAL_MINUTES: Final = 5
#: What the backlog function keeps back after its last page read, to publish its metrics and answer.
BACKLOG_MARGIN_S: Final = 2.0


#: The backlog function's longest timeout: it ends before the schedule's next run (its one concurrent
#: execution would throttle that run) and well inside Lambda's 900 s.
BACKLOG_TIMEOUT_MAX_S: Final = BACKLOG_INTERVAL_MINUTES * 60 - 20


def backlog_timeout_s(use_cases: int) -> int:
    """The backlog function's timeout for ``use_cases`` enabled use cases: its margin and one page read per
    use case at its worst (:func:`~platform_spec.api.store_call_max_s`), with one more to spare, at most
    :data:`BACKLOG_TIMEOUT_MAX_S`. The function reads the first page of every use case before any second
    page, each page only while it fits (``lambdas.review.backlog``): up to 22 use cases each gets a data point
    even when every store call takes its longest, and the run publishes before Lambda would end it; with
    more, the first pages are read while they fit (a store call takes milliseconds, not its bound)."""
    return min(
        BACKLOG_TIMEOUT_MAX_S, max(30, math.ceil(BACKLOG_MARGIN_S + store_call_max_s() * (use_cases + 1)))
    )


#: A reviewer's correction goes through the use case's guardrail (ApplyGuardrail, ``source: OUTPUT``)
#: before it is stored: one attempt (no retries: the reviewer retries on 503 ``GUARDRAIL_UNAVAILABLE``),
#: a 1 s connect timeout and a read timeout of at most 5 s, cut so that the call ends with room left for the
#: decision's write at its worst (:func:`correction_read_timeout_s`).
CORRECTION_CONNECT_TIMEOUT_S: Final = 1.0
CORRECTION_READ_TIMEOUT_S: Final = 5.0
#: Below this much read time the guardrail is not called (503 ``GUARDRAIL_UNAVAILABLE``).
CORRECTION_MIN_READ_S: Final = 0.5
#: What the reviewer API keeps back to answer after its last store call.
REVIEW_API_MARGIN_S: Final = 0.5
#: The reviewer API's timeout: a decision's item read, the guardrail call on a correction and the
#: decision's write each fit at their worst (the store calls' :func:`~platform_spec.api.store_call_max_s`,
#: 12 s, is the write's bound), well inside API Gateway's 29 s integration timeout.
REVIEW_API_TIMEOUT_S: Final = 20
#: The review API function's reserved concurrency unless a construct user sets ``api_concurrency``:
#: reviewers' decisions (a correction through a hung guardrail holds an execution for seconds) beside the
#: callers' polls of held answers and their feedback.
REVIEW_API_CONCURRENCY: Final = 10
#: A caller's read of the review API (a held answer, a feedback record: one or two DynamoDB calls) takes
#: well under this in the function, so one execution serves 1 / REVIEW_READ_BUDGET_S of them a second.
REVIEW_READ_BUDGET_S: Final = 0.25
#: The share of the review API function's concurrency the callers' routes may use together at their
#: throttling rate (:func:`caller_route_throttle`); the rest is the reviewers'.
CALLER_ROUTES_SHARE: Final = 0.5


def caller_route_throttle(concurrency: int, routes: int) -> tuple[float, int]:
    """API Gateway's (rate limit, burst limit) for each of ``routes`` caller routes served by a review API
    function of reserved ``concurrency``, so that the callers' routes together keep within their share
    (:data:`CALLER_ROUTES_SHARE`) of its executions at :data:`REVIEW_READ_BUDGET_S` a read.

    Lambda throttles a synchronous invocation beyond the function's reserved concurrency, and API Gateway
    answers a throttled Lambda proxy integration with a 500, not the function's 429
    (https://docs.aws.amazon.com/lambda/latest/dg/services-apigateway-errors.html): a caller polling in a
    loop would make 5xx that count in the API's ``Api5xx`` alarm (which pages and rolls a production canary
    back) and starve the reviewers. Throttled at the method, the caller gets API Gateway's 429
    (``THROTTLED``) instead (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-request-throttling.html)."""
    executions = concurrency * CALLER_ROUTES_SHARE / routes
    return executions / REVIEW_READ_BUDGET_S, max(1, int(executions))


def correction_read_timeout_s(remaining_s: float) -> float | None:
    """The read timeout of the guardrail call on a correction when the function has ``remaining_s`` left:
    what is left after connecting, the decision's write at its worst and the margin, at most
    :data:`CORRECTION_READ_TIMEOUT_S`, rounded down to 100 ms (few distinct clients); ``None`` below
    :data:`CORRECTION_MIN_READ_S` (the call is not made)."""
    left = remaining_s - CORRECTION_CONNECT_TIMEOUT_S - store_call_max_s() - REVIEW_API_MARGIN_S
    read = tenths_down(min(CORRECTION_READ_TIMEOUT_S, left))
    return read if read >= CORRECTION_MIN_READ_S else None


def client_config(*, connect_timeout_s: float, read_timeout_s: float, attempts: int) -> dict[str, Any]:
    """The keyword arguments of ``botocore.config.Config`` for a client bounded like the judge's or the stores'
    (``platform_spec.api.STORE_*``): connect and read
    timeouts and ``attempts`` in all, in botocore's standard retry mode (a new dict each call:
    https://botocore.amazonaws.com/v1/documentation/api/latest/reference/config.html)."""
    return {
        "connect_timeout": connect_timeout_s,
        "read_timeout": read_timeout_s,
        "retries": {"mode": "standard", "total_max_attempts": attempts},
    }


def store_client_config() -> dict[str, Any]:
    """:func:`client_config` for a store on a request's path (the ``STORE_*`` bounds)."""
    return client_config(
        connect_timeout_s=STORE_CONNECT_TIMEOUT_S,
        read_timeout_s=STORE_READ_TIMEOUT_S,
        attempts=STORE_ATTEMPTS,
    )


# ==================================================================== vocabulary


class ReviewStatus(StrEnum):
    """Where a review item is: ``scored`` (not for people), ``pending`` (waiting for a reviewer), or
    decided (``approved``, ``rejected``, ``corrected``)."""

    SCORED = "scored"
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    CORRECTED = "corrected"

    @property
    def decided(self) -> bool:
        return self in (ReviewStatus.APPROVED, ReviewStatus.REJECTED, ReviewStatus.CORRECTED)


class DecisionKind(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    CORRECT = "correct"

    @property
    def status(self) -> ReviewStatus:
        return {
            DecisionKind.APPROVE: ReviewStatus.APPROVED,
            DecisionKind.REJECT: ReviewStatus.REJECTED,
            DecisionKind.CORRECT: ReviewStatus.CORRECTED,
        }[self]


class ReviewReason(StrEnum):
    """Why an output goes to people (an item may have several)."""

    ALL = "all"
    SAMPLED = "sampled"
    GUARDRAIL_INTERVENTION = "guardrail_intervention"
    HIGH_RISK = "high_risk"
    LOW_SCORE = "low_score"
    NEGATIVE_FEEDBACK = "negative_feedback"


class AuditEvent(StrEnum):
    DECISION = "decision"
    FEEDBACK = "feedback"
    #: a correction the use case's guardrail blocked: who tried, when, what fired (never the text)
    CORRECTION_REFUSED = "correction-refused"


class ReviewTable:
    """The review table: one item per answered request (key ``reviewId`` = the API request id)."""

    KEY: Final = "reviewId"
    USE_CASE: Final = "useCase"
    STATUS: Final = "status"
    CREATED_AT: Final = "createdAt"
    #: Set only while an item is pending, so the index holds pending items only (a sparse index).
    PENDING_USE_CASE: Final = "pendingUseCase"
    #: When the item went to people (ISO 8601 like ``createdAt``): the answer's creation for an item pending
    #: from the start (held, sampled, flagged: the SLA covers the platform's own scoring delay too), the
    #: negative feedback that sent it for one sent later. The SLA clock (age, due time, overdue, the
    #: backlog's oldest age) runs from it (:func:`pending_since`).
    PENDING_SINCE: Final = "pendingSince"
    #: The global secondary index that lists pending items by use case, in the order their answers were
    #: created (sort key ``createdAt``). Not SLA order: an old answer sent to people by feedback today sorts
    #: early but is due ``sla_hours`` from today; each listed item carries its own due time.
    PENDING_INDEX: Final = "PendingByUseCase"
    #: DynamoDB TTL attribute (epoch seconds): created + the contract's review.retention_days.
    EXPIRES_AT: Final = "expiresAt"
    HELD: Final = "held"
    CALLER: Final = "caller"
    TEXT_STORED: Final = "textStored"
    #: The queue message (:class:`ReviewMessage`) as JSON: prompt version, model, guardrail, text or
    #: references, request metadata.
    MESSAGE: Final = "message"
    SCORES: Final = "scores"
    SCORE: Final = "score"
    SCORED_AT: Final = "scoredAt"
    REASONS: Final = "reasons"
    DECISION: Final = "decision"
    DECIDED_AT: Final = "decidedAt"
    REVIEWER: Final = "reviewer"
    #: The caller's feedback comment, where text may be stored: on the item, so it expires with it
    #: (review.retention_days); the write-once audit record, kept review.audit_retention_days, has its size.
    FEEDBACK_COMMENT: Final = "feedbackComment"


class AuditTable:
    """The audit table: write-once records (partition ``subject`` = the request id, sort ``event``:
    ``decision``, ``feedback#<caller principal>`` or ``correction-refused#<time>#<API request id>``), kept
    for review.audit_retention_days."""

    SUBJECT: Final = "subject"
    EVENT: Final = "event"
    EXPIRES_AT: Final = "expiresAt"


class ReviewEnv:
    """Environment variables of the review path (set by the construct, read by the functions)."""

    #: orchestrator and reviewer API: where scored items are; orchestrator: where outputs are queued.
    REVIEW_TABLE: Final = "REVIEW_TABLE"
    REVIEW_QUEUE_URL: Final = "REVIEW_QUEUE_URL"
    AUDIT_TABLE: Final = "AUDIT_TABLE"
    REVIEWER_ROLE_ARN: Final = "REVIEWER_ROLE_ARN"
    #: JSON :class:`InvocationLogLocation`: where a reviewer finds a request's invocation log record.
    INVOCATION_LOGS: Final = "INVOCATION_LOGS"
    #: JSON {use case: judge profile ARN} of the model-graded use cases (scoring function).
    JUDGE_PROFILES: Final = "JUDGE_PROFILES"
    #: JSON {use case: :class:`GuardrailRef`} (reviewer API): the guardrail a correction goes through.
    GUARDRAILS: Final = "USE_CASE_GUARDRAILS"


# ==================================================================== who goes to people


def sample_fraction(use_case: str, request_id: str) -> float:
    """A number in [0, 1) fixed by the use case and the request id (SHA-256): the sampled share of a
    contract is reproducible, and independent between use cases."""
    digest = hashlib.sha256(f"{use_case}\n{request_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def low_score(policy: ReviewPolicy, score: float | None) -> bool:
    """The score is below the contract's low-score threshold (0.5 when the flag is off, for metrics)."""
    threshold = policy.flags.low_score if policy.flags.low_score is not None else 0.5
    return score is not None and score < threshold


def negative_feedback_goes_to_people(policy: ReviewPolicy) -> bool:
    """A caller's negative rating (``NEGATIVE_RATING_MAX`` or less) sends the output to people: the contract's
    ``flags.negative_feedback``, in a mode that sends anything to people (``none`` sends nothing). The one
    rule :func:`people_reasons` and the feedback endpoint both apply."""
    return policy.mode is not ReviewMode.NONE and policy.flags.negative_feedback


def people_reasons(
    policy: ReviewPolicy,
    *,
    risk_tier: RiskTier,
    use_case: str,
    request_id: str,
    intervened: bool,
    score: float | None,
    negative_feedback: bool = False,
) -> tuple[ReviewReason, ...]:
    """Why this output goes to people (empty: it is only scored). ``mode`` none sends nothing, all sends
    everything; sampled adds the hashed share to the flags; flagged uses the flags alone."""
    if policy.mode is ReviewMode.NONE:
        return ()
    if policy.mode is ReviewMode.ALL:
        return (ReviewReason.ALL,)
    reasons = []
    if policy.mode is ReviewMode.SAMPLED and sample_fraction(use_case, request_id) < policy.sample_rate:
        reasons.append(ReviewReason.SAMPLED)
    flags = policy.flags
    if flags.guardrail_intervention and intervened:
        reasons.append(ReviewReason.GUARDRAIL_INTERVENTION)
    if flags.high_risk and risk_tier is RiskTier.HIGH:
        reasons.append(ReviewReason.HIGH_RISK)
    if flags.low_score is not None and score is not None and score < flags.low_score:
        reasons.append(ReviewReason.LOW_SCORE)
    if negative_feedback and negative_feedback_goes_to_people(policy):
        reasons.append(ReviewReason.NEGATIVE_FEEDBACK)
    return tuple(reasons)


# ==================================================================== scoring a live output


@spec
class LiveScoring:
    """What every live output of a use case is scored against: the ``defaults`` of its golden suite (what
    every ordinary answer must satisfy), that suite's PII types and refusal markers, and the rubric where
    the contract grades answers with a model. Derived from ``evals/<id>/`` at synth."""

    #: The suite the expectations come from (None: the use case has no golden suite).
    suite: str | None = None
    expectations: Expectations = field(default_factory=Expectations)
    pii_entities: tuple[str, ...] = ()
    refusal_markers: tuple[str, ...] = ()
    blocked_messages: tuple[str, ...] = ()
    #: The rubric the judge grades with; None where the contract is not model-graded or may not store
    #: response text (a judge call needs the text after the request: see README "Human review").
    rubric: RubricDocument | None = None


def score_output(live: LiveScoring, text: str, *, intervened: bool) -> tuple[ScoreResult, ...]:
    """The deterministic scorers of ``live.expectations`` on one output. Nothing is scored when the
    guardrail intervened: the output is the contract's blocked message (the intervention is its own flag).
    The guardrail's verdict is known, not scored (``guardrail_intervened`` is left out)."""
    if intervened:
        return ()
    expect = live.expectations
    results: list[ScoreResult] = []
    for name in expect.scorers():
        if name is ScorerName.MUST_CONTAIN:
            results.append(must_contain(text, expect.must_contain))
        elif name is ScorerName.MUST_NOT_CONTAIN:
            results.append(must_not_contain(text, expect.must_not_contain))
        elif name is ScorerName.REGEX:
            results.append(regex(text, expect.regex))
        elif name is ScorerName.JSON_SCHEMA and expect.json_schema is not None:
            results.append(json_schema(text, expect.json_schema))
        elif name is ScorerName.LENGTH:
            results.append(
                length(
                    text, min_chars=expect.min_chars, max_chars=expect.max_chars, max_words=expect.max_words
                )
            )
        elif name is ScorerName.PII_ABSENT:
            results.append(pii_absent(text, live.pii_entities))
        elif name is ScorerName.REFUSAL and expect.refusal is not None:
            results.append(
                refusal(
                    text,
                    expected=expect.refusal,
                    markers=live.refusal_markers,
                    blocked_messages=live.blocked_messages,
                )
            )
    return tuple(results)


def overall_score(results: Sequence[ScoreResult]) -> float | None:
    """An output's score: the lowest of its scorers' scores (an output is as good as its worst check: a
    leaked e-mail address is not averaged away by five passing checks); None when nothing was scored."""
    return min((r.score for r in results), default=None)


# ==================================================================== the queue message


def _json_escape(match: re.Match[str]) -> str:
    """A character SQS refuses, as a JSON escape (every one is in the BMP: 4 hex digits)."""
    return f"\\u{ord(match.group()):04x}"


@spec
class ReviewedTurn:
    role: str
    content: str


@spec
class ReviewInput:
    messages: tuple[ReviewedTurn, ...]
    context: str | None = None

    @property
    def question(self) -> str:
        """The caller's last user turn ("" without one): what the answer responds to."""
        return next((t.content for t in reversed(self.messages) if t.role == "user"), "")


@spec
class ReviewMessage:
    """What the orchestrator queues for every answered output (and writes as the item of a held one)."""

    schema_version: int = 1
    #: The API request id: the review id, the key of the item, the ``requestId`` the caller got.
    review_id: str
    use_case: str
    #: ISO 8601 UTC with milliseconds (sorts as text: the pending index's sort key).
    created_at: str
    #: The caller's IAM principal (:func:`principal_of`): only it may fetch a held answer or send feedback.
    caller: str
    #: The IAM ARN API Gateway authenticated for the request (``requestContext.identity.userArn``), its
    #: role session name included: what :func:`self_review` compares a reviewer's session name with. None
    #: in messages queued before it was recorded (then only the principal is compared).
    caller_arn: str | None = None
    held: bool = False
    prompt_version: str
    route: str | None = None
    model_id: str | None = None
    guardrail_arn: str | None = None
    guardrail_version: str | None = None
    guardrail_action: str
    #: Whether the contract lets the platform store the request's and the answer's text.
    text_stored: bool
    input: ReviewInput | None = None
    output: str | None = None
    #: Why text is missing although it may be stored (too large for a queue message), for reviewers.
    text_note: str | None = None
    truncated: bool = False
    #: The deterministic scores, computed by the orchestrator where text may not be stored (the text
    #: never leaves the request); None: the scoring function computes them from ``output``.
    scores: tuple[ScoreResult, ...] | None = None
    #: Bedrock's requestMetadata of the calls (the invocation log records carry it).
    request_metadata: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        """The message as JSON: the queue message's body (and the item's ``message``). Text stays as it is
        (UTF-8, not ``\\u`` escapes, which take up to 6 bytes where UTF-8 takes 1 to 3) but for what SQS
        refuses in a body (:data:`SQS_REFUSED_CHARS`: the model's answer or the caller's text may hold
        U+FFFF, say, or a lone surrogate, which JSON from Bedrock can carry as ``"\\ud800"``): those are
        JSON escapes, so the body reads back as the same message (:meth:`from_json`) and SendMessage takes
        it. ``json.dumps`` already escapes the C0 controls; the rest can occur only inside JSON strings,
        where an escape stands for the character. One caveat: a high surrogate followed by a low one in a
        string reads back as the one character they encode (JSON cannot say otherwise)."""
        raw = json.dumps(to_dict(self), separators=(",", ":"), ensure_ascii=False)
        return SQS_REFUSED_CHARS.sub(_json_escape, raw)

    @classmethod
    def from_json(cls, raw: str) -> ReviewMessage:
        return from_dict(cls, json.loads(raw), where="review message")

    def body_bytes(self) -> int:
        """The size of the queue message's body (:meth:`to_json`, escapes included) in UTF-8 bytes, the unit
        of SQS's size limit (:data:`MAX_MESSAGE_BYTES`)."""
        return len(self.to_json().encode())

    def fitted(self, limit: int = MAX_MESSAGE_BYTES) -> ReviewMessage:
        """This message within SQS's size: without the context, then without any text, if needed. The size
        is the body's as sent (:meth:`body_bytes`): a refused character escaped takes 6 bytes, not its 1 to
        3 in UTF-8."""
        message = self
        if message.body_bytes() > limit and message.input is not None:
            message = replace(
                message,
                input=ReviewInput(messages=message.input.messages),
                text_note="the request's context was too large for the review queue and is not stored",
            )
        if message.body_bytes() > limit:
            message = replace(
                message,
                input=None,
                output=None,
                text_note="the request and answer were too large for the review queue: read them in the "
                "invocation log",
            )
        return message


#: A published guardrail version: numeric, never DRAFT (ApplyGuardrail's ``guardrailVersion`` pattern,
#: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ApplyGuardrail.html).
GUARDRAIL_VERSION_PATTERN: Final = r"^[1-9][0-9]{0,7}$"


@spec
class GuardrailRef:
    """A use case's guardrail as deployed: its ARN and published version (never DRAFT)."""

    arn: Annotated[str, Spec(pattern=r"^arn:aws[a-z-]*:bedrock:[a-z0-9-]+:\d{12}:guardrail/[A-Za-z0-9-]+$")]
    version: Annotated[str, Spec(pattern=GUARDRAIL_VERSION_PATTERN)]


def read_guardrail_refs(raw: str) -> dict[str, GuardrailRef]:
    """``USE_CASE_GUARDRAILS`` read; :class:`~platform_spec.fields.SpecError` names each bad entry."""
    try:
        document = json.loads(raw)
    except ValueError as error:
        raise SpecError([f"{ReviewEnv.GUARDRAILS} is not valid JSON: {error}"]) from None
    if not isinstance(document, dict):
        raise SpecError([f"{ReviewEnv.GUARDRAILS} must be an object of use case id to {{arn, version}}"])
    refs: dict[str, GuardrailRef] = {}
    problems: list[str] = []
    for use_case, value in document.items():
        try:
            refs[use_case] = from_dict(GuardrailRef, value, where=f"{ReviewEnv.GUARDRAILS}[{use_case!r}]")
        except SpecError as error:
            problems += error.problems
    if problems:
        raise SpecError(problems)
    return refs


@spec
class InvocationLogLocation:
    """Where Bedrock delivers this environment's invocation logs (when this environment owns the account's
    logging setting), and what the review items can be found by."""

    log_group: str | None = None
    bucket: str | None = None
    region: str
    #: Whether Bedrock delivers text to these logs (account-wide: on only if every contract allows it).
    text_delivered: bool = False

    def query(self, request_metadata: Mapping[str, str]) -> str | None:
        """A CloudWatch Logs Insights query for the invocation records of one request."""
        request_id = request_metadata.get("requestId")
        if self.log_group is None or request_id is None:
            return None
        return (
            "fields @timestamp, modelId, input.inputTokenCount, output.outputTokenCount, @message"
            f' | filter requestMetadata.requestId = "{request_id}" | sort @timestamp asc'
        )


# ==================================================================== identity


_ASSUMED_ROLE = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):sts::(?P<account>\d{12}):assumed-role/(?P<role>[^/]+)/(?P<session>.+)$"
)
#: An IAM user or an STS federated user: the name is the ARN's last segment.
_NAMED = re.compile(
    r"^arn:aws[a-z-]*:(?:iam::\d{12}:user/(?:.*/)?|sts::\d{12}:federated-user/)(?P<name>[^/]+)$"
)
_ROLE = re.compile(r"^arn:(?P<partition>aws[a-z-]*):iam::(?P<account>\d{12}):role/(?:.*/)?(?P<role>[^/]+)$")


def principal_of(user_arn: str | None) -> str:
    """The IAM principal behind a request (API Gateway's ``requestContext.identity.userArn``): a role
    session becomes its role (``...:assumed-role/<role>``; session names change between sessions), any
    other ARN stays as it is; ``anonymous`` without one (never the case behind AWS_IAM authorization)."""
    if not user_arn:
        return "anonymous"
    match = _ASSUMED_ROLE.match(user_arn)
    if match:
        return f"arn:{match['partition']}:sts::{match['account']}:assumed-role/{match['role']}"
    return user_arn


def user_arn(event: Mapping[str, Any]) -> str | None:
    """``requestContext.identity.userArn`` of an API Gateway REST proxy event: the IAM identity API Gateway
    authenticated (AWS_IAM authorization), never anything the caller wrote in the body
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html#context-variable-reference)."""
    context = event.get("requestContext")
    identity = context.get("identity") if isinstance(context, Mapping) else None
    value = identity.get("userArn") if isinstance(identity, Mapping) else None
    return value if isinstance(value, str) and value else None


def access_key(event: Mapping[str, Any]) -> str | None:
    """``requestContext.identity.accessKey`` of an API Gateway REST proxy event: the access key id the
    request was signed with. For a role session it is the key STS issued with the session, which the
    ``AssumeRole`` CloudTrail event records with who assumed the role and the session's source identity
    (API Gateway passes neither of those to the function)."""
    context = event.get("requestContext")
    identity = context.get("identity") if isinstance(context, Mapping) else None
    value = identity.get("accessKey") if isinstance(identity, Mapping) else None
    return value if isinstance(value, str) and value else None


def identity_name(arn: str | None) -> str | None:
    """The name an IAM identity acts under: a role session's session name, an IAM or federated user's name;
    None for anything else."""
    session = _ASSUMED_ROLE.match(arn or "")
    if session:
        return session["session"]
    named = _NAMED.match(arn or "")
    return named["name"] if named else None


def self_review(reviewer_arn: str, *, caller: str, caller_arn: str | None) -> str | None:
    """Why a reviewer session may not decide an item, because it is the request's own caller, or None.

    Compared, from what API Gateway's IAM authorization tells the function (``userArn``):

    1. the reviewer session's role (:func:`principal_of`) with the item's caller principal: the reviewer
       role itself made the request;
    2. the reviewer session's name with the name the request was made under (``caller_arn``: the caller's
       role session name, or its IAM or federated user name): the same person asked and decides, when
       reviewers name their sessions after themselves, as the reviewer role's trust policy expects (the
       session's ``SourceIdentity`` is required).

    Not comparable here: which principal assumed the reviewer role. API Gateway passes neither the
    assuming identity nor the session's source identity to the function, so a principal allowed both to
    call the use case and to assume the reviewer role can decide its own request under another session
    name. The decision's audit record keeps the session's access key id (:func:`access_key`), which the
    ``AssumeRole`` event in CloudTrail pairs with the assuming identity and the source identity."""
    if principal_of(reviewer_arn) == caller:
        return f"the reviewer session {reviewer_arn} is a session of the request's caller {caller}"
    name = identity_name(reviewer_arn)
    if name is not None and name == identity_name(caller_arn):
        return f"the reviewer session {reviewer_arn} has the name the request was made under ({caller_arn})"
    return None


def is_session_of(user_arn: str | None, role_arn: str) -> bool:
    """Whether ``user_arn`` is a session of the role ``role_arn`` (same partition, account and name; a
    role's path is not part of its session ARN)."""
    session = _ASSUMED_ROLE.match(user_arn or "")
    role = _ROLE.match(role_arn)
    return bool(
        session
        and role
        and (session["partition"], session["account"], session["role"])
        == (role["partition"], role["account"], role["role"])
    )


# ==================================================================== DynamoDB requests


def iso_now(now: float) -> str:
    """Epoch seconds as ISO 8601 UTC with milliseconds (``2026-11-23T11:00:00.123Z``)."""
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(now * 1000) % 1000:03d}Z"


def parse_iso(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: float) -> dict[str, str]:
    return {"N": repr(round(value, 6)) if isinstance(value, float) else str(value)}


def scores_json(results: Sequence[ScoreResult]) -> str:
    return json.dumps([to_dict(r) for r in results], separators=(",", ":"), ensure_ascii=False)


def read_scores(raw: str | None) -> tuple[ScoreResult, ...]:
    return tuple(from_dict(ScoreResult, r, where="scores") for r in json.loads(raw)) if raw else ()


def new_item(
    message: ReviewMessage,
    *,
    policy: ReviewPolicy,
    reasons: Sequence[ReviewReason],
    scores: Sequence[ScoreResult] | None,
    now: float,
) -> dict[str, Any]:
    """PutItem parameters (without ``TableName``) of a new review item, written once (a condition on the
    key): pending when ``reasons`` (or held), else scored. ``scores`` None: not scored yet (a held item the
    orchestrator writes before the scoring function sees it)."""
    created = parse_iso(message.created_at)
    pending = bool(reasons) or message.held
    item: dict[str, Any] = {
        ReviewTable.KEY: _s(message.review_id),
        ReviewTable.USE_CASE: _s(message.use_case),
        ReviewTable.STATUS: _s((ReviewStatus.PENDING if pending else ReviewStatus.SCORED).value),
        ReviewTable.CREATED_AT: _s(message.created_at),
        ReviewTable.EXPIRES_AT: _n(int(created) + policy.retention_days * 86_400),
        ReviewTable.HELD: {"BOOL": message.held},
        ReviewTable.CALLER: _s(message.caller),
        ReviewTable.TEXT_STORED: {"BOOL": message.text_stored},
        ReviewTable.MESSAGE: _s(message.to_json()),
        ReviewTable.REASONS: {"L": [_s(r.value) for r in reasons]},
    }
    if pending:
        item[ReviewTable.PENDING_USE_CASE] = _s(message.use_case)
        item[ReviewTable.PENDING_SINCE] = _s(message.created_at)
    if scores is not None:
        item[ReviewTable.SCORES] = _s(scores_json(scores))
        item[ReviewTable.SCORED_AT] = _s(iso_now(now))
        score = overall_score(scores)
        if score is not None:
            item[ReviewTable.SCORE] = _n(score)
    return {"Item": item, "ConditionExpression": f"attribute_not_exists({ReviewTable.KEY})"}


def scores_update(
    review_id: str, *, scores: Sequence[ScoreResult], reasons: Sequence[ReviewReason], now: float
) -> dict[str, Any]:
    """UpdateItem parameters (without ``TableName``) that add the scores to an item written before it was
    scored (a held item), once: the condition refuses a second scoring."""
    names = {"#scores": ReviewTable.SCORES, "#at": ReviewTable.SCORED_AT, "#reasons": ReviewTable.REASONS}
    values: dict[str, Any] = {
        ":scores": _s(scores_json(scores)),
        ":at": _s(iso_now(now)),
        ":reasons": {"L": [_s(r.value) for r in reasons]},
    }
    assignments = ["#scores = :scores", "#at = :at", "#reasons = list_append(#reasons, :reasons)"]
    score = overall_score(scores)
    if score is not None:
        names["#score"] = ReviewTable.SCORE
        values[":score"] = _n(score)
        assignments.append("#score = :score")
    return {
        "Key": {ReviewTable.KEY: _s(review_id)},
        "UpdateExpression": "SET " + ", ".join(assignments),
        "ConditionExpression": f"attribute_exists({ReviewTable.KEY}) AND attribute_not_exists(#at)",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


def decision_update(
    review_id: str, *, decision: Mapping[str, Any], status: ReviewStatus, reviewer: str, now: float
) -> dict[str, Any]:
    """UpdateItem parameters (without ``TableName``) that record a decision on a pending item and take it
    out of the pending index; the condition makes a second decision (or one on an item that is not
    pending) change nothing."""
    return {
        "Key": {ReviewTable.KEY: _s(review_id)},
        "UpdateExpression": "SET #status = :status, #decision = :decision, #at = :at, #reviewer = :reviewer "
        "REMOVE #pending",
        "ConditionExpression": "#status = :pending",
        "ExpressionAttributeNames": {
            "#status": ReviewTable.STATUS,
            "#decision": ReviewTable.DECISION,
            "#at": ReviewTable.DECIDED_AT,
            "#reviewer": ReviewTable.REVIEWER,
            "#pending": ReviewTable.PENDING_USE_CASE,
        },
        "ExpressionAttributeValues": {
            ":status": _s(status.value),
            ":decision": _s(json.dumps(decision, separators=(",", ":"), ensure_ascii=False)),
            ":at": _s(iso_now(now)),
            ":reviewer": _s(reviewer),
            ":pending": _s(ReviewStatus.PENDING.value),
        },
    }


def to_pending_update(
    review_id: str, *, use_case: str, reason: ReviewReason, now: float, comment: str | None = None
) -> dict[str, Any]:
    """UpdateItem parameters (without ``TableName``) that send a scored item to people (negative
    feedback), only while it is still just scored, with the feedback's ``comment`` (:func:`comment_update`).
    The SLA clock starts ``now`` (``pendingSince``), not at the answer's creation: an answer rated weeks
    later is not overdue the moment it is rated."""
    update: dict[str, Any] = {
        "Key": {ReviewTable.KEY: _s(review_id)},
        "UpdateExpression": "SET #status = :pending, #pending = :use_case, #since = :since, "
        "#reasons = list_append(#reasons, :reasons)",
        "ConditionExpression": "#status = :scored",
        "ExpressionAttributeNames": {
            "#status": ReviewTable.STATUS,
            "#pending": ReviewTable.PENDING_USE_CASE,
            "#since": ReviewTable.PENDING_SINCE,
            "#reasons": ReviewTable.REASONS,
        },
        "ExpressionAttributeValues": {
            ":pending": _s(ReviewStatus.PENDING.value),
            ":scored": _s(ReviewStatus.SCORED.value),
            ":use_case": _s(use_case),
            ":since": _s(iso_now(now)),
            ":reasons": {"L": [_s(reason.value)]},
        },
    }
    if comment is not None:
        _set_comment(update, comment)
    return update


def _set_comment(update: dict[str, Any], comment: str) -> None:
    """Add ``SET`` of the feedback comment to ``update``'s expression (after its other ``SET`` actions)."""
    action = "#comment = :comment"
    expression = update.get("UpdateExpression")
    update["UpdateExpression"] = f"{expression}, {action}" if expression else f"SET {action}"
    update.setdefault("ExpressionAttributeNames", {})["#comment"] = ReviewTable.FEEDBACK_COMMENT
    update.setdefault("ExpressionAttributeValues", {})[":comment"] = _s(comment)


def comment_update(review_id: str, comment: str) -> dict[str, Any]:
    """UpdateItem parameters (without ``TableName``) that keep a feedback ``comment`` on its review item,
    only while the item exists (an update without the condition would create a bare item that never
    expires). On the item the comment expires with it; in the audit record it would outlive it."""
    update: dict[str, Any] = {
        "Key": {ReviewTable.KEY: _s(review_id)},
        "ConditionExpression": "attribute_exists(#key)",
        "ExpressionAttributeNames": {"#key": ReviewTable.KEY},
    }
    _set_comment(update, comment)
    return update


def pending_since(item: Mapping[str, Any]) -> str:
    """When a review item (plain values) went to people: ``pendingSince``, or ``createdAt`` for an item
    written before that attribute existed (or never pending)."""
    return str(item.get(ReviewTable.PENDING_SINCE) or item[ReviewTable.CREATED_AT])


def audit_record(
    *,
    subject: str,
    event: str,
    kind: AuditEvent,
    message: ReviewMessage,
    actor: str,
    what: Mapping[str, str | int],
    retention_days: int,
    now: float,
) -> dict[str, Any]:
    """PutItem parameters (without ``TableName``) of a write-once audit record: who (the IAM ARN the API
    authenticated), when, what, and which prompt version, model and guardrail version the output came
    from."""
    item: dict[str, Any] = {
        AuditTable.SUBJECT: _s(subject),
        AuditTable.EVENT: _s(event),
        "kind": _s(kind.value),
        "useCase": _s(message.use_case),
        "actor": _s(actor),
        "actorPrincipal": _s(principal_of(actor)),
        "at": _s(iso_now(now)),
        "promptVersion": _s(message.prompt_version),
        AuditTable.EXPIRES_AT: _n(int(now) + retention_days * 86_400),
    }
    for name, known in (
        ("modelId", message.model_id),
        ("route", message.route),
        ("guardrailArn", message.guardrail_arn),
        ("guardrailVersion", message.guardrail_version),
    ):
        if known:
            item[name] = _s(known)
    for name, value in what.items():
        item[name] = _n(value) if isinstance(value, int) else _s(value)
    return {"Item": item, "ConditionExpression": f"attribute_not_exists({AuditTable.SUBJECT})"}


def refused_correction_event(now: float, request_id: str) -> str:
    """The audit sort key of a correction the guardrail blocked: one per attempt, in time order. The API
    request id makes it unique: two attempts within one millisecond (two reviewers, a double click) would
    otherwise share a key, and the write-once condition would drop the second record."""
    return f"{AuditEvent.CORRECTION_REFUSED.value}#{iso_now(now)}#{request_id}"


def feedback_event(caller: str) -> str:
    """The audit sort key of a caller's feedback: one per caller principal and request."""
    return f"{AuditEvent.FEEDBACK.value}#{principal_of(caller)}"


def plain(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """A low-level DynamoDB item as plain values (S, N as float or int, BOOL, L, NULL)."""

    def value(attribute: Mapping[str, Any]) -> Any:
        (kind, raw), *_ = attribute.items()
        if kind == "S":
            return raw
        if kind == "N":
            number = float(raw)
            return int(number) if number.is_integer() and "." not in raw else number
        if kind == "BOOL":
            return bool(raw)
        if kind == "L":
            return [value(v) for v in raw]
        if kind == "M":
            return {k: value(v) for k, v in raw.items()}
        return None

    return {name: value(attribute) for name, attribute in attributes.items()}


def without_holds(runtime_config: Mapping[str, Any]) -> dict[str, Any]:
    """A ``runtime_config.json`` document whose use cases hold no answers: for harnesses that run the
    orchestrator without a review store (offline evaluation, ``make demo``), which measure answers and not
    the review path. The orchestrator refuses to start with a holding use case and no review path."""
    document: dict[str, Any] = json.loads(json.dumps(runtime_config))
    for use_case in document.get("use_cases", {}).values():
        use_case["contract"].setdefault("review", {})["hold_for_review"] = False
    return document
