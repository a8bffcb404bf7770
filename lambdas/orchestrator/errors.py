"""Every failure the API returns: a documented status, a stable ``code`` and a JSON body.

Body: ``{"error": {"code": "<STABLE_CODE>", "message": "...", "field": "<field or null>",
"requestId": "<API Gateway request id>"}}``. Messages never echo caller text or internals.

The codes, their statuses and when each is answered are ``platform_spec.api.ERRORS`` (one table for
the handler, the construct's gateway responses, the README and the tests).

Every retryable status carries ``Retry-After`` (seconds, RFC 9110 section 10.2.3): 429, 503 and 504
say ``retry_after_s`` (the retry loop's own backoff cap, rounded up, at least 1) unless stated in the
table; 409 says when the original request's in-progress record expires. 400, 404, 413, 415, 422, 500
and 502 are not retryable as sent and have none.

A guardrail intervention is not an error: 200 with the use case's blocked message and
``guardrail.action = "INTERVENED"`` (also when the guardrail blocked the caller's history before any
model call: then ``route`` is null and ``attempts`` 0). One that only masked (ANONYMIZE) is the answer
as Bedrock masked it, with ``guardrail.action = "MASKED"``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from platform_spec.api import ERRORS, QUOTA_RETRY_AFTER_S, ApiError, ResilienceSettings, error_body

__all__ = [
    "ERROR_STATUS",
    "INTERNAL_MESSAGE",
    "QUOTA_RETRY_AFTER_S",
    "ApiError",
    "error_body",
    "retry_after_s",
]

ERROR_STATUS: Final[Mapping[str, int]] = MappingProxyType(
    {code: error.status for code, error in ERRORS.items()}
)

INTERNAL_MESSAGE: Final = "An internal error occurred. Quote the request id when reporting it."


def retry_after_s(policy: ResilienceSettings) -> int:
    """Retry-After (whole seconds) of a retryable upstream or store failure: the backoff cap, at least 1."""
    return max(1, math.ceil(policy.backoff_max_s))


def error_json(error: ApiError, request_id: str) -> str:
    return json.dumps(error_body(error.code, error.message, field=error.field, request_id=request_id))
