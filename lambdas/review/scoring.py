"""The scoring function: SQS messages from the orchestrator -> scored review items and quality metrics.

For each message (a :class:`~platform_spec.review.ReviewMessage`), in a Powertools ``BatchProcessor``
with partial batch responses (only failed messages return to the queue):

1. the item already scored (a redelivered message): nothing to do (idempotent per request id);
2. the deterministic scorers of the use case's :class:`~platform_spec.review.LiveScoring` on the output
   (or the scores the orchestrator computed where the contract forbids storing text), and the
   model-graded rubric where the contract enables it, through the use case's own judge profile
   (``JUDGE_PROFILES``; the function may invoke that profile and nothing else in Bedrock), its grades
   believed only with the call's nonce (``platform_spec.evaluation.new_judge_nonce``); an output that
   carries a grades object of its own for the rubric fails it without a judge call
   (``platform_spec.evaluation.self_graded``);
3. who goes to people (:func:`~platform_spec.review.people_reasons`): pending, else scored;
4. the item written once (a held item, which the orchestrator wrote first, gets its scores once);
5. metrics per use case: ``ScoredOutputs``, ``QualityScore``, ``LowScore``, ``SentToReview``,
   ``RubricScore``.

Any failure (the store, the judge, an unreadable message) fails that message only: SQS delivers it again
after the visibility timeout, and after ``platform_spec.review.MAX_RECEIVE_COUNT`` deliveries moves it to
the dead-letter queue, which alarms. The caller's answer has long been returned.

A hung or slow judge or store must not time the function out: a timed-out invocation fails its whole batch,
so the messages already scored and those that need no judge would be delivered again with it, and after
``MAX_RECEIVE_COUNT`` such rounds dead-lettered. So every call has a bound on the clock (the store's,
``platform_spec.api.store_call_max_s``; the judge's, :attr:`Judge.longest_call_s`), and nothing starts
unless it fits in what is left of the invocation (:class:`InvocationClock`, less ``SCORING_MARGIN_S``)
together with the calls that must follow it: a message only while its item's read and write fit, a judge
call only while it and the item's write after it fit (:class:`NotStarted`, logged: the message is
delivered again). The judge's client has explicit timeouts and attempts (``platform_spec.review.JUDGE_*``),
and after a judge call timed out no other message of the invocation calls the judge: those messages fail
at once (:class:`JudgeSkipped`, logged), the others are scored. The timeouts
bound each socket read, not the answer; a judge that sends its answer a byte at a time is abandoned on the
clock at that longest call (``platform_spec.clients.ClockBoundClient``) and counts as one that timed out.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.metrics import Metrics
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from platform_spec.api import INTERVENTION_ACTIONS, ReviewMetric, store_call_max_s
from platform_spec.clients import CallAbandoned, ClockBoundClient
from platform_spec.evaluation import (
    JUDGE_MAX_TOKENS,
    RubricDocument,
    judge_prompt,
    new_judge_nonce,
    parse_grades,
    self_graded,
)
from platform_spec.fields import SpecError
from platform_spec.review import (
    JUDGE_ATTEMPTS,
    JUDGE_CONNECT_TIMEOUT_S,
    JUDGE_READ_TIMEOUT_S,
    JUDGE_RETRY_DELAY_MAX_S,
    SCORING_MARGIN_S,
    ReviewMessage,
    ReviewTable,
    client_config,
    low_score,
    new_item,
    overall_score,
    people_reasons,
    score_output,
    scores_update,
)
from platform_spec.runtime import RuntimeConfig, read_runtime_config
from platform_spec.scoring import ScoreResult, ScorerName, rubric_result

from .settings import load_settings
from .store import ReviewStore
from .telemetry import publish

settings = load_settings(os.environ)
runtime_config = read_runtime_config(settings.runtime_config_path)
logger = Logger(service=settings.service_name)
metrics = Metrics(namespace=settings.metrics_namespace, service=settings.service_name)
processor = BatchProcessor(event_type=EventType.SQS)


class NotStarted(RuntimeError):
    """A message's work did not start: what it could take at its worst does not fit in what is left of the
    invocation; the message fails and is delivered again."""


class JudgeSkipped(NotStarted):
    """The judge was not called for a message (the module docstring says when); the message fails and is
    delivered again."""


class InvocationClock:
    """What is left of the current invocation for this function's calls: Lambda's remaining time at its
    start, less ``SCORING_MARGIN_S`` (kept for the invocation's own metrics and answer)."""

    def __init__(self) -> None:
        self._deadline: float | None = None  # time.monotonic() by which this invocation's calls must end

    def start(self, remaining_ms: int) -> None:
        """A new invocation with ``remaining_ms`` left (Lambda's ``get_remaining_time_in_millis()``)."""
        self._deadline = time.monotonic() + remaining_ms / 1000 - SCORING_MARGIN_S

    def require(self, seconds: float, what: str, error: type[NotStarted] = NotStarted) -> None:
        """Raise ``error`` unless ``seconds`` (``what`` takes them at its worst) fit in what is left; outside
        an invocation (no ``start``) everything fits."""
        if self._deadline is None:
            return
        left = self._deadline - time.monotonic()
        if left < seconds:
            raise error(f"{max(left, 0):.0f} s left in this invocation, {what}")


invocation = InvocationClock()


class Judge:
    """The model-graded rubric's judge: Bedrock Converse on a use case's judge profile (created on first
    use; ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME`` points it at a local endpoint offline), within the time the
    invocation has left (``clock``, the module's :data:`invocation` unless given)."""

    def __init__(
        self,
        *,
        region: str,
        profiles: dict[str, str],
        connect_timeout_s: float = JUDGE_CONNECT_TIMEOUT_S,
        read_timeout_s: float = JUDGE_READ_TIMEOUT_S,
        attempts: int = JUDGE_ATTEMPTS,
        clock: InvocationClock | None = None,
    ) -> None:
        self.region = region
        self.profiles = profiles
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self.attempts = attempts
        self.clock = clock if clock is not None else invocation
        self._client: Any = None
        self._down: str | None = None  # why a call of this invocation got no answer

    @property
    def longest_call_s(self) -> float:
        """The longest one ``grade`` can take: every attempt connecting and reading to its timeout, and the
        retry delay."""
        return self.attempts * (self.connect_timeout_s + self.read_timeout_s) + JUDGE_RETRY_DELAY_MAX_S

    def start_invocation(self) -> None:
        """A new invocation: the judge's failures of the last one are forgotten."""
        self._down = None

    def grade(self, use_case: str, prompt: str) -> str:
        profile = self.profiles.get(use_case)
        if profile is None:
            raise LookupError(f"{use_case} is model-graded but JUDGE_PROFILES has no judge profile for it")
        if self._down is not None:
            raise JudgeSkipped(f"the judge did not answer earlier in this invocation ({self._down})")
        # the judge's answer is written after it: both must fit, or a late answer times the invocation out
        self.clock.require(
            self.longest_call_s + store_call_max_s(),
            f"a judge call may take {self.longest_call_s:.0f} s and the item's write after it "
            f"{store_call_max_s():.0f} s",
            JudgeSkipped,
        )
        if self._client is None:
            import boto3
            from botocore.config import Config

            # https://botocore.amazonaws.com/v1/documentation/api/latest/reference/config.html
            client = boto3.client(
                "bedrock-runtime",
                region_name=self.region,
                config=Config(
                    **client_config(
                        connect_timeout_s=self.connect_timeout_s,
                        read_timeout_s=self.read_timeout_s,
                        attempts=self.attempts,
                    )
                ),
            )
            # every call abandoned on the clock at the longest it may take (module docstring)
            self._client = ClockBoundClient(client, self.longest_call_s)
        from botocore.exceptions import ConnectionError as BotocoreConnectionError
        from botocore.exceptions import HTTPClientError

        try:
            # https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html
            response = self._client.converse(
                modelId=profile,
                messages=[{"role": "user", "content": [{"text": prompt}]}],
                inferenceConfig={"maxTokens": JUDGE_MAX_TOKENS, "temperature": 0},
            )
        # what botocore's standard mode retries as transient connection errors (a read timeout, a reset
        # connection: HTTPClientError; a connect timeout, a refused connection: ConnectionError), after
        # its last attempt, and a call abandoned at the longest it may take
        except (BotocoreConnectionError, HTTPClientError, CallAbandoned) as error:
            self._down = type(error).__name__
            raise
        blocks = ((response.get("output") or {}).get("message") or {}).get("content") or []
        return "".join(str(b.get("text", "")) for b in blocks)


store = ReviewStore(review_table=settings.review_table, region=settings.region)
judge = Judge(region=settings.region, profiles=dict(settings.judge_profiles))


@dataclass(frozen=True)
class Scored:
    """What scoring one message did (None from :func:`score_message` for a redelivered message)."""

    use_case: str
    scores: tuple[ScoreResult, ...]
    score: float | None
    low: bool
    sent_to_people: bool


def score_message(
    message: ReviewMessage, *, config: RuntimeConfig, store: ReviewStore, judge: Judge, now: float
) -> Scored | None:
    """Score one output and write its item (module docstring); None when it was already scored."""
    use_case = config.use_cases.get(message.use_case)
    if use_case is None:
        raise LookupError(f"review message {message.review_id}: unknown use case {message.use_case!r}")
    existing = store.get(message.review_id)
    if existing is not None and ReviewTable.SCORED_AT in existing:
        return None
    intervened = message.guardrail_action == "INTERVENED"
    if message.scores is not None:
        scores = list(message.scores)
    elif message.output is not None:
        scores = list(score_output(use_case.scoring, message.output, intervened=intervened))
    else:
        scores = []  # text too large for the queue: the item keeps references (text_note says so)
    rubric = use_case.scoring.rubric
    if rubric is not None and message.output is not None and not intervened:
        # an answer that grades itself fails the rubric without a judge call (no time spent, none billed)
        refused = self_graded(message.output, rubric)
        if refused is not None:
            scores.append(refused)
        else:
            scores.append(_judged(message, rubric, message.output, judge=judge))
    score = overall_score(scores)
    policy = use_case.contract.review
    reasons = people_reasons(
        policy,
        risk_tier=use_case.contract.risk_tier,
        use_case=message.use_case,
        request_id=message.review_id,
        # a mask is an intervention too: a masked answer went out changed, and people see it
        intervened=message.guardrail_action in INTERVENTION_ACTIONS,
        score=score,
    )
    if existing is not None:  # a held item: the orchestrator wrote it, pending, before answering 202
        known = set(existing.get(ReviewTable.REASONS) or ())
        added = [r for r in reasons if r.value not in known]
        written = store.update(scores_update(message.review_id, scores=scores, reasons=added, now=now))
        sent = True
    else:
        written = store.put_new(new_item(message, policy=policy, reasons=reasons, scores=scores, now=now))
        sent = bool(reasons)
    if not written:
        return None
    return Scored(
        use_case=message.use_case,
        scores=tuple(scores),
        score=score,
        low=low_score(policy, score),
        sent_to_people=sent,
    )


def _judged(message: ReviewMessage, rubric: RubricDocument, output: str, *, judge: Judge) -> ScoreResult:
    """The judge's rubric score of ``output``."""
    question = message.input.question if message.input is not None else ""
    # A live output has no golden reference; the grounding source the caller sent (``context``, e.g. the
    # capabilities library's excerpt for an RFP answer) is what its claims must be supported by.
    grounding = message.input.context if message.input is not None else None
    # a fresh nonce per call: grades without it (an answer's own, repeated by the judge) are not believed
    nonce = new_judge_nonce()
    prompt = judge_prompt(rubric, question, grounding, output, nonce=nonce)
    grades, reason = parse_grades(judge.grade(message.use_case, prompt), rubric, nonce=nonce, answer=output)
    return rubric_result(grades, scale_max=rubric.scale, pass_mark=rubric.pass_mark, note=reason)


def _why(error: BaseException) -> str:
    """An error for the log: of a document that does not match its type, which fields and why, never their
    values (a review message and a review item carry the caller's text)."""
    return (error.without_values() if isinstance(error, SpecError) else str(error))[:500]


def record_handler(record: SQSRecord) -> None:
    try:
        message = ReviewMessage.from_json(record.body)
    except Exception as error:  # never readable: it fails alone, each delivery, until the dead-letter queue
        logger.error(
            "review message unreadable, delivered again until it reaches the dead-letter queue",
            extra={
                "messageId": record.message_id,
                "receiveCount": record.attributes.approximate_receive_count,
                "error": type(error).__name__,
                "why": _why(error),
            },
        )
        raise
    try:
        # the item's read, then its write (a judge call between them checks its own time)
        invocation.require(
            2 * store_call_max_s(), f"a message's read and write may take {2 * store_call_max_s():.0f} s"
        )
        scored = score_message(message, config=runtime_config, store=store, judge=judge, now=time.time())
    except Exception as error:  # the message fails alone (partial batch response): say why, for on-call
        logger.warning(
            "review message not scored, delivered again",
            extra={
                "reviewId": message.review_id,
                "useCase": message.use_case,
                "error": type(error).__name__,
                "why": _why(error),
            },
        )
        raise
    if scored is None:
        logger.info("review item already scored", extra={"reviewId": message.review_id})
        return
    values: dict[str, tuple[str, float]] = {
        ReviewMetric.SCORED: ("Count", 1),
        ReviewMetric.LOW_SCORE: ("Count", 1 if scored.low else 0),
        ReviewMetric.SENT_TO_REVIEW: ("Count", 1 if scored.sent_to_people else 0),
    }
    if scored.score is not None:
        values[ReviewMetric.QUALITY_SCORE] = ("NoUnit", scored.score)
    rubric = next((s for s in scored.scores if s.scorer is ScorerName.RUBRIC), None)
    if rubric is not None:
        values[ReviewMetric.RUBRIC_SCORE] = ("NoUnit", rubric.score)
    publish(metrics, use_case=scored.use_case, environment=runtime_config.environment, values=values)
    logger.info(
        "review item scored",
        extra={
            "reviewId": message.review_id,
            "useCase": scored.use_case,
            "score": scored.score,
            "sentToPeople": scored.sent_to_people,
            "failedScorers": [s.scorer.value for s in scored.scores if not s.passed],
        },
    )


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Partial batch response: ``batchItemFailures`` lists the messages to deliver again
    (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html)."""
    invocation.start(context.get_remaining_time_in_millis())
    judge.start_invocation()
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
