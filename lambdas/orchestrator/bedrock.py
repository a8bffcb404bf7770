"""The Bedrock Converse call: request building, response checking, and the one retry loop.

Retry policy (``invoke_with_resilience``):

* botocore makes exactly one HTTP request per call (``retries={"mode": "standard",
  "total_max_attempts": 1}``); this loop is the only retry loop.
* Retried with capped exponential backoff and full jitter (``rand() * min(max, base * 2**(n-1))``), up
  to ``max_attempts_per_route`` calls per route: ThrottlingException, ModelNotReadyException,
  ServiceUnavailableException, InternalServerException, ModelTimeoutException, any other 5xx/429,
  read/connect timeouts, connection errors, and malformed or shape-invalid responses.
* Not retried, next route at once: AccessDeniedException, ResourceNotFoundException (a broken grant or
  a deleted/replaced profile is per route, and the fallback has its own profile), ModelErrorException,
  ServiceQuotaExceededException.
* Not retried, no fallback: ValidationException (and any other 4xx): the request itself is wrong and
  another model would reject it too (-> 502). A guardrail intervention is an answer (-> 200).
* Bound: at most ``max_attempts_per_route * 2`` Bedrock calls per request (two routes in a plan).

Time budget split (``route_deadline``, ``attempt_read_timeout``):

* ``deadline`` is when the request must stop calling Bedrock: the Lambda's remaining time minus
  ``safety_margin_s`` and minus the reserve for the store calls after the answer that decide what the
  caller gets (``platform_spec.api.post_answer_reserve_s``: 3 s where the answer is held for review), at
  most ``max_budget_s`` after the request started (handler ``_budget_s``).
* Each route gets an equal share of the time left when it starts: its deadline is
  ``now + (deadline - now) / routes left`` (itself included). A route that fails fast leaves its unused
  time to the routes after it, and the last route gets all that is left. So a route that hangs can
  never starve the fallback: the fallback always gets at least the same share the hanging route had.
  A share too short for one attempt (``connect_timeout_s + min_attempt_s``) is widened to that, if the
  time left allows, so the preferred route is still tried when only one attempt fits.
* A route whose contract says a healthy answer may take longer than its equal share
  (``RouteTarget.expected_s``, the contract's ``latency_p95_ms``) gets the larger share it needs
  (``connect_timeout_s + expected_s``), as far as each later stage keeps ``min_later_share_s`` (3 s): a
  slow but healthy primary is not cut before its own p95. The contract loader refuses a p95 that cannot
  fit that way in the deployed budget (``platform_config.loader``).
* An attempt's window is the time left before its route's deadline, and it must cover connecting and
  reading: its read timeout is ``min(read_timeout_s, window - connect_timeout_s)`` and it starts only if
  that is at least ``min_attempt_s``. botocore's read timeout bounds each read from the socket, not the
  answer, so an endpoint that sends its answer a byte at a time would hold the attempt past its window
  and starve the fallback as a hang once did: every call of a client is also abandoned on the clock at
  ``connect_timeout_s +`` its read timeout (``BedrockClients``, ``platform_spec.clients.ClockBoundClient``)
  and counts as a read timeout, a hang when it had its full read timeout.
* A backoff is slept only if a retry still fits in the route's window afterwards
  (``delay + connect_timeout_s + min_attempt_s``); otherwise the next route starts at once.
* With the deployed defaults (28 s function timeout, so a 27 s budget; 1 s connect timeout; two routes)
  a primary that accepts the connection and never answers is cut after 12.5 s (its 13.5 s share minus
  the connect allowance) and the fallback has the remaining ~14.5 s (a 13.5 s read timeout): the caller
  gets the fallback's answer, never a 504 caused by the primary alone. That holds for every contract
  whose p95 fits the equal share (support-ticket-summary 4 s, policy-qa 8 s). rfp-drafting (p95 20 s,
  answers held: a 24.5 s budget) gives its primary 21 s (cut after 20 s) and its fallback 3.5 s.
* A read timeout counts heavily against the route's circuit (``routing``) when it is evidence of a
  hang (``hang_evidence``): the attempt could wait its full configured read timeout, or at least the
  contract's p95 latency. Two such hung requests within the window open it, and later requests go
  straight to the fallback. A timeout the budget cut shorter than that is not counted at all: the budget
  ended it, not the model.
* The input check (``check_input``, one ApplyGuardrail call with retries: caller history, look-alike
  letters), when a request needs one, is a stage of the same split before the routes: ``routes + 1``
  stages share the budget, and it fails closed.

Outcome when no route answered: every failure AccessDeniedException or ResourceNotFoundException
(``platform_spec.clients.NOT_PERMITTED_CODES``: the grant or the profile/guardrail is missing in this
deployment, so a retry fails the same way) -> NOT_PERMITTED (500 ``UPSTREAM_NOT_PERMITTED``, no
Retry-After; the handler answers UNAVAILABLE instead where the circuit skipped a route, which its cool-down
brings back); every failure a ServiceQuotaExceededException -> QUOTA_EXCEEDED (429
``MODEL_QUOTA_EXCEEDED``); every failure a throttle or quota error -> THROTTLED (429 ``THROTTLED``);
otherwise the budget ended the last route (cut its attempts or left it no time) -> TIMED_OUT (504);
otherwise UNAVAILABLE (503).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, Protocol, TypeVar

from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    HTTPClientError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
    ReadTimeoutError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.exceptions import ValidationError as BotoValidationError
from botocore.parsers import ResponseParserError

from platform_spec.clients import NOT_PERMITTED_CODES, CallAbandoned, ClientCache, ClockBoundClient
from platform_spec.guardrail import Verdict, has_action, masked_only, read_apply_guardrail
from platform_spec.lookalikes import fold

from .routing import CircuitBreaker
from .runtime_config import UseCase
from .settings import ResilienceSettings
from .validation import CHARS_PER_TOKEN, InvokeRequest

#: Bedrock's "your request exceeds the service quota for your account" (HTTP 400, resubmit later).
QUOTA_CODE: Final = "ServiceQuotaExceededException"
THROTTLE_CODES: Final = frozenset({"ThrottlingException", QUOTA_CODE})
T = TypeVar("T")
#: The failure code of a read timeout: the route accepted the request and did not answer in time.
READ_TIMEOUT: Final = "ReadTimeout"
RETRYABLE_CODES: Final = frozenset(
    {
        "ThrottlingException",
        "ModelNotReadyException",
        "ServiceUnavailableException",
        "InternalServerException",
        "ModelTimeoutException",
    }
)
NEXT_ROUTE_CODES: Final = NOT_PERMITTED_CODES | {"ModelErrorException", "ServiceQuotaExceededException"}
_OK_STOP_REASONS: Final = frozenset(
    {"end_turn", "stop_sequence", "max_tokens", "model_context_window_exceeded"}
)
_TRUNCATED_STOP_REASONS: Final = frozenset({"max_tokens", "model_context_window_exceeded"})
_BLOCKED_STOP_REASONS: Final = frozenset({"guardrail_intervened", "content_filtered"})


# --- clients ------------------------------------------------------------------------------------------


class BedrockClient(Protocol):
    def converse(self, **kwargs: Any) -> dict[str, Any]: ...

    def apply_guardrail(self, **kwargs: Any) -> dict[str, Any]: ...


class ClientProvider(Protocol):
    def client_for(self, read_timeout_s: float) -> BedrockClient: ...


class BedrockClients:
    """botocore ``bedrock-runtime`` clients, one per read timeout, created once and reused.

    A botocore client's read timeout is fixed at creation, so an attempt that must finish sooner than
    the default gets a client with a shorter one. Timeouts are rounded down to 100 ms steps and the
    clients kept in a small LRU cache: with time to spare every attempt uses the default client.
    """

    _STEP_S: Final = 0.1
    _MAX_CLIENTS: Final = 8

    def __init__(self, *, region: str, connect_timeout_s: float, read_timeout_s: float) -> None:
        self.region = region
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self._session: Any = None
        self._clients: ClientCache[float, BedrockClient] = ClientCache(
            self._create, max_clients=self._MAX_CLIENTS
        )

    def client_for(self, read_timeout_s: float) -> BedrockClient:
        if read_timeout_s >= self.read_timeout_s:
            timeout = self.read_timeout_s
        else:
            timeout = max(self._STEP_S, math.floor(read_timeout_s / self._STEP_S) * self._STEP_S)
            timeout = round(timeout, 3)
        return self._clients.get(timeout)

    def _create(self, read_timeout_s: float) -> BedrockClient:
        if self._session is None:
            import botocore.session  # imported here: only client creation needs the session machinery

            self._session = botocore.session.get_session()
        config = Config(
            retries={"mode": "standard", "total_max_attempts": 1},
            connect_timeout=self.connect_timeout_s,
            read_timeout=read_timeout_s,
            tcp_keepalive=True,
            user_agent_extra="bedrock-platform-orchestrator",
        )
        client = self._session.create_client("bedrock-runtime", region_name=self.region, config=config)
        # every call abandoned on the clock at connect + read: the read timeout bounds each socket read, not
        # the answer (module docstring)
        bounded: BedrockClient = ClockBoundClient(client, self.connect_timeout_s + read_timeout_s)
        return bounded


# --- request ------------------------------------------------------------------------------------------


def _guard(text: str, qualifiers: Sequence[str] = ()) -> dict[str, Any]:
    block: dict[str, Any] = {"text": text}
    if qualifiers:
        block["qualifiers"] = list(qualifiers)
    return {"guardContent": {"text": block}}


def _cache_point() -> dict[str, Any]:
    """A prompt-cache checkpoint (default TTL, 5 minutes; the TTL restarts on every hit)."""
    return {"cachePoint": {"type": "default"}}


def prefix_tokens(chars: int) -> int:
    """A conservative (low) token estimate for a cached prefix: characters / CHARS_PER_TOKEN, rounded
    down. English prose runs ~3.5-4 characters per token on Claude's and Nova's tokenizers and other
    scripts fewer, so this undercounts: a prefix estimated at the minimum really reaches it (long runs
    of whitespace or repeated characters are the exception)."""
    return chars // CHARS_PER_TOKEN


@dataclass(frozen=True, slots=True)
class CachePlan:
    """Where ``build_converse_request`` puts cache points."""

    after_system: bool = False
    after_context: bool = False


def cache_plan(*, use_case: UseCase, request: InvokeRequest, min_tokens: int | None) -> CachePlan:
    """Cache points only where the cached prefix can reach the model's minimum (``min_tokens``; ``None``:
    the model has no prompt caching). Below the minimum Bedrock accepts a cachePoint and caches nothing
    (https://docs.aws.amazon.com/bedrock/latest/userguide/prompt-caching.html), so none is sent.

    * After the system prompt, when it alone reaches the minimum: every request of the use case shares it.
    * After the context, when the contract says callers repeat it (``cache_context``), the request is
      single-turn (with earlier turns before it the prefix would differ per conversation) and the system
      prompt plus the context reach the minimum.
    """
    if min_tokens is None:
        return CachePlan()
    system_chars = len(use_case.prompt.system)
    after_system = prefix_tokens(system_chars) >= min_tokens
    after_context = (
        use_case.contract.conversation.cache_context
        and request.context is not None
        and len(request.messages) == 1
        and prefix_tokens(system_chars + len(request.context)) >= min_tokens
    )
    return CachePlan(after_system=after_system, after_context=after_context)


def build_converse_request(
    *,
    use_case: UseCase,
    cache: CachePlan,
    profile_arn: str,
    guardrail_id: str,
    guardrail_version: str,
    request: InvokeRequest,
    request_metadata: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The Converse arguments. Everything but the caller's text comes from the use case.

    Caller text is untrusted, so every user turn goes into ``guardContent`` (a caller can fabricate
    history: guarding only the last turn would let an earlier "user" turn skip the guardrail). With
    contextual grounding, the context is the ``grounding_source`` and the latest question the ``query``;
    without it, context is guarded as ordinary input. Assistant turns are plain text, which Converse's
    guardrail does not evaluate once guardContent is present: they reach this point only for a use
    case that guards caller history, after ``check_input`` passed them (otherwise validation
    refused the request). Outside ``guardContent`` and checked assistant turns there is only the
    platform's system prompt. Cache points go where ``cache`` (``cache_plan``) says.
    """
    system: list[dict[str, Any]] = [{"text": use_case.prompt.system}]
    if cache.after_system:
        system.append(_cache_point())
    grounding = use_case.contract.guardrail.grounded and request.context is not None
    last = len(request.messages) - 1
    messages: list[dict[str, Any]] = []
    for index, message in enumerate(request.messages):
        if message.role == "assistant":
            content = [{"text": message.content}]
        elif index < last:
            content = [_guard(message.content)]
        else:
            content = []
            if request.context is not None:
                content.append(_guard(request.context, ["grounding_source"] if grounding else ()))
                if cache.after_context:
                    content.append(_cache_point())
            content.append(_guard(message.content, ["query"] if grounding else ()))
        messages.append({"role": message.role, "content": content})
    arguments: dict[str, Any] = {
        "modelId": profile_arn,
        "system": system,
        "messages": messages,
        "inferenceConfig": {"maxTokens": use_case.contract.limits.max_output_tokens},
        "guardrailConfig": {
            "guardrailIdentifier": guardrail_id,
            "guardrailVersion": guardrail_version,
            "trace": "enabled",
        },
    }
    if request_metadata:
        arguments["requestMetadata"] = dict(request_metadata)
    return arguments


# --- response -----------------------------------------------------------------------------------------


class MalformedResponseError(Exception):
    """A 200 whose body does not have the Converse response shape (retryable)."""


@dataclass(frozen=True, slots=True)
class ModelAnswer:
    text: str
    stop_reason: str
    input_tokens: int
    output_tokens: int
    model_latency_ms: int | None
    intervened: bool
    blocked_side: str | None  # "input" | "output" when intervened and not masked
    truncated: bool
    cache_read_tokens: int = 0  # usage.cacheReadInputTokens (not included in input_tokens)
    cache_write_tokens: int = 0  # usage.cacheWriteInputTokens (not included in input_tokens)
    masked: bool = False  # intervened by masking only: ``text`` is the answer, masked (``_masked_only``)


def _count(usage: Mapping[str, Any], key: str) -> int:
    value = usage.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MalformedResponseError(f"usage.{key} is not a non-negative integer")
    return value


def parse_converse_response(response: Any) -> ModelAnswer:
    if not isinstance(response, Mapping):
        raise MalformedResponseError("response is not an object")
    stop_reason = response.get("stopReason")
    if not isinstance(stop_reason, str):
        raise MalformedResponseError("stopReason missing")
    output = response.get("output")
    message = output.get("message") if isinstance(output, Mapping) else None
    content = message.get("content") if isinstance(message, Mapping) else None
    if not isinstance(content, list):
        raise MalformedResponseError("output.message.content missing")
    texts = [
        block["text"]
        for block in content
        if isinstance(block, Mapping) and isinstance(block.get("text"), str)
    ]
    usage = response.get("usage")
    if not isinstance(usage, Mapping):
        raise MalformedResponseError("usage missing")
    input_tokens = _count(usage, "inputTokens")
    output_tokens = _count(usage, "outputTokens")
    cache_read = _count(usage, "cacheReadInputTokens") if "cacheReadInputTokens" in usage else 0
    cache_write = _count(usage, "cacheWriteInputTokens") if "cacheWriteInputTokens" in usage else 0
    metrics = response.get("metrics")
    latency = metrics.get("latencyMs") if isinstance(metrics, Mapping) else None
    model_latency_ms = latency if isinstance(latency, int) and not isinstance(latency, bool) else None

    intervened = stop_reason in _BLOCKED_STOP_REASONS
    if not intervened and stop_reason not in _OK_STOP_REASONS:
        # tool_use / malformed_model_output / malformed_tool_use / unknown: not a usable answer
        raise MalformedResponseError(f"unusable stopReason {stop_reason!r}")
    if not intervened and not texts:
        raise MalformedResponseError("no text in the answer")
    masked = intervened and bool(texts) and _masked_only(response)
    return ModelAnswer(
        text="".join(texts),
        stop_reason=stop_reason,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        model_latency_ms=model_latency_ms,
        intervened=intervened,
        blocked_side=_blocked_side(response) if intervened and not masked else None,
        truncated=stop_reason in _TRUNCATED_STOP_REASONS,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        masked=masked,
    )


def _assessments(response: Mapping[str, Any]) -> tuple[Any, Any]:
    """``trace.guardrail``'s (inputAssessment, outputAssessments), ``None`` where absent."""
    trace = response.get("trace")
    guardrail = trace.get("guardrail") if isinstance(trace, Mapping) else None
    if not isinstance(guardrail, Mapping):
        return None, None
    return guardrail.get("inputAssessment"), guardrail.get("outputAssessments")


def _masked_only(response: Mapping[str, Any]) -> bool:
    """A ``guardrail_intervened`` whose findings are all masks: at least one ANONYMIZED and no BLOCKED
    finding in the input and output assessments. The answer is then the model's, with the sensitive
    information masked, not a blocked message.

    Masking is an intervention: "If the response results in a guardrail intervention or violation, it
    will be overridden with pre-configured blocked messaging or masking of the sensitive information
    based on the policy configuration"
    (https://docs.aws.amazon.com/bedrock/latest/userguide/guardrails-how.html), and Converse's one stop
    reason for a guardrail intervention is ``guardrail_intervened`` (``stopReason``,
    https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html). The trace tells
    a mask from a block: a masked entity's ``action`` is ``ANONYMIZED``, a blocked one's ``BLOCKED``
    (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_GuardrailPiiEntityFilter.html,
    ``GuardrailRegexFilter`` alike). Without a trace, or with no finding at all, it fails closed: a block.
    """
    if response.get("stopReason") != "guardrail_intervened":
        return False
    return masked_only(*_assessments(response))


def _blocked_side(response: Mapping[str, Any]) -> str:
    """The side whose assessment has a BLOCKED finding: input if the input's has one, else output if the
    output's has one. ``content_filtered`` is the model's own output filter: output. With no BLOCKED
    finding to go by (no trace), input: the request is refused as a whole."""
    if response.get("stopReason") == "content_filtered":
        return "output"
    input_assessment, output_assessments = _assessments(response)
    if has_action(input_assessment, "BLOCKED"):
        return "input"
    if has_action(output_assessments, "BLOCKED"):
        return "output"
    return "input"


# --- errors -------------------------------------------------------------------------------------------


class FailureKind(StrEnum):
    RETRY = "retry"  # retry on the same route (with backoff)
    NEXT_ROUTE = "next_route"  # no retry, try the next route
    REJECTED = "rejected"  # no retry, no fallback


@dataclass(frozen=True, slots=True)
class Failure:
    kind: FailureKind
    code: str
    throttle: bool = False


def classify(exc: BaseException) -> Failure | None:
    """How the loop treats an exception from one Converse call; ``None``: not an upstream fault (a bug)."""
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code") or "Unknown")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        throttle = code in THROTTLE_CODES
        if code in RETRYABLE_CODES:
            return Failure(FailureKind.RETRY, code, throttle)
        if code in NEXT_ROUTE_CODES:
            return Failure(FailureKind.NEXT_ROUTE, code, throttle)
        if isinstance(status, int) and (status >= 500 or status == 429):
            return Failure(FailureKind.RETRY, code, status == 429)
        return Failure(FailureKind.REJECTED, code)
    if isinstance(exc, ReadTimeoutError | CallAbandoned):
        return Failure(FailureKind.RETRY, READ_TIMEOUT)
    if isinstance(exc, ConnectTimeoutError):
        return Failure(FailureKind.RETRY, "ConnectTimeout")
    if isinstance(exc, ConnectionClosedError):
        return Failure(FailureKind.RETRY, "ConnectionClosed")
    if isinstance(exc, EndpointConnectionError | BotoConnectionError | HTTPClientError):
        return Failure(FailureKind.RETRY, "ConnectionError")
    if isinstance(exc, MalformedResponseError | ResponseParserError | UnicodeDecodeError | AttributeError):
        # botocore turns an undecodable 200 body into {"message": ...}, raises AttributeError for a
        # non-object JSON body and UnicodeDecodeError for non-UTF-8 bytes.
        return Failure(FailureKind.RETRY, "MalformedResponse")
    if isinstance(exc, ParamValidationError | BotoValidationError):
        return None  # botocore refused the arguments before sending: a bug in this code
    if isinstance(exc, NoCredentialsError | PartialCredentialsError | CredentialRetrievalError):
        return Failure(FailureKind.NEXT_ROUTE, "CredentialsError")
    if isinstance(exc, BotoCoreError):
        return Failure(FailureKind.RETRY, type(exc).__name__)
    return None


# --- the loop -----------------------------------------------------------------------------------------


class Outcome(StrEnum):
    ANSWERED = "answered"
    INTERVENED = "intervened"
    THROTTLED = "throttled"
    QUOTA_EXCEEDED = "quota_exceeded"
    TIMED_OUT = "timed_out"
    NOT_PERMITTED = "not_permitted"
    UNAVAILABLE = "unavailable"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class RouteTarget:
    """One route of a plan with its Converse arguments."""

    route: str
    arguments: Mapping[str, Any]
    circuit_key: str | None  # None: not subject to the circuit breaker (the fallback)
    #: How long a healthy answer of this route may take (the contract's ``latency_p95_ms``, in seconds):
    #: its share of the budget is widened to fit it (``route_deadline``), and a read timeout counts as a
    #: hang only after the attempt could wait that long (``hang_evidence``). 0: no such expectation.
    expected_s: float = 0.0


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    route: str  # the route, or INPUT_CHECK_STAGE for the input check
    result: str  # "ok", "intervened" or the failure code
    seconds: float
    throttle: bool = False  # the failure was a throttle or quota error


@dataclass(slots=True)
class InvocationResult:
    outcome: Outcome
    route: str | None = None
    answer: ModelAnswer | None = None
    attempts: list[AttemptRecord] = field(default_factory=list)
    error_code: str | None = None
    model_seconds: float | None = None

    @property
    def calls(self) -> int:
        """Converse calls (the input check is not one)."""
        return sum(1 for attempt in self.attempts if attempt.route != INPUT_CHECK_STAGE)

    def used_route(self, name: str) -> bool:
        return any(attempt.route == name for attempt in self.attempts)


def backoff_seconds(attempt: int, policy: ResilienceSettings, rand: Callable[[], float]) -> float:
    """Full jitter: uniform in [0, min(max, base * 2**(attempt - 1))]."""
    ceiling = min(policy.backoff_max_s, policy.backoff_base_s * 2.0 ** (attempt - 1))
    return rand() * ceiling


def route_deadline(
    now: float, deadline: float, stages_left: int, policy: ResilienceSettings, expected_s: float = 0.0
) -> float:
    """When the stage starting ``now`` must end: an equal share of the time left, widened to connect and
    wait ``expected_s`` while each later stage keeps ``min_later_share_s`` (module docstring)."""
    left = max(0.0, deadline - now)
    share = left / max(1, stages_left)
    wanted = expected_s + policy.connect_timeout_s if expected_s > 0 else 0.0
    if wanted > share and stages_left > 1:
        share = max(share, min(wanted, left - (stages_left - 1) * policy.min_later_share_s))
    share = max(share, policy.connect_timeout_s + policy.min_attempt_s)
    return now + min(share, left)


def hang_evidence(read_timeout_s: float, expected_s: float, policy: ResilienceSettings) -> bool:
    """Whether a read timeout after waiting ``read_timeout_s`` is evidence that the route hangs: the attempt
    had its full configured read timeout, or at least ``expected_s`` (how long a healthy answer may take)
    when that is shorter. A timeout the budget cut shorter than that is the budget's doing."""
    full = min(policy.read_timeout_s, expected_s) if expected_s > 0 else policy.read_timeout_s
    return read_timeout_s >= full - 1e-9


def attempt_read_timeout(now: float, stage_deadline: float, policy: ResilienceSettings) -> float | None:
    """The read timeout of an attempt starting ``now``, or ``None`` if no useful attempt fits."""
    read_timeout = min(policy.read_timeout_s, stage_deadline - now - policy.connect_timeout_s)
    return read_timeout if read_timeout >= policy.min_attempt_s else None


@dataclass(frozen=True, slots=True)
class _Timing:
    """The clock, sleep and randomness of one invocation (injected by tests)."""

    policy: ResilienceSettings
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    rand: Callable[[], float]


def _run_stage(
    name: str,
    send: Callable[[BedrockClient], T],
    ends: float,
    clients: ClientProvider,
    timing: _Timing,
    result: InvocationResult,
    on_failure: Callable[[Failure, float], None] = lambda failure, read_timeout: None,
) -> tuple[T | None, bool, float]:
    """Attempts of one stage (a route, or the input check) within its share, ending at ``ends``.

    ``send`` makes one call with the given client and returns its checked answer. Returns (the answer or
    ``None``, whether the budget rather than the attempt limit ended the stage, the successful call's
    seconds). Every failed call is recorded in ``result.attempts`` (the successful one by the caller); a
    rejected request sets ``result.outcome`` to REJECTED and ends the stage.
    """
    policy, clock = timing.policy, timing.clock
    for attempt in range(1, policy.max_attempts_per_route + 1):
        read_timeout = attempt_read_timeout(clock(), ends, policy)
        if read_timeout is None:
            return None, True, 0.0
        client = clients.client_for(read_timeout)
        started = clock()
        try:
            answer = send(client)
            return answer, False, clock() - started
        except Exception as exc:
            failure = classify(exc)
            if failure is None:
                raise
            result.attempts.append(AttemptRecord(name, failure.code, clock() - started, failure.throttle))
            result.error_code = failure.code
            if failure.kind is FailureKind.REJECTED:
                result.outcome = Outcome.REJECTED
                return None, False, 0.0
            on_failure(failure, read_timeout)
            cut_short = failure.code == READ_TIMEOUT and read_timeout < policy.read_timeout_s
            if failure.kind is FailureKind.NEXT_ROUTE or attempt == policy.max_attempts_per_route:
                return None, cut_short, 0.0
            delay = backoff_seconds(attempt, policy, timing.rand)
            if clock() + delay + policy.connect_timeout_s + policy.min_attempt_s > ends:
                return None, True, 0.0  # no room to wait and retry here; the next stage starts at once
            timing.sleep(delay)
    return None, False, 0.0


def _failed_outcome(result: InvocationResult, time_limited: bool) -> Outcome:
    """The outcome when nothing answered (module docstring)."""
    failures = [a for a in result.attempts if a.result not in ("ok", "intervened")]
    if failures and all(a.result in NOT_PERMITTED_CODES for a in failures):
        return Outcome.NOT_PERMITTED
    if failures and all(a.result == QUOTA_CODE for a in failures):
        return Outcome.QUOTA_EXCEEDED
    if failures and all(a.throttle for a in failures):
        return Outcome.THROTTLED
    return Outcome.TIMED_OUT if time_limited else Outcome.UNAVAILABLE


def invoke_with_resilience(
    *,
    plan: Sequence[RouteTarget],
    clients: ClientProvider,
    policy: ResilienceSettings,
    deadline: float,
    circuit: CircuitBreaker | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    rand: Callable[[], float] = random.random,
    result: InvocationResult | None = None,
) -> InvocationResult:
    """Call Converse along ``plan`` until one route answers; see the module docstring for the policy.

    ``deadline`` is in ``clock()`` time. Exceptions that are not upstream faults (bugs) propagate.
    ``result`` continues an invocation that already made calls (the input check).
    """
    result = result if result is not None else InvocationResult(outcome=Outcome.UNAVAILABLE)
    timing = _Timing(policy, clock, sleep, rand)
    time_limited = False  # the budget, not the attempt limits, ended the last route tried
    for index, target in enumerate(plan):
        ends = route_deadline(clock(), deadline, len(plan) - index, policy, target.expected_s)

        def send(client: BedrockClient, target: RouteTarget = target) -> ModelAnswer:
            return parse_converse_response(client.converse(**target.arguments))

        def count(failure: Failure, read_timeout: float, target: RouteTarget = target) -> None:
            if circuit is None or target.circuit_key is None:
                return
            if failure.code != READ_TIMEOUT:
                circuit.record_failure(target.circuit_key)
            elif hang_evidence(read_timeout, target.expected_s, policy):
                circuit.record_failure(target.circuit_key, timed_out=True)
            # else: a timeout the budget cut short says nothing about the route; it is not counted

        answer, time_limited, seconds = _run_stage(target.route, send, ends, clients, timing, result, count)
        if result.outcome is Outcome.REJECTED:
            return result
        if answer is None:
            continue
        result.attempts.append(
            AttemptRecord(target.route, "intervened" if answer.intervened else "ok", seconds)
        )
        if circuit is not None and target.circuit_key is not None:
            circuit.record_success(target.circuit_key)
        result.outcome = Outcome.INTERVENED if answer.intervened else Outcome.ANSWERED
        result.route = target.route
        result.answer = answer
        result.error_code = None
        result.model_seconds = seconds
        return result
    result.outcome = _failed_outcome(result, time_limited)
    return result


# --- input check (caller history, look-alike letters) -------------------------------------------------

#: The stage name of the input check in ``InvocationResult.attempts``.
INPUT_CHECK_STAGE: Final = "input-check"


@dataclass(frozen=True, slots=True)
class InputCheck:
    """An ApplyGuardrail call of ``build_input_check``, and whether a mask in its answer blocks the request."""

    arguments: dict[str, Any]
    #: True when it checks caller history: history reaches the model as sent, outside guardContent, and the
    #: platform never rewrites caller text, so an ANONYMIZE finding in it blocks. Folded texts alone are
    #: not what the model reads: a mask there passes (Converse masks what it finds in the text as sent).
    masks_block: bool


def build_input_check(
    *, guardrail_id: str, guardrail_version: str, request: InvokeRequest, history: bool, grounded: bool
) -> InputCheck | None:
    """The ApplyGuardrail check of the caller text Converse's guardrail would not see as the model reads it,
    or ``None`` if there is none. Source INPUT (all input policies apply, prompt attack included), one text
    block per text, in one call (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ApplyGuardrail.html):

    * every assistant turn, when the use case guards caller history (``history``): Converse's guardrail
      evaluates only the ``guardContent`` blocks once a request has any (``guardrailConfig`` in
      https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html; "Include a guardrail
      with the Converse API" in the Bedrock user guide), and assistant turns are not sent as guardContent:
      whether Bedrock accepts and evaluates guardContent in an assistant turn is not documented;
    * then every caller text in look-alike letters (``platform_spec.lookalikes.fold``: full-width,
      mathematical or mixed-script letters, full-width digits, dashes for hyphens), folded, so that the word
      filters' exact match and the number patterns see what the model reads. The context of a grounded
      request is not one of them: Converse gets it as the grounding source, which is not screened as input
      (a policy document's imperative wording would trip the prompt-attack filter), folded or not. A
      sensitive-information entity under ANONYMIZE written in look-alike characters reaches the model as
      written (``InputCheck.masks_block``); words, topics, attacks and BLOCK entities do not.
    """
    turns = [m.content for m in request.messages if m.role == "assistant"] if history else []
    caller = [m.content for m in request.messages]
    if request.context is not None and not grounded:
        caller.append(request.context)
    texts = turns + [folded for folded in map(fold, caller) if folded is not None]
    if not texts:
        return None
    arguments = {
        "guardrailIdentifier": guardrail_id,
        "guardrailVersion": guardrail_version,
        "source": "INPUT",
        "content": [{"text": {"text": text}} for text in texts],
    }
    return InputCheck(arguments, masks_block=bool(turns))


def parse_apply_guardrail_response(response: Any, *, masks_block: bool) -> bool:
    """True if the guardrail blocked the text, or masked part of it and ``masks_block``; False if it passed."""
    try:
        return read_apply_guardrail(response, masks_block=masks_block).verdict is Verdict.BLOCKED
    except ValueError as error:
        raise MalformedResponseError(str(error)) from None


def check_input(
    *,
    check: InputCheck,
    routes: int,
    clients: ClientProvider,
    policy: ResilienceSettings,
    deadline: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    rand: Callable[[], float] = random.random,
) -> InvocationResult:
    """Run the ApplyGuardrail check of ``build_input_check`` as the first stage of the budget split.

    It gets an equal share with the ``routes`` still to try (``route_deadline``) and the same retries as a
    route; it is not subject to the circuit breaker. Outcome ANSWERED: the input passed (continue
    with ``invoke_with_resilience(result=...)``); INTERVENED: the guardrail blocked it, no model call;
    anything else: the check could not run, and the request fails closed with that outcome.
    """
    result = InvocationResult(outcome=Outcome.UNAVAILABLE)
    timing = _Timing(policy, clock, sleep, rand)
    ends = route_deadline(clock(), deadline, routes + 1, policy)

    def send(client: BedrockClient) -> bool:
        return parse_apply_guardrail_response(
            client.apply_guardrail(**check.arguments), masks_block=check.masks_block
        )

    intervened, time_limited, seconds = _run_stage(INPUT_CHECK_STAGE, send, ends, clients, timing, result)
    if result.outcome is Outcome.REJECTED:
        return result
    if intervened is None:
        result.outcome = _failed_outcome(result, time_limited)
        return result
    result.attempts.append(AttemptRecord(INPUT_CHECK_STAGE, "intervened" if intervened else "ok", seconds))
    result.outcome = Outcome.INTERVENED if intervened else Outcome.ANSWERED
    result.error_code = None
    return result
