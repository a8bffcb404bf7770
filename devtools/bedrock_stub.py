"""A local Amazon Bedrock Runtime endpoint for tests and benchmarks (standard library only).

moto does not implement the Bedrock Runtime data plane, so this module serves the two operations the
platform calls, speaking the ``rest-json`` protocol that botocore's ``bedrock-runtime`` service model
(``botocore/data/bedrock-runtime/2023-09-30/service-2.json``) describes:

* Converse: ``POST /model/{modelId}/converse``. ``modelId`` arrives percent-encoded (botocore encodes
  ``/`` and ``:``), so a model id, an inference profile id and a full ARN all round-trip unchanged.
* ApplyGuardrail: ``POST /guardrail/{guardrailIdentifier}/version/{guardrailVersion}/apply``.

Point real botocore at it with ``endpoint_url=stub.endpoint_url`` or the environment variable
``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``; any credentials are accepted (signatures are not checked).

Test API (thread-safe)::

    with BedrockStub(default_latency_ms=0) as stub:   # 127.0.0.1, free port, daemon thread
        stub.endpoint_url                              # "http://127.0.0.1:PORT"
        stub.script("claude", [Fault.throttling(), Fault.success(text="hi")])
        stub.script(None, [Fault.connection_reset()])  # None matches every request
        stub.calls          # [RecordedCall(operation, target, body, headers), ...]
        stub.pending_faults # scripted outcomes not consumed yet
        stub.connections_accepted  # TCP connections accepted so far (keep-alive check)
        stub.reset()        # forget calls and scripts

``script(match, faults)`` queues outcomes. Each request takes the next outcome from the first queue
(in the order ``script`` was called) whose ``match`` is ``None`` or a substring of the request's
target -- the decoded model id for Converse, the guardrail identifier for ApplyGuardrail. When no
queue matches, the request gets the default success.

``RecordedCall`` is a 4-tuple ``(operation, target, body, headers)``: ``operation`` is
``"Converse"`` or ``"ApplyGuardrail"``, ``body`` is the parsed JSON request body (the raw text when
it is not JSON), ``headers`` has lower-cased names. It also carries ``guardrail_version`` (the URI
version for ApplyGuardrail, else ``None``) and ``path`` (the raw request path).

Outcomes (``Fault`` class methods):

* ``Fault.success(text=None, input_tokens=None, output_tokens=None, latency_ms=None,
  cache_read_tokens=None, cache_write_tokens=None)``
* ``Fault.error(code, message=None)`` and one shortcut per code: ``throttling()`` (429),
  ``model_not_ready()`` (429), ``service_unavailable()`` (503), ``internal_server()`` (500),
  ``model_timeout()`` (408), ``validation()`` (400), ``access_denied()`` (403),
  ``resource_not_found()`` (404), ``model_error()`` (424), ``service_quota_exceeded()`` (400).
  Sent as the HTTP status, header ``x-amzn-ErrorType: <code>`` and body ``{"message": ...}``, which
  botocore raises as ``ClientError`` with ``response["Error"]["Code"] == code``.
* ``Fault.read_timeout(seconds)`` (alias ``Fault.hang(seconds)``): accept the request, send nothing for
  ``seconds``, then answer with the default success (the guardrail still evaluates the request), so a
  client whose ``read_timeout`` is shorter raises ``botocore.exceptions.ReadTimeoutError`` and one with
  a longer timeout gets the answer late.
* ``Fault.trickle(seconds_per_byte)``: answer with the default success, the body one byte every
  ``seconds_per_byte``: each socket read is within a longer read timeout, the whole answer takes
  ``len(body) * seconds_per_byte`` (a degraded path or a hostile middlebox; botocore's read timeout does
  not end it).
* ``Fault.connection_reset()``: read the request, then close the socket with a TCP RST and no
  response (botocore raises ``ConnectionClosedError``).
* ``Fault.malformed_body(body=...)``: HTTP 200 whose body is not valid JSON (default: truncated JSON).
  Note that botocore does NOT raise for this: its JSON parser turns an undecodable body into
  ``{"message": <body>}``, so the client returns a response that lacks ``output``, ``stopReason`` and
  ``usage``; a non-object JSON body (``b"[]"``) makes botocore raise a bare ``AttributeError`` and
  non-UTF-8 bytes a ``UnicodeDecodeError``. Callers must validate the response shape.
* ``Fault.guardrail_intervened(message=...)``: Converse answers 200 with
  ``stopReason: "guardrail_intervened"`` and ``message`` as the assistant text (usage 0/0/0: the model
  was not invoked, unless tokens are given); ApplyGuardrail answers ``action: "GUARDRAIL_INTERVENED"``
  with ``outputs: [{"text": message}]`` and a BLOCKED content-filter assessment.
* ``Fault.guardrail_masked(masks={"Jane Roe": "NAME"}, text=None)``: a guardrail that only masks
  (a sensitive-information policy with action ANONYMIZE). Masking is an intervention that overrides the
  response with "masking of the sensitive information" instead of the blocked message
  (https://docs.aws.amazon.com/bedrock/latest/userguide/guardrails-how.html), and ``guardrail_intervened``
  is Converse's stop reason for an intervention; so, when the request has ``guardrailConfig`` and the
  answer (``text``, else the default reply, usage counted as for a success) contains a key of ``masks``:
  every such key is replaced by ``{<type>}``, ``stopReason`` is ``"guardrail_intervened"``, and the trace's
  output assessment has ``sensitiveInformationPolicy.piiEntities`` with one ``{"match", "type", "action":
  "ANONYMIZED", "detected": true}`` per key found (``GuardrailPiiEntityFilter`` in the API reference), and
  no BLOCKED finding anywhere. Otherwise the default success. ApplyGuardrail answers
  ``action: "GUARDRAIL_INTERVENED"`` with every text of ``content`` as ``outputs``, masked, and the same
  findings in its assessment.

Default success (deterministic):

* Converse reply text is ``"Stub reply: " + <text of the last user message>`` (text blocks joined with
  a space). Token counts use ``estimate_tokens(s) = ceil(len(s) / 4)``: ``inputTokens`` is the sum of
  ``estimate_tokens`` over every text block in ``system`` and ``messages`` (minimum 1),
  ``outputTokens`` is ``estimate_tokens(reply)`` (minimum 1), ``totalTokens`` is their sum. If
  ``inferenceConfig.maxTokens`` is below the reply's token count, the reply is cut to
  ``maxTokens * 4`` characters and ``stopReason`` is ``"max_tokens"``, else ``"end_turn"``.
  ``metrics.latencyMs`` is the latency applied (``default_latency_ms`` unless the outcome sets one);
  the stub sleeps that long before answering. ``Fault.success`` overrides text and/or token counts.
* When the Converse request has ``guardrailConfig`` with ``trace`` ``"enabled"`` or
  ``"enabled_full"``, the response has ``trace.guardrail`` keyed by the guardrail identifier.
* ApplyGuardrail answers ``action: "NONE"`` with ``outputs: []`` (as Bedrock does when nothing is
  masked or blocked); a scripted ``Fault.success`` means the same there. Usage: every policy is
  charged ``ceil(characters / 1000)`` text units (``sensitiveInformationPolicyFreeUnits`` and
  ``contextualGroundingPolicyUnits`` are 0).

Guardrail evaluation (what Bedrock's guardrail would see), for every answer that is not a scripted
error, reset or malformed body: a text is *flagged* when it contains one of ``stub.guardrail_triggers``
(default ``(GUARDRAIL_TRIGGER,)``, a phrase no real input contains).

* Converse with ``guardrailConfig``: when the request holds any ``guardContent`` block (in ``messages``
  or ``system``), only the ``guardContent`` texts are evaluated, as Bedrock documents ("If you include
  guardContent blocks ... the guardrail operates only on those"; ``guardrailConfig`` in
  https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html). Without any,
  every text block of every message is evaluated (the system prompt is not a message). A flagged text
  makes the answer a guardrail intervention on the input (as ``Fault.guardrail_intervened()``).
  Without ``guardrailConfig`` nothing is evaluated.
* ApplyGuardrail evaluates every text of ``content``; a flagged text makes it ``GUARDRAIL_INTERVENED``.
* ``stub.guardrail_evaluations`` lists, per evaluated request, ``(operation, texts evaluated, flagged)``.

Prompt caching (Converse): the prefix up to the last ``cachePoint`` block (``system`` first, then
``messages`` in order) is cached per target. The first request with a given prefix reports its tokens as
``cacheWriteInputTokens``, later ones as ``cacheReadInputTokens``; ``inputTokens`` counts only the rest
(the convention Anthropic models follow; ``totalTokens`` is the sum of all four). The stub caches any
prefix: it does not know each model's minimum cacheable length. ``reset()`` empties the cache.

Emulator: ``stub.emulator`` (default ``None``) may hold an object with ``converse(target, body)`` and
``apply_guardrail(identifier, version, body)``; for a valid request with no scripted outcome, a dict it
returns is sent as the 200 response body instead of the default success (``None``: the default
applies). ``evaluation.emulator`` plugs a deterministic model and guardrail in this way.

Light request validation returns ``ValidationException`` like the service: Converse needs a non-empty
``messages`` list; a ``guardrailConfig`` needs ``guardrailIdentifier`` and ``guardrailVersion``;
ApplyGuardrail needs ``source`` ``INPUT``/``OUTPUT`` and non-empty ``content``. A body that is not JSON
gets ``SerializationException`` (400); an unknown path gets ``UnknownOperationException`` (404).
Requests are recorded and take their scripted outcome before this validation runs.

As a process (benchmarks)::

    python -m bedrock_platform_devtools.bedrock_stub --port 0 [--host 127.0.0.1] [--latency-ms 0]

prints ``READY http://127.0.0.1:PORT`` on stdout and serves until SIGTERM/SIGINT. The server is a
``ThreadingHTTPServer`` speaking HTTP/1.1 keep-alive (botocore's pool reuses connections), with
TCP_NODELAY, one write per response and no per-request logging.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import signal
import socket
import struct
import sys
import threading
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final, NamedTuple, Protocol, Self
from urllib.parse import unquote

from bedrock_platform_devtools.serving import POLL_INTERVAL_S

__all__ = [
    "ERROR_STATUS",
    "GUARDRAIL_TRIGGER",
    "BedrockStub",
    "Emulator",
    "Fault",
    "FaultKind",
    "RecordedCall",
    "estimate_tokens",
    "guardrail_usage",
]

#: Bedrock Runtime error codes and the HTTP status the service model gives each.
ERROR_STATUS: Final[dict[str, int]] = {
    "ThrottlingException": 429,
    "ModelNotReadyException": 429,
    "ServiceUnavailableException": 503,
    "InternalServerException": 500,
    "ModelTimeoutException": 408,
    "ValidationException": 400,
    "AccessDeniedException": 403,
    "ResourceNotFoundException": 404,
    "ModelErrorException": 424,
    "ServiceQuotaExceededException": 400,
}

_CONVERSE: Final = "Converse"
_APPLY_GUARDRAIL: Final = "ApplyGuardrail"
_TRACE_ON: Final = frozenset({"enabled", "enabled_full"})
_DEFAULT_BLOCKED_MESSAGE: Final = "Sorry, the model cannot answer this question."

#: The default text the stub's guardrail flags (see "Guardrail evaluation" above).
GUARDRAIL_TRIGGER: Final = "<<stub-guardrail-trigger>>"


def estimate_tokens(text: str) -> int:
    """The stub's token rule: one token per started block of four characters."""
    return math.ceil(len(text) / 4)


class Emulator(Protocol):
    """Answers requests that have no scripted outcome in place of the default success (module docstring)."""

    def converse(self, target: str, body: dict[str, Any]) -> dict[str, Any] | None: ...

    def apply_guardrail(
        self, identifier: str, version: str, body: dict[str, Any]
    ) -> dict[str, Any] | None: ...


class FaultKind(StrEnum):
    SUCCESS = "success"
    ERROR = "error"
    READ_TIMEOUT = "read_timeout"
    TRICKLE = "trickle"
    CONNECTION_RESET = "connection_reset"
    MALFORMED_BODY = "malformed_body"
    GUARDRAIL_INTERVENED = "guardrail_intervened"
    GUARDRAIL_MASKED = "guardrail_masked"


@dataclass(frozen=True, slots=True)
class Fault:
    """One scripted outcome for one request. Build it with the class methods."""

    kind: FaultKind
    code: str | None = None
    message: str | None = None
    text: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_ms: int | None = None
    delay_seconds: float = 0.0
    body: bytes | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    #: ``guardrail_masked``: (the text matched, its PII entity type), in the order they are masked
    masks: tuple[tuple[str, str], ...] = ()

    @classmethod
    def success(
        cls,
        text: str | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        latency_ms: int | None = None,
        cache_read_tokens: int | None = None,
        cache_write_tokens: int | None = None,
    ) -> Fault:
        return cls(
            FaultKind.SUCCESS,
            text=text,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            latency_ms=latency_ms,
            cache_read_tokens=cache_read_tokens,
            cache_write_tokens=cache_write_tokens,
        )

    @classmethod
    def error(cls, code: str, message: str | None = None) -> Fault:
        if code not in ERROR_STATUS:
            raise ValueError(f"unknown Bedrock Runtime error code {code!r}; known: {sorted(ERROR_STATUS)}")
        return cls(FaultKind.ERROR, code=code, message=message or f"Stubbed {code}.")

    @classmethod
    def throttling(cls, message: str | None = None) -> Fault:
        return cls.error("ThrottlingException", message or "Too many requests, please wait and try again.")

    @classmethod
    def model_not_ready(cls, message: str | None = None) -> Fault:
        return cls.error("ModelNotReadyException", message)

    @classmethod
    def service_unavailable(cls, message: str | None = None) -> Fault:
        return cls.error("ServiceUnavailableException", message)

    @classmethod
    def internal_server(cls, message: str | None = None) -> Fault:
        return cls.error("InternalServerException", message)

    @classmethod
    def model_timeout(cls, message: str | None = None) -> Fault:
        return cls.error("ModelTimeoutException", message)

    @classmethod
    def validation(cls, message: str | None = None) -> Fault:
        return cls.error("ValidationException", message)

    @classmethod
    def access_denied(cls, message: str | None = None) -> Fault:
        return cls.error("AccessDeniedException", message)

    @classmethod
    def resource_not_found(cls, message: str | None = None) -> Fault:
        return cls.error("ResourceNotFoundException", message)

    @classmethod
    def model_error(cls, message: str | None = None) -> Fault:
        return cls.error("ModelErrorException", message)

    @classmethod
    def service_quota_exceeded(cls, message: str | None = None) -> Fault:
        return cls.error("ServiceQuotaExceededException", message)

    @classmethod
    def read_timeout(cls, seconds: float) -> Fault:
        if seconds < 0:
            raise ValueError("seconds must be >= 0")
        return cls(FaultKind.READ_TIMEOUT, delay_seconds=seconds)

    @classmethod
    def hang(cls, seconds: float) -> Fault:
        """Accept the request and stay silent for ``seconds`` (then answer): a hung model."""
        return cls.read_timeout(seconds)

    @classmethod
    def trickle(cls, seconds_per_byte: float) -> Fault:
        """Answer with the default success, its body one byte every ``seconds_per_byte``."""
        if seconds_per_byte <= 0:
            raise ValueError("seconds_per_byte must be > 0")
        return cls(FaultKind.TRICKLE, delay_seconds=seconds_per_byte)

    @classmethod
    def connection_reset(cls) -> Fault:
        return cls(FaultKind.CONNECTION_RESET)

    @classmethod
    def malformed_body(cls, body: bytes = b'{"output": {"message": {"role": "assistant", "content"') -> Fault:
        return cls(FaultKind.MALFORMED_BODY, body=body)

    @classmethod
    def guardrail_intervened(
        cls,
        message: str = _DEFAULT_BLOCKED_MESSAGE,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
    ) -> Fault:
        return cls(
            FaultKind.GUARDRAIL_INTERVENED,
            message=message,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
        )

    @classmethod
    def guardrail_masked(cls, masks: Mapping[str, str], text: str | None = None) -> Fault:
        """An answer (``text``, default the stub reply) whose every key of ``masks`` the guardrail masks as
        ``{<type>}`` (ANONYMIZE), ``masks`` mapping matched text to its PII entity type (``NAME``)."""
        if not masks:
            raise ValueError("masks must name at least one matched text and its PII entity type")
        return cls(FaultKind.GUARDRAIL_MASKED, text=text, masks=tuple(masks.items()))


class _CallFields(NamedTuple):
    operation: str
    target: str
    body: Any
    headers: dict[str, str]


class RecordedCall(_CallFields):
    """``(operation, target, body, headers)`` plus ``guardrail_version`` and ``path`` attributes."""

    guardrail_version: str | None
    path: str

    def __new__(
        cls,
        operation: str,
        target: str,
        body: Any,
        headers: dict[str, str],
        *,
        guardrail_version: str | None = None,
        path: str = "",
    ) -> Self:
        call = super().__new__(cls, operation, target, body, headers)
        call.guardrail_version = guardrail_version
        call.path = path
        return call


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], stub: BedrockStub) -> None:
        self.stub = stub
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (read timeout, closed pool) is expected; stay quiet about it.
        if isinstance(sys.exc_info()[1], OSError | ValueError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "BedrockRuntimeStub/1.0"
    disable_nagle_algorithm = True
    wbufsize = -1  # buffered: status line, headers and body leave in one write
    server: _Server
    _target: str = ""
    _byte_interval_s: float = 0.0  # > 0: this request's answer is sent a byte at a time (Fault.trickle)

    def setup(self) -> None:
        super().setup()
        self.server.stub._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.stub._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # --- routing -----------------------------------------------------------------------------------

    def do_POST(self) -> None:
        raw_path = self.path.split("?", 1)[0]
        parts = raw_path.split("/")
        raw = self._read_body()
        if len(parts) == 4 and parts[0] == "" and parts[1] == "model" and parts[3] == "converse":
            operation, target, version = _CONVERSE, unquote(parts[2]), None
        elif (
            len(parts) == 6
            and parts[0] == ""
            and parts[1] == "guardrail"
            and parts[3] == "version"
            and parts[5] == "apply"
        ):
            operation, target, version = _APPLY_GUARDRAIL, unquote(parts[2]), unquote(parts[4])
        else:
            self._send_error("UnknownOperationException", 404, f"No operation at POST {raw_path}")
            return

        body: Any
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = raw.decode("utf-8", "replace")
        stub = self.server.stub
        stub._record(
            RecordedCall(
                operation,
                target,
                body,
                {k.lower(): v for k, v in self.headers.items()},
                guardrail_version=version,
                path=self.path,
            )
        )
        if not isinstance(body, dict):
            self._send_error("SerializationException", 400, "Request body is not a JSON object.")
            return

        self._target = target
        self._byte_interval_s = 0.0
        fault = stub._next_fault(target) or Fault.success()
        if fault.kind is FaultKind.ERROR:
            assert fault.code is not None
            self._send_error(fault.code, ERROR_STATUS[fault.code], fault.message or fault.code)
        elif fault.kind is FaultKind.CONNECTION_RESET:
            self._reset_connection()
        elif fault.kind is FaultKind.MALFORMED_BODY:
            self._send(200, fault.body or b"")
        else:
            if fault.kind is FaultKind.READ_TIMEOUT:
                if stub._sleep(fault.delay_seconds):
                    return  # the stub is stopping
                fault = Fault.success()
            elif fault.kind is FaultKind.TRICKLE:
                self._byte_interval_s = fault.delay_seconds
                fault = Fault.success()
            if operation == _CONVERSE:
                self._converse(body, fault)
            else:
                self._apply_guardrail(target, version or "", body, fault)

    def do_GET(self) -> None:
        self._send_error("UnknownOperationException", 404, f"No operation at {self.command} {self.path}")

    do_PUT = do_DELETE = do_PATCH = do_GET

    # --- operations --------------------------------------------------------------------------------

    def _converse(self, body: dict[str, Any], fault: Fault) -> None:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            self._send_error("ValidationException", 400, "messages must contain at least one message.")
            return
        guardrail = body.get("guardrailConfig")
        if guardrail is not None and not (
            isinstance(guardrail, dict)
            and guardrail.get("guardrailIdentifier")
            and guardrail.get("guardrailVersion")
        ):
            self._send_error(
                "ValidationException", 400, "guardrailConfig needs guardrailIdentifier and guardrailVersion."
            )
            return

        stub = self.server.stub
        if fault.kind is FaultKind.SUCCESS and fault == Fault.success() and stub.emulator is not None:
            emulated = stub.emulator.converse(self._target, body)
            if emulated is not None:
                self._send_json(emulated)
                return
        input_texts = _texts(body.get("system")) + _texts(messages)
        input_chars = sum(len(t) for t in input_texts)
        input_tokens = max(1, sum(estimate_tokens(t) for t in input_texts))
        latency_ms = stub.default_latency_ms if fault.latency_ms is None else fault.latency_ms
        trace_on = isinstance(guardrail, dict) and guardrail.get("trace") in _TRACE_ON
        guardrail_id = str(guardrail.get("guardrailIdentifier")) if isinstance(guardrail, dict) else ""
        if isinstance(guardrail, dict) and fault.kind is FaultKind.SUCCESS:
            evaluated = _converse_guarded_texts(body)
            if stub._evaluate_guardrail(_CONVERSE, evaluated):
                fault = Fault.guardrail_intervened()

        trace: dict[str, Any]
        cache_read = cache_write = 0
        if fault.kind is FaultKind.GUARDRAIL_INTERVENED:
            text = fault.message or _DEFAULT_BLOCKED_MESSAGE
            in_tok = fault.input_tokens or 0
            out_tok = fault.output_tokens or 0
            stop_reason = "guardrail_intervened"
            trace = {
                "inputAssessment": {guardrail_id: _assessment(input_chars, blocked=True)},
                "actionReason": "Guardrail blocked.",
            }
        else:
            user_turns = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
            reply = "Stub reply: " + " ".join(_texts(user_turns[-1:]))
            text = reply if fault.text is None else fault.text
            prefix_key, prefix_tokens = _cached_prefix(body)
            if prefix_key is not None and prefix_tokens:
                if stub._cache_lookup(self._target, prefix_key):
                    cache_read = prefix_tokens
                else:
                    cache_write = prefix_tokens
            in_tok = (
                max(1, input_tokens - prefix_tokens) if fault.input_tokens is None else fault.input_tokens
            )
            cache_read = cache_read if fault.cache_read_tokens is None else fault.cache_read_tokens
            cache_write = cache_write if fault.cache_write_tokens is None else fault.cache_write_tokens
            stop_reason = "end_turn"
            if fault.output_tokens is not None:
                out_tok = fault.output_tokens
            else:
                out_tok = max(1, estimate_tokens(text))
                max_tokens = (body.get("inferenceConfig") or {}).get("maxTokens")
                if isinstance(max_tokens, int) and 0 < max_tokens < out_tok:
                    text, out_tok, stop_reason = text[: max_tokens * 4], max_tokens, "max_tokens"
            output_assessment = _assessment(len(text), blocked=False)
            trace = {
                "inputAssessment": {guardrail_id: _assessment(input_chars, blocked=False)},
                "outputAssessments": {guardrail_id: [output_assessment]},
            }
            masked = _mask(text, fault.masks) if isinstance(guardrail, dict) else None
            if masked is not None:  # the guardrail masked the answer (module docstring)
                text, output_assessment["sensitiveInformationPolicy"] = masked
                stop_reason = "guardrail_intervened"
                trace["actionReason"] = "Guardrail masked."
        usage: dict[str, int] = {
            "inputTokens": in_tok,
            "outputTokens": out_tok,
            "totalTokens": in_tok + out_tok + cache_read + cache_write,
        }
        if cache_read or cache_write:
            usage["cacheReadInputTokens"] = cache_read
            usage["cacheWriteInputTokens"] = cache_write
        response: dict[str, Any] = {
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": stop_reason,
            "usage": usage,
            "metrics": {"latencyMs": latency_ms},
        }
        if trace_on:
            response["trace"] = {"guardrail": trace}
        if latency_ms and self.server.stub._sleep(latency_ms / 1000):
            return
        self._send_json(response)

    def _apply_guardrail(self, guardrail_id: str, version: str, body: dict[str, Any], fault: Fault) -> None:
        content = body.get("content")
        if body.get("source") not in ("INPUT", "OUTPUT"):
            self._send_error("ValidationException", 400, "source must be INPUT or OUTPUT.")
            return
        if not isinstance(content, list) or not content:
            self._send_error("ValidationException", 400, "content must contain at least one block.")
            return
        stub = self.server.stub
        if fault.kind is FaultKind.SUCCESS and fault == Fault.success() and stub.emulator is not None:
            emulated = stub.emulator.apply_guardrail(guardrail_id, version, body)
            if emulated is not None:
                self._send_json(emulated)
                return
        evaluated = _texts([{"content": content}])
        chars = sum(len(t) for t in evaluated)
        flagged = fault.kind is FaultKind.SUCCESS and self.server.stub._evaluate_guardrail(
            _APPLY_GUARDRAIL, evaluated
        )
        blocked = flagged or fault.kind is FaultKind.GUARDRAIL_INTERVENED
        response: dict[str, Any] = {
            "usage": guardrail_usage(chars),
            "action": "GUARDRAIL_INTERVENED" if blocked else "NONE",
            "outputs": [{"text": fault.message or _DEFAULT_BLOCKED_MESSAGE}] if blocked else [],
            "assessments": [_assessment(chars, blocked=blocked)],
            "guardrailCoverage": {"textCharacters": {"guarded": chars, "total": chars}},
        }
        if blocked:
            response["actionReason"] = "Guardrail blocked."
        masked = [_mask(text, fault.masks) for text in evaluated]
        if any(masked):  # every text as it leaves, its findings in one assessment
            response["action"], response["actionReason"] = "GUARDRAIL_INTERVENED", "Guardrail masked."
            response["outputs"] = [{"text": m[0] if m else t} for m, t in zip(masked, evaluated, strict=True)]
            entities = [e for m in masked if m for e in m[1]["piiEntities"]]
            response["assessments"][0]["sensitiveInformationPolicy"] = {"piiEntities": entities}
        latency_ms = self.server.stub.default_latency_ms if fault.latency_ms is None else fault.latency_ms
        if latency_ms and self.server.stub._sleep(latency_ms / 1000):
            return
        self._send_json(response)

    # --- wire helpers ------------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-amzn-RequestId", self.server.stub._request_id())
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if not self._byte_interval_s:
            self.wfile.write(payload)
            return
        self.close_connection = True  # the client may give up mid-answer: this connection is not reused
        self.wfile.flush()  # the status line and headers now, then the body a byte at a time
        for byte in payload:
            if self.server.stub._sleep(self._byte_interval_s):
                return  # the stub is stopping
            self.wfile.write(bytes([byte]))
            self.wfile.flush()

    def _send_json(self, document: dict[str, Any]) -> None:
        self._send(200, json.dumps(document, separators=(",", ":")).encode())

    def _send_error(self, code: str, status: int, message: str) -> None:
        payload = json.dumps({"message": message}).encode()
        self._send(status, payload, {"x-amzn-ErrorType": code})

    def _reset_connection(self) -> None:
        """Abort the connection: SO_LINGER 0 makes close() send RST instead of FIN."""
        self.close_connection = True
        sock = self.connection
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # The file objects hold references to the socket; the descriptor only closes with the last one.
        self.rfile.close()
        self.wfile.close()
        sock.close()
        # The base class flushes and closes wfile after the handler returns; give it a harmless target.
        self.wfile = io.BytesIO()


def _texts(blocks_holder: Any) -> list[str]:
    """Text of ``[{"text": ...}]`` system blocks or of ``[{"role", "content": [...]}]`` messages."""
    out: list[str] = []
    if not isinstance(blocks_holder, list):
        return out
    for item in blocks_holder:
        if not isinstance(item, dict):
            continue
        if isinstance(item.get("text"), str):
            out.append(item["text"])
        content = item.get("content")
        if isinstance(content, list):
            for block in content:
                if not isinstance(block, dict):
                    continue
                text = block.get("text")
                if isinstance(text, dict):  # ApplyGuardrail: {"text": {"text": ...}}
                    text = text.get("text")
                if isinstance(text, str):
                    out.append(text)
                guard = block.get("guardContent")
                if isinstance(guard, dict) and isinstance(guard.get("text"), dict):
                    guarded = guard["text"].get("text")
                    if isinstance(guarded, str):
                        out.append(guarded)
    return out


def _blocks(holder: Any) -> list[dict[str, Any]]:
    """The content blocks of ``system`` (a block list) or ``messages`` (a list of messages), in order."""
    out: list[dict[str, Any]] = []
    for item in holder if isinstance(holder, list) else []:
        if not isinstance(item, dict):
            continue
        content = item.get("content")
        if isinstance(content, list):
            out.extend(block for block in content if isinstance(block, dict))
        else:
            out.append(item)
    return out


def _guard_text(block: dict[str, Any]) -> str | None:
    guard = block.get("guardContent")
    if isinstance(guard, dict) and isinstance(guard.get("text"), dict):
        text = guard["text"].get("text")
        return text if isinstance(text, str) else ""
    return None


def _converse_guarded_texts(body: dict[str, Any]) -> list[str]:
    """The texts Bedrock's guardrail evaluates in a Converse request (module docstring)."""
    blocks = _blocks(body.get("system")) + _blocks(body.get("messages"))
    guarded = [text for block in blocks if (text := _guard_text(block)) is not None]
    if guarded:
        return guarded
    return _texts(body.get("messages"))


def _cached_prefix(body: dict[str, Any]) -> tuple[str | None, int]:
    """(a key for the prefix up to the last ``cachePoint``, its tokens); (None, 0) without a cache point."""
    blocks = _blocks(body.get("system")) + _blocks(body.get("messages"))
    last = max((i for i, block in enumerate(blocks) if "cachePoint" in block), default=None)
    if last is None:
        return None, 0
    prefix = blocks[:last]
    texts = _texts([{"content": prefix}])
    return json.dumps(prefix, sort_keys=True), sum(estimate_tokens(t) for t in texts)


def guardrail_usage(chars: int) -> dict[str, int]:
    """ApplyGuardrail's ``usage``: every policy charged one text unit per started 1,000 characters."""
    units = math.ceil(chars / 1000)
    return {
        "topicPolicyUnits": units,
        "contentPolicyUnits": units,
        "wordPolicyUnits": units,
        "sensitiveInformationPolicyUnits": units,
        "sensitiveInformationPolicyFreeUnits": 0,
        "contextualGroundingPolicyUnits": 0,
    }


def _mask(text: str, masks: tuple[tuple[str, str], ...]) -> tuple[str, dict[str, Any]] | None:
    """``text`` with each match of ``masks`` found in it replaced by ``{<type>}``, and the
    ``sensitiveInformationPolicy`` assessment that reports them (action ANONYMIZED); ``None`` if none
    is found."""
    found = [(match, kind) for match, kind in masks if match in text]
    if not found:
        return None
    for match, kind in found:
        text = text.replace(match, "{" + kind + "}")
    entities = [{"match": m, "type": k, "action": "ANONYMIZED", "detected": True} for m, k in found]
    return text, {"piiEntities": entities}


def _assessment(chars: int, *, blocked: bool) -> dict[str, Any]:
    assessment: dict[str, Any] = {
        "invocationMetrics": {
            "guardrailProcessingLatency": 1,
            "usage": guardrail_usage(chars),
            "guardrailCoverage": {"textCharacters": {"guarded": chars, "total": chars}},
        }
    }
    if blocked:
        assessment["contentPolicy"] = {
            "filters": [
                {
                    "type": "VIOLENCE",
                    "confidence": "HIGH",
                    "filterStrength": "HIGH",
                    "action": "BLOCKED",
                    "detected": True,
                }
            ]
        }
    return assessment


class BedrockStub:
    """A local Bedrock Runtime endpoint; see the module docstring."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        default_latency_ms: int = 0,
        guardrail_triggers: tuple[str, ...] = (GUARDRAIL_TRIGGER,),
    ) -> None:
        if default_latency_ms < 0:
            raise ValueError("default_latency_ms must be >= 0")
        self.default_latency_ms = default_latency_ms
        self.guardrail_triggers = tuple(guardrail_triggers)
        #: Optional behaviour that replaces the default success (see "Emulator" in the module docstring).
        self.emulator: Emulator | None = None
        self._evaluations: list[tuple[str, tuple[str, ...], bool]] = []
        self._cache: set[tuple[str, str]] = set()
        self._address = (host, port)
        self._lock = threading.Lock()
        self._calls: list[RecordedCall] = []
        self._scripts: list[tuple[str | None, deque[Fault]]] = []
        self._connections: set[socket.socket] = set()
        self._request_counter = 0
        self._connections_accepted = 0
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("BedrockStub is already running")
        self._stopping.clear()
        self._server = _Server(self._address, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": POLL_INTERVAL_S},
            name="bedrock-stub",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()  # wakes handlers sleeping in read_timeout / latency
        server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:  # ends keep-alive handler threads blocked on reads
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("BedrockStub is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def client(self, *, attempts: int = 1, **config: Any) -> Any:
        """A boto3 ``bedrock-runtime`` client of this endpoint: us-east-1, fake credentials, botocore's
        standard retries making ``attempts`` attempts in all (one: no retry), and any other
        ``botocore.config.Config`` option (``read_timeout=...``)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "bedrock-runtime",
            region_name="us-east-1",
            endpoint_url=self.endpoint_url,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"mode": "standard", "total_max_attempts": attempts}, **config),
        )

    # --- test API ----------------------------------------------------------------------------------

    def script(self, match: str | None, faults: list[Fault]) -> None:
        """Queue ``faults`` for requests whose target contains ``match`` (``None``: every request)."""
        for fault in faults:
            if not isinstance(fault, Fault):
                raise TypeError(f"expected Fault, got {type(fault).__name__}")
        with self._lock:
            self._scripts.append((match, deque(faults)))

    @property
    def calls(self) -> list[RecordedCall]:
        with self._lock:
            return list(self._calls)

    @property
    def pending_faults(self) -> int:
        with self._lock:
            return sum(len(queue) for _, queue in self._scripts)

    @property
    def connections_accepted(self) -> int:
        """TCP connections accepted since start (shows whether clients reuse keep-alive connections)."""
        with self._lock:
            return self._connections_accepted

    @property
    def guardrail_evaluations(self) -> list[tuple[str, tuple[str, ...], bool]]:
        """``(operation, texts evaluated, flagged)`` per request the stub's guardrail evaluated."""
        with self._lock:
            return list(self._evaluations)

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._scripts.clear()
            self._evaluations.clear()
            self._cache.clear()

    # --- used by the handler -----------------------------------------------------------------------

    def _record(self, call: RecordedCall) -> None:
        with self._lock:
            self._calls.append(call)

    def _next_fault(self, target: str) -> Fault | None:
        with self._lock:
            for match, queue in self._scripts:
                if queue and (match is None or match in target):
                    return queue.popleft()
        return None

    def _evaluate_guardrail(self, operation: str, texts: list[str]) -> bool:
        flagged = any(trigger in text for text in texts for trigger in self.guardrail_triggers)
        with self._lock:
            self._evaluations.append((operation, tuple(texts), flagged))
        return flagged

    def _cache_lookup(self, target: str, prefix_key: str) -> bool:
        """True if the prefix is cached for ``target``; otherwise caches it and returns False."""
        with self._lock:
            if (target, prefix_key) in self._cache:
                return True
            self._cache.add((target, prefix_key))
            return False

    def _request_id(self) -> str:
        with self._lock:
            self._request_counter += 1
            return str(uuid.UUID(int=self._request_counter))

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
                self._connections_accepted += 1
            else:
                self._connections.discard(conn)

    def _sleep(self, seconds: float) -> bool:
        """Sleep; True when interrupted because the stub is stopping."""
        return self._stopping.wait(seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Local Amazon Bedrock Runtime stub endpoint.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency-ms", type=int, default=0, help="delay before each successful answer")
    args = parser.parse_args(argv)

    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    with BedrockStub(args.host, args.port, default_latency_ms=args.latency_ms) as stub:
        print(f"READY {stub.endpoint_url}", flush=True)
        while not done.wait(1.0):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
