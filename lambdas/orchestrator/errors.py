"""Every failure the API returns: a documented status, a stable ``code`` and a JSON body.

Body: ``{"error": {"code": "<STABLE_CODE>", "message": "...", "field": "<field or null>",
"requestId": "<API Gateway request id>"}}``. Messages never echo caller text or internals.

======  ===========================  =========================================================================
Status  Code                         When
======  ===========================  =========================================================================
400     INVALID_JSON                 Body is not UTF-8 JSON (or is nested too deeply, or uses NaN/Infinity).
400     INVALID_REQUEST              A field is missing, has the wrong type, breaks a count/size limit, or the
                                     conversation shape is wrong (roles, alternation, last turn not ``user``);
                                     ``context`` missing for a use case with contextual grounding.
400     UNKNOWN_FIELD                A field the API does not define.
400     FORBIDDEN_FIELD              A field that would choose the model, system prompt, token cap, guardrail,
                                     tools or inference settings (``modelId``, ``system``, ``maxTokens``, ...).
400     DUPLICATE_FIELD              The same key twice in one JSON object.
400     INVALID_CHARACTERS           Control (other than tab, LF, CR), zero-width, bidi-override, Unicode tag
                                     or lone surrogate characters; ``field`` names the message index.
400     INVALID_IDEMPOTENCY_KEY      ``Idempotency-Key`` is not 1-255 visible ASCII characters.
400     CALLER_HISTORY_REFUSED       An ``assistant`` turn for a use case whose contract refuses caller history
                                     (``conversation.caller_history: refuse``, the default).
404     NOT_FOUND                    No such path/method.
404     USE_CASE_NOT_FOUND           Unknown or disabled use case.
409     IDEMPOTENCY_IN_PROGRESS      A request with the same Idempotency-Key and use case is running;
                                     ``Retry-After``: seconds until its in-progress record expires.
413     PAYLOAD_TOO_LARGE            Body over 256 KiB.
413     INPUT_TOO_LARGE              Estimated input tokens (characters / 4) over the use case's cap.
415     UNSUPPORTED_MEDIA_TYPE       Content-Type is not ``application/json`` (charset, if given, utf-8).
422     IDEMPOTENCY_KEY_REUSED       The Idempotency-Key was used before, for this use case, with another body
                                     (compared as canonical JSON); no Bedrock call.
429     THROTTLED                    Bedrock throttled every route tried (ThrottlingException, or a mix of
                                     throttling and quota errors).
429     MODEL_QUOTA_EXCEEDED         Every route tried answered ServiceQuotaExceededException: the account is
                                     over a Bedrock service quota. Not API Gateway's usage-plan
                                     ``QUOTA_EXCEEDED``. ``Retry-After`` is QUOTA_RETRY_AFTER_S (60).
500     INTERNAL                     A bug. Logged with the request id; the body says nothing more.
502     UPSTREAM_REJECTED            Bedrock rejected the request (ValidationException); not retried.
503     UPSTREAM_UNAVAILABLE         Every route failed (errors, timeouts, malformed responses, access denied),
                                     or the caller-history guardrail check could not run (fails closed).
503     IDEMPOTENCY_UNAVAILABLE      The idempotency store could not be read or written.
504     TIME_BUDGET_EXCEEDED         The time budget ended the last route before it answered (it hung or
                                     kept failing until no attempt fit).
======  ===========================  =========================================================================

Every retryable status carries ``Retry-After`` (seconds, RFC 9110 section 10.2.3): 429, 503 and 504
say ``retry_after_s`` (the Lambda's own backoff cap ``BEDROCK_BACKOFF_MAX_MS``, rounded up, at least 1)
unless stated above; 409 says when the original request's in-progress record expires. 400, 404, 413,
415, 422, 500 and 502 are not retryable as sent and have none.

A guardrail intervention is not an error: 200 with the use case's blocked message and
``guardrail.action = "INTERVENED"`` (also when the guardrail blocked the caller's history before any
model call: then ``route`` is null and ``attempts`` 0).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from .settings import ResilienceSettings

ERROR_STATUS: Final[Mapping[str, int]] = MappingProxyType(
    {
        "INVALID_JSON": 400,
        "INVALID_REQUEST": 400,
        "UNKNOWN_FIELD": 400,
        "FORBIDDEN_FIELD": 400,
        "DUPLICATE_FIELD": 400,
        "INVALID_CHARACTERS": 400,
        "INVALID_IDEMPOTENCY_KEY": 400,
        "CALLER_HISTORY_REFUSED": 400,
        "NOT_FOUND": 404,
        "USE_CASE_NOT_FOUND": 404,
        "IDEMPOTENCY_IN_PROGRESS": 409,
        "PAYLOAD_TOO_LARGE": 413,
        "INPUT_TOO_LARGE": 413,
        "UNSUPPORTED_MEDIA_TYPE": 415,
        "IDEMPOTENCY_KEY_REUSED": 422,
        "THROTTLED": 429,
        "MODEL_QUOTA_EXCEEDED": 429,
        "INTERNAL": 500,
        "UPSTREAM_REJECTED": 502,
        "UPSTREAM_UNAVAILABLE": 503,
        "IDEMPOTENCY_UNAVAILABLE": 503,
        "TIME_BUDGET_EXCEEDED": 504,
    }
)

INTERNAL_MESSAGE: Final = "An internal error occurred. Quote the request id when reporting it."

#: Retry-After of MODEL_QUOTA_EXCEEDED: Bedrock's on-demand rate quotas (tokens and requests per minute)
#: replenish within a minute; ServiceQuotaExceededException itself says only "resubmit later"
#: (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html, Errors).
QUOTA_RETRY_AFTER_S: Final = 60


def retry_after_s(policy: ResilienceSettings) -> int:
    """Retry-After (whole seconds) of a retryable upstream or store failure: the backoff cap, at least 1."""
    return max(1, math.ceil(policy.backoff_max_s))


class ApiError(Exception):
    """A failure with a documented status code; raised anywhere, rendered by the handler."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if code not in ERROR_STATUS:
            raise ValueError(f"undocumented error code {code!r}")
        super().__init__(message)
        self.code = code
        self.status = ERROR_STATUS[code]
        self.message = message
        self.field = field
        self.headers: dict[str, str] = dict(headers or {})


def error_body(code: str, message: str, *, field: str | None, request_id: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field, "requestId": request_id}}


def error_json(error: ApiError, request_id: str) -> str:
    return json.dumps(error_body(error.code, error.message, field=error.field, request_id=request_id))
