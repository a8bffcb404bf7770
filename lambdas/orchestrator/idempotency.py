"""Idempotent invokes with Powertools idempotency on DynamoDB (only when ``Idempotency-Key`` is sent).

* Key: SHA-256 of ``{"idempotencyKey", "useCase", "bodySha256"}``: the same key with another body or
  another use case is a different request, not a conflict.
* Only 200 answers (including guardrail interventions) are stored, for ``IDEMPOTENCY_TTL_S`` [3600]
  seconds. An error is not stored: the wrapped call raises, Powertools deletes the in-progress record,
  and the caller may retry with the same key.
* A replay returns the stored response (its original ``requestId``) with ``Idempotent-Replayed: true``
  and makes no Bedrock call.
* A duplicate while the first is still running -> 409 ``IDEMPOTENCY_IN_PROGRESS``. The in-progress
  record expires with the Lambda's remaining time, so a crashed invocation does not block the key.
* The store failing -> 503 ``IDEMPOTENCY_UNAVAILABLE`` with ``Retry-After`` (never a 500).

Powertools' idempotency module (and boto3, which it needs) is imported and its DynamoDB client created
on the first request that carries a key, so requests without one never pay for it.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import Any, Final

from .errors import ApiError

REPLAY_HEADER: Final = "Idempotent-Replayed"
DEFAULT_TTL_S: Final = 3600


def key_material(*, idempotency_key: str, use_case_id: str, raw_body: bytes) -> dict[str, str]:
    """What the idempotency record is keyed on."""
    return {
        "idempotencyKey": idempotency_key,
        "useCase": use_case_id,
        "bodySha256": hashlib.sha256(raw_body).hexdigest(),
    }


class IdempotentRunner:
    """Runs a response-producing function at most once per key material."""

    def __init__(self, *, table_name: str, ttl_s: int = DEFAULT_TTL_S, retry_after_s: int = 1) -> None:
        self.table_name = table_name
        self.ttl_s = ttl_s
        self.retry_after_s = retry_after_s
        self._lock = threading.Lock()
        self._wrapped: Callable[..., Any] | None = None
        self._config: Any = None
        self.persistence: Any = None

    def _setup(self) -> Callable[..., Any]:
        with self._lock:
            if self._wrapped is None:
                from aws_lambda_powertools.utilities.idempotency import (
                    DynamoDBPersistenceLayer,
                    IdempotencyConfig,
                    idempotent_function,
                )

                self.persistence = DynamoDBPersistenceLayer(table_name=self.table_name)
                self._config = IdempotencyConfig(
                    expires_after_seconds=self.ttl_s,
                    hash_function="sha256",
                    response_hook=_mark_replayed,
                )
                self._wrapped = idempotent_function(
                    _run_once,
                    data_keyword_argument="key",
                    persistence_store=self.persistence,
                    config=self._config,
                )
            return self._wrapped

    def run(
        self,
        *,
        key: dict[str, str],
        produce: Callable[[], dict[str, Any]],
        lambda_context: Any,
    ) -> dict[str, Any]:
        """``produce()`` returns a proxy-style response dict for a 200 or raises ``ApiError``."""
        wrapped = self._setup()
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
            IdempotencyInconsistentStateError,
            IdempotencyPersistenceLayerError,
        )

        self._config.register_lambda_context(lambda_context)
        try:
            response: dict[str, Any] = wrapped(key=key, produce=produce)
        except IdempotencyAlreadyInProgressError as exc:
            raise ApiError(
                "IDEMPOTENCY_IN_PROGRESS",
                "A request with this Idempotency-Key is still being processed. Retry later.",
                field="Idempotency-Key",
                headers={"Retry-After": "1"},
            ) from exc
        except (IdempotencyPersistenceLayerError, IdempotencyInconsistentStateError) as exc:
            raise ApiError(
                "IDEMPOTENCY_UNAVAILABLE",
                "The idempotency store is unavailable. Retry later, or retry without Idempotency-Key.",
                field="Idempotency-Key",
                headers={"Retry-After": str(self.retry_after_s)},
            ) from exc
        return response


def _run_once(*, key: dict[str, str], produce: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    del key  # only the idempotency layer reads it
    return produce()


def _mark_replayed(response: Any, idempotent_data: Any) -> Any:
    del idempotent_data
    if isinstance(response, dict):
        headers = dict(response.get("headers") or {})
        headers[REPLAY_HEADER] = "true"
        return {**response, "headers": headers}
    return response
