"""Validation of ``POST /use-cases/{useCaseId}/invoke`` requests (standard library only, no pydantic).

Body: ``{"messages": [{"role": "user" | "assistant", "content": "<text>"}, ...], "context": "<text>"}``.

Rules, in the order they are checked (the first failure is returned):

1. ``Content-Type`` is ``application/json`` (a ``charset`` parameter, if any, is utf-8) -> else 415.
2. The body is at most 256 KiB (after base64 decoding) -> else 413 ``PAYLOAD_TOO_LARGE``.
3. UTF-8 JSON object, no duplicate keys, no NaN/Infinity, not absurdly nested -> else 400.
4. Fields that would choose the model, system prompt, token cap, guardrail, tools or inference settings
   are ``FORBIDDEN_FIELD`` (matched case- and separator-insensitively: ``max_tokens`` = ``maxTokens``),
   at the top level and inside messages. Any other unknown field is ``UNKNOWN_FIELD``.
5. ``messages``: 1..40 objects with exactly ``role`` and ``content``; roles alternate starting and ending
   with ``user``; content is a non-blank string of at most 64,000 characters. An ``assistant`` turn is
   history the caller wrote: a use case whose contract says ``conversation.caller_history: refuse`` (the
   default) answers 400 ``CALLER_HISTORY_REFUSED`` naming the first one; with ``guard`` the handler has
   the guardrail check them. ``context``: optional non-blank string of at most 200,000 characters;
   required when the use case has contextual grounding.
6. Characters: C0/C1 controls other than tab, LF and CR, lone surrogates, and every invisible
   (Unicode default-ignorable) character are REJECTED, never stripped: zero-width characters (U+200B-U+200D,
   U+2060, U+FEFF, ...), the soft hyphen, the combining grapheme joiner, bidi embedding/override/isolate
   controls, Hangul fillers, Unicode tag characters (U+E0000-U+E007F) and variation selectors (used to
   smuggle invisible instructions, a byte or a bit per character), with one exception: a single text or
   emoji presentation selector (U+FE0E, U+FE0F) after a character, as common emoji carry it
   (``platform_spec.requests.DISALLOWED_CHARS``, ``SELECTOR_RUN``). Silently editing a caller's text
   changes its meaning and hides the attempt, and these characters are how word filters and denied-topic
   checks get bypassed. ``field`` names the message index, e.g. ``messages[2].content``. CR is allowed
   because pasted e-mail and ticket text has CRLF. Emoji ZWJ sequences are rejected too (a documented cost
   of the rule).
7. Estimated input tokens of all messages and context (``platform_spec.api.estimated_tokens``, by script:
   English 4 characters a token, other alphabets 3, combining marks, symbols, emoji and CJK 1), at most the use case's
   ``max_input_tokens`` -> else 413 ``INPUT_TOO_LARGE``. The system prompt is not counted: it is the
   platform's, not the caller's.

Prompt-injection text is not rejected here: it is valid input. It reaches Bedrock only inside
``guardContent`` blocks (where the guardrail's prompt-attack filter sees it), and the system prompt,
model and limits are never taken from the request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from platform_spec.api import (
    CHARS_PER_TOKEN,
    IDEMPOTENCY_KEY_HEADER,
    MAX_BODY_BYTES,
    MAX_CONTEXT_CHARS,
    MAX_MESSAGE_CHARS,
    MAX_MESSAGES,
    ROLES,
    estimated_tokens,
)
from platform_spec.contract import CallerHistory
from platform_spec.requests import body_bytes as _body_bytes
from platform_spec.requests import check_characters as _check_characters
from platform_spec.requests import check_content_type as _check_content_type
from platform_spec.requests import echo as _echo
from platform_spec.requests import parse_json as _parse_json
from platform_spec.requests import unknown_field as _unknown_field

from .errors import ApiError
from .runtime_config import UseCase

__all__ = [
    "CHARS_PER_TOKEN",
    "MAX_BODY_BYTES",
    "MAX_CONTEXT_CHARS",
    "MAX_MESSAGES",
    "MAX_MESSAGE_CHARS",
    "ROLES",
    "InvokeRequest",
    "parse_idempotency_key",
    "parse_invoke_request",
]

ALLOWED_FIELDS: Final = frozenset({"messages", "context"})
MESSAGE_FIELDS: Final = frozenset({"role", "content"})

#: Normalized names (lower case, letters and digits only) of fields a caller may never set.
FORBIDDEN_FIELDS: Final = frozenset(
    {
        # model / route
        "modelid", "model", "modelarn", "modelname", "inferenceprofile", "inferenceprofileid",
        "inferenceprofilearn", "profileid", "route", "fallback",
        # system prompt / prompt management
        "system", "systemprompt", "systemmessage", "instructions", "promptversion", "prompttemplate",
        "promptvariables", "promptid",
        # token cap and inference parameters
        "maxtokens", "maxoutputtokens", "maxtokenstosample", "maxcompletiontokens", "inferenceconfig",
        "temperature", "topp", "topk", "stopsequences", "stop",
        # guardrail
        "guardrail", "guardrails", "guardrailconfig", "guardrailidentifier", "guardrailid",
        "guardrailversion", "guardcontent", "trace",
        # tools and raw model fields
        "toolconfig", "tools", "toolchoice", "functions", "tooluse", "toolresult",
        "additionalmodelrequestfields", "additionalmodelresponsefieldpaths",
        # other Converse request members
        "requestmetadata", "performanceconfig", "servicetier", "outputconfig", "cachepoint",
    }
)  # fmt: skip

_IDEMPOTENCY_KEY: Final = re.compile(r"^[\x21-\x7e]{1,255}$")
_NORMALIZE: Final = re.compile(r"[^a-z0-9]")


@dataclass(frozen=True, slots=True)
class Message:
    role: str
    content: str


@dataclass(frozen=True, slots=True)
class InvokeRequest:
    messages: tuple[Message, ...]
    context: str | None
    input_chars: int

    @property
    def estimated_input_tokens(self) -> int:
        """``platform_spec.api.estimated_tokens`` of every message and the context."""
        return sum(estimated_tokens(m.content) for m in self.messages) + estimated_tokens(self.context or "")


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """Case-insensitive header lookup (API Gateway REST passes names as the client sent them)."""
    if not headers:
        return None
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def parse_idempotency_key(headers: Mapping[str, str] | None, use_case: UseCase) -> str | None:
    """The ``Idempotency-Key`` header, ``None`` without one. 400 ``INVALID_IDEMPOTENCY_KEY`` if it is not
    1-255 visible ASCII characters; 400 ``IDEMPOTENCY_KEY_REFUSED`` for a use case whose contract forbids
    storing text (``logging.prompts_and_responses: false``): a replay is the stored answer, model output
    that would sit in the idempotency table."""
    value = header(headers, IDEMPOTENCY_KEY_HEADER)
    if value is None:
        return None
    if not _IDEMPOTENCY_KEY.match(value):
        raise ApiError(
            "INVALID_IDEMPOTENCY_KEY",
            f"{IDEMPOTENCY_KEY_HEADER} must be 1 to 255 visible ASCII characters.",
            field=IDEMPOTENCY_KEY_HEADER,
        )
    if not use_case.log_prompts_and_responses:
        raise ApiError(
            "IDEMPOTENCY_KEY_REFUSED",
            f"Use case {use_case.id!r} does not accept the {IDEMPOTENCY_KEY_HEADER} header: replaying a "
            "request means storing its answer, and this use case's contract forbids storing answers "
            f"(logging.prompts_and_responses is false). Send the request without {IDEMPOTENCY_KEY_HEADER}.",
            field=IDEMPOTENCY_KEY_HEADER,
        )
    return value


def parse_invoke_request(
    *,
    headers: Mapping[str, str] | None,
    body: str | None,
    is_base64_encoded: bool,
    use_case: UseCase,
) -> InvokeRequest:
    """Validate an invoke request against the API and the use case's limits, or raise ``ApiError``."""
    _check_content_type(header(headers, "Content-Type"))
    raw = _body_bytes(body, is_base64_encoded)
    document = _parse_json(raw)
    if not isinstance(document, dict):
        raise ApiError("INVALID_REQUEST", "The body must be a JSON object.", field=None)
    _check_fields(document, ALLOWED_FIELDS, prefix="")

    messages = _parse_messages(document.get("messages"))
    _check_caller_history(messages, use_case)
    context = _parse_context(document, use_case)
    input_chars = sum(len(m.content) for m in messages) + len(context or "")
    request = InvokeRequest(messages=messages, context=context, input_chars=input_chars)
    if request.estimated_input_tokens > use_case.contract.limits.max_input_tokens:
        raise ApiError(
            "INPUT_TOO_LARGE",
            f"The input is about {request.estimated_input_tokens} tokens; this use case accepts at most "
            f"{use_case.contract.limits.max_input_tokens}.",
            field="messages",
        )
    return request


def _normalize(name: str) -> str:
    return _NORMALIZE.sub("", name.lower())


def _check_fields(document: dict[str, Any], allowed: frozenset[str], *, prefix: str) -> None:
    unknown = [key for key in document if key not in allowed]
    for key in unknown:
        if _normalize(key) in FORBIDDEN_FIELDS:
            raise ApiError(
                "FORBIDDEN_FIELD",
                "This field is set by the platform for the use case and cannot be chosen by the caller.",
                field=prefix + _echo(key),
            )
    if unknown:
        raise _unknown_field(unknown[0], allowed, prefix=prefix)


def _parse_messages(value: Any) -> tuple[Message, ...]:
    if value is None:
        raise ApiError("INVALID_REQUEST", "messages is required.", field="messages")
    if not isinstance(value, list) or not value:
        raise ApiError("INVALID_REQUEST", "messages must be a non-empty list.", field="messages")
    if len(value) > MAX_MESSAGES:
        raise ApiError("INVALID_REQUEST", f"At most {MAX_MESSAGES} messages are allowed.", field="messages")
    messages: list[Message] = []
    for index, item in enumerate(value):
        where = f"messages[{index}]"
        if not isinstance(item, dict):
            raise ApiError("INVALID_REQUEST", "Each message must be an object.", field=where)
        _check_fields(item, MESSAGE_FIELDS, prefix=f"{where}.")
        role = item.get("role")
        if role not in ROLES:
            raise ApiError("INVALID_REQUEST", "role must be 'user' or 'assistant'.", field=f"{where}.role")
        expected = ROLES[index % 2]
        if role != expected:
            raise ApiError(
                "INVALID_REQUEST",
                "Roles must alternate, starting with 'user'.",
                field=f"{where}.role",
            )
        content = item.get("content")
        if not isinstance(content, str):
            raise ApiError(
                "INVALID_REQUEST",
                "content must be a string (content blocks are not accepted).",
                field=f"{where}.content",
            )
        if not content.strip():
            raise ApiError("INVALID_REQUEST", "content must not be blank.", field=f"{where}.content")
        if len(content) > MAX_MESSAGE_CHARS:
            raise ApiError(
                "INVALID_REQUEST",
                f"content must be at most {MAX_MESSAGE_CHARS} characters.",
                field=f"{where}.content",
            )
        _check_characters(content, f"{where}.content")
        messages.append(Message(role=role, content=content))
    if messages[-1].role != "user":
        raise ApiError(
            "INVALID_REQUEST",
            "The last message must be from the user.",
            field=f"messages[{len(messages) - 1}]",
        )
    return tuple(messages)


def _check_caller_history(messages: tuple[Message, ...], use_case: UseCase) -> None:
    if use_case.contract.conversation.caller_history is CallerHistory.GUARD:
        return
    for index, message in enumerate(messages):
        if message.role == "assistant":
            raise ApiError(
                "CALLER_HISTORY_REFUSED",
                "This use case accepts no conversation history: send only the current user message "
                "(one message with role 'user').",
                field=f"messages[{index}].role",
            )


def _parse_context(document: dict[str, Any], use_case: UseCase) -> str | None:
    if "context" not in document:
        if use_case.contract.guardrail.grounded:
            raise ApiError(
                "INVALID_REQUEST",
                "This use case answers only from supplied source text: context is required.",
                field="context",
            )
        return None
    context = document["context"]
    if not isinstance(context, str) or not context.strip():
        raise ApiError("INVALID_REQUEST", "context must be a non-blank string.", field="context")
    if len(context) > MAX_CONTEXT_CHARS:
        raise ApiError(
            "INVALID_REQUEST", f"context must be at most {MAX_CONTEXT_CHARS} characters.", field="context"
        )
    _check_characters(context, "context")
    return context
