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
model call: then ``route`` is null and ``attempts`` 0).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from platform_spec.api import ERRORS, QUOTA_RETRY_AFTER_S, ResilienceSettings

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
