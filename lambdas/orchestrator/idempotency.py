"""Idempotent invokes with Powertools idempotency on DynamoDB (only when ``Idempotency-Key`` is sent).

A stored record holds the answer, model output included, so a use case whose contract forbids storing
text (``logging.prompts_and_responses: false``) never gets here: its requests with a key are refused
(400 ``IDEMPOTENCY_KEY_REFUSED``, ``validation.parse_idempotency_key``) before anything is written.

Follows the IETF Idempotency-Key draft (draft-ietf-httpapi-idempotency-key-header, sections 2.6 and
2.7: https://datatracker.ietf.org/doc/draft-ietf-httpapi-idempotency-key-header/):

* Record key: the ``Idempotency-Key``, the use case and the caller (the IAM principal API Gateway
  authenticated, ``platform_spec.review.principal_of``: a role session counts as its role, the principal
  the review path uses too). Each caller has its own key space: a key another caller used is a new
  request for this one (its own Bedrock call and answer), never that caller's stored answer and never
  a 422 that would tell it the key is taken. The request body is not part of the key: it is the payload
  Powertools validates (``payload_validation_jmespath``), so a key is one request of one caller.
* Payload: the request body in canonical JSON (``canonical_body``: keys sorted, no insignificant
  whitespace, the validated fields only). The same JSON written differently (key order, spacing,
  ``\\u00e9`` for ``é``) is the same request and replays; another body with a key the same caller used
  is a client bug: 422 ``IDEMPOTENCY_KEY_REUSED`` (Powertools ``IdempotencyValidationError``), and no
  Bedrock call.
* Only answers (200, guardrail interventions included, and the 202 of an answer held for review) are
  stored, for ``IDEMPOTENCY_TTL_S`` [3600] seconds. An error is not stored: the wrapped call raises,
  Powertools deletes the in-progress record, and the caller may retry with the same key.
* A replay returns the stored response (its original ``requestId``) with ``Idempotent-Replayed: true``
  and makes no Bedrock call.
* A duplicate while the first is still running -> 409 ``IDEMPOTENCY_IN_PROGRESS`` with ``Retry-After``:
  the seconds until the first request's in-progress record expires, i.e. how long it may still run (the
  record expires with that invocation's remaining Lambda time, so a crashed invocation does not block
  the key). Reading it costs one DynamoDB GetItem, on this path only; if that read fails, the bound is
  this invocation's own remaining time (the first started earlier, with the same timeout).
* The store failing before the request ran -> 503 ``IDEMPOTENCY_UNAVAILABLE`` with ``Retry-After`` (never
  a 500). After it ran, the store never costs the caller the outcome: an answer whose record cannot be
  saved is returned anyway (logged as ``idempotencyError``, counted in ``IdempotencySaveFailures``) and
  its in-progress record deleted, so a retry with the key is a new request (a new Bedrock call), not a
  409; if the delete fails too, the record expires with the invocation's time, which is what a retry's
  409 ``Retry-After`` says. An error whose record cannot be deleted is answered as that error.
* The record's calls after the answer (saving it, or deleting it after an error) are bounded by the time
  the request has left (``ends``, ``stores.DeadlineBoundClient``), so a slow store cannot run the function
  past its timeout; a call that does not fit is not made and fails like a store error.

Records written before the key layout changed (when the body hash, and later the caller, was not part
of the key as it is now) are not found under the new key; they expire with their TTL.

Powertools' idempotency module (and boto3, which it needs) is imported and its DynamoDB client created
on the first request that carries a key, so requests without one never pay for it.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, Final

from platform_spec.api import IDEMPOTENCY_KEY_HEADER, REPLAY_HEADER
from platform_spec.api import IDEMPOTENCY_TTL_S as DEFAULT_TTL_S

from .errors import ApiError
from .stores import DeadlineBoundClient, StoreClients
from .validation import InvokeRequest

__all__ = ["DEFAULT_TTL_S", "REPLAY_HEADER", "IdempotentRunner", "canonical_body", "key_material"]
#: What Powertools derives the record key from, and the payload it validates (``key_material``).
EVENT_KEY_JMESPATH: Final = "[idempotencyKey, useCase, caller]"
PAYLOAD_JMESPATH: Final = "body"


def canonical_body(request: InvokeRequest) -> str:
    """The request's body as canonical JSON: the validated fields only, keys sorted, no spaces."""
    document: dict[str, Any] = {
        "messages": [{"content": m.content, "role": m.role} for m in request.messages],
    }
    if request.context is not None:
        document["context"] = request.context
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def key_material(
    *, idempotency_key: str, use_case_id: str, caller: str, request: InvokeRequest
) -> dict[str, str]:
    """What the idempotency record is keyed on (key, use case and caller principal) and validated against
    (the body)."""
    return {
        "idempotencyKey": idempotency_key,
        "useCase": use_case_id,
        "caller": caller,
        "body": canonical_body(request),
    }


class IdempotentRunner:
    """Runs a response-producing function at most once per Idempotency-Key, use case and caller."""

    def __init__(self, *, table_name: str, ttl_s: int = DEFAULT_TTL_S, retry_after_s: int = 1) -> None:
        self.table_name = table_name
        self.ttl_s = ttl_s
        self.retry_after_s = retry_after_s
        self._lock = threading.Lock()
        self._wrapped: Callable[..., Any] | None = None
        self._config: Any = None
        self.persistence: Any = None
        #: When the record's calls must end (``time.monotonic()`` time): unset before the answer.
        self._ends: ContextVar[float | None] = ContextVar("idempotency_store_ends", default=None)

    def _setup(self) -> Callable[..., Any]:
        with self._lock:
            if self._wrapped is None:
                from aws_lambda_powertools.utilities.idempotency import (
                    DynamoDBPersistenceLayer,
                    IdempotencyConfig,
                    idempotent_function,
                )

                self.persistence = DynamoDBPersistenceLayer(
                    table_name=self.table_name,
                    boto3_client=DeadlineBoundClient(StoreClients("dynamodb", region=None), self._ends),
                )
                self._config = IdempotencyConfig(
                    event_key_jmespath=EVENT_KEY_JMESPATH,
                    payload_validation_jmespath=PAYLOAD_JMESPATH,
                    raise_on_no_idempotency_key=True,
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
        ends: float | None = None,
        on_unsaved: Callable[[BaseException], None] = lambda error: None,
    ) -> dict[str, Any]:
        """``produce()`` returns a proxy-style response dict for a 200 or raises ``ApiError``; the record's
        calls after it end by ``ends`` (``time.monotonic()`` time; ``None``: the configured bounds).
        ``on_unsaved(error)``: the answer was produced but its record could not be saved (it is returned
        anyway; module docstring)."""
        wrapped = self._setup()
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
            IdempotencyInconsistentStateError,
            IdempotencyPersistenceLayerError,
            IdempotencyValidationError,
        )

        produced: list[dict[str, Any]] = []
        failed: list[BaseException] = []

        def produce_then_bound() -> dict[str, Any]:
            try:
                produced.append(produce())
                return produced[0]
            except BaseException as error:
                failed.append(error)
                raise
            finally:  # what Powertools does next (save the answer, or delete the record) is after the answer
                self._ends.set(ends)

        self._config.register_lambda_context(lambda_context)
        token = self._ends.set(None)
        try:
            response: dict[str, Any] = wrapped(key=key, produce=produce_then_bound)
        except IdempotencyValidationError as exc:
            raise ApiError(
                "IDEMPOTENCY_KEY_REUSED",
                "You already used this Idempotency-Key for this use case with a different request body. "
                "Send a new key for a new request, or the original body to get the original answer.",
                field=IDEMPOTENCY_KEY_HEADER,
            ) from exc
        except IdempotencyAlreadyInProgressError as exc:
            raise ApiError(
                "IDEMPOTENCY_IN_PROGRESS",
                "A request with this Idempotency-Key is still being processed. Retry after the delay in "
                "Retry-After.",
                field=IDEMPOTENCY_KEY_HEADER,
                headers={"Retry-After": str(self._in_progress_retry_after(key, lambda_context))},
            ) from exc
        except IdempotencyPersistenceLayerError as exc:
            if produced:  # the answer exists (and is paid for); only its record could not be saved
                on_unsaved(exc.__cause__ or exc)
                self._release(key, exc)
                return produced[0]
            if failed:  # the request failed and its record could not be deleted: the request's own error
                raise failed[0] from exc
            raise self._unavailable() from exc
        except IdempotencyInconsistentStateError as exc:
            raise self._unavailable() from exc
        finally:
            self._ends.reset(token)
        return response

    def _unavailable(self) -> ApiError:
        return ApiError(
            "IDEMPOTENCY_UNAVAILABLE",
            "The idempotency store is unavailable. Retry later, or retry without Idempotency-Key.",
            field=IDEMPOTENCY_KEY_HEADER,
            headers={"Retry-After": str(self.retry_after_s)},
        )

    def _release(self, key: dict[str, str], error: Exception) -> None:
        """Delete the in-progress record of an answer that could not be saved, so a retry with the key is
        not refused (409) until it expires; if that fails too, it expires with the invocation's time."""
        with contextlib.suppress(Exception):  # it expires by itself; the answer is already on its way
            self.persistence.delete_record(data=key, exception=error)

    def _in_progress_retry_after(self, key: dict[str, str], lambda_context: Any) -> int:
        """Seconds until the running request's in-progress record expires (module docstring)."""
        expiry_ms: float | None = None
        try:
            stored = self.persistence.get_record(data=key).in_progress_expiry_timestamp
            expiry_ms = None if stored is None else float(stored)  # DynamoDB numbers arrive as Decimal
        except Exception:  # the 409 stands; only its hint falls back to an upper bound
            expiry_ms = None
        if expiry_ms is not None:
            return max(1, math.ceil((expiry_ms - time.time() * 1000) / 1000))
        remaining = getattr(lambda_context, "get_remaining_time_in_millis", None)
        return max(1, math.ceil(remaining() / 1000)) if remaining is not None else self.retry_after_s


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
