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
6. Characters: C0/C1 controls other than tab, LF and CR, zero-width characters (U+200B-U+200D, U+2060,
   U+FEFF, ...), the soft hyphen, bidi embedding/override/isolate controls, Unicode tag characters
   (U+E0000-U+E007F, used to smuggle invisible instructions) and lone surrogates are REJECTED, never
   stripped: silently editing a caller's text changes its meaning and hides the attempt, and these
   characters are how word filters and denied-topic checks get bypassed. ``field`` names the message
   index, e.g. ``messages[2].content``. CR is allowed because pasted e-mail and ticket text has CRLF.
   Emoji ZWJ sequences are rejected too (a documented cost of the rule).
7. Estimated input tokens, ``ceil(characters of all messages and context / 4)``, at most the use case's
   ``max_input_tokens`` -> else 413 ``INPUT_TOO_LARGE``. The system prompt is not counted: it is the
   platform's, not the caller's.

Prompt-injection text is not rejected here: it is valid input. It reaches Bedrock only inside
``guardContent`` blocks (where the guardrail's prompt-attack filter sees it), and the system prompt,
model and limits are never taken from the request.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
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
)
from platform_spec.contract import CallerHistory

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

# Allowed controls: \t \n \r. Everything else listed here is rejected (see rule 6 above).
_DISALLOWED_CHARS: Final = re.compile(
    "["
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"  # C0 (but tab, LF, CR), DEL, C1
    "\u00ad"  # soft hyphen
    "\u061c"  # Arabic letter mark
    "\u180e"  # Mongolian vowel separator
    "\u200b-\u200f"  # zero-width space/non-joiner/joiner, LRM, RLM
    "\u202a-\u202e"  # bidi embeddings and overrides
    "\u2060-\u2064"  # word joiner, invisible operators
    "\u2066-\u206f"  # bidi isolates, deprecated format characters
    "\ufeff"  # zero-width no-break space / BOM
    "\ufff9-\ufffb"  # interlinear annotation
    "\U000e0000-\U000e007f"  # Unicode tag characters
    "\ud800-\udfff"  # lone surrogates (JSON "\\ud800")
    "]"
)
_IDEMPOTENCY_KEY: Final = re.compile(r"^[\x21-\x7e]{1,255}$")
_NORMALIZE: Final = re.compile(r"[^a-z0-9]")
_MAX_FIELD_ECHO: Final = 64


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
        return math.ceil(self.input_chars / CHARS_PER_TOKEN)


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """Case-insensitive header lookup (API Gateway REST passes names as the client sent them)."""
    if not headers:
        return None
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def parse_idempotency_key(headers: Mapping[str, str] | None) -> str | None:
    value = header(headers, IDEMPOTENCY_KEY_HEADER)
    if value is None:
        return None
    if not _IDEMPOTENCY_KEY.match(value):
        raise ApiError(
            "INVALID_IDEMPOTENCY_KEY",
            f"{IDEMPOTENCY_KEY_HEADER} must be 1 to 255 visible ASCII characters.",
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


def _check_content_type(value: str | None) -> None:
    media_type, _, params = (value or "").partition(";")
    ok = media_type.strip().lower() == "application/json"
    for param in params.split(";"):
        name, _, param_value = param.partition("=")
        if name.strip().lower() == "charset" and param_value.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            ok = False
    if not ok:
        raise ApiError(
            "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json.", field="Content-Type"
        )


def _body_bytes(body: str | None, is_base64_encoded: bool) -> bytes:
    if body is None:
        raise ApiError("INVALID_JSON", "The request body is empty.", field=None)
    if is_base64_encoded:
        if len(body) > (MAX_BODY_BYTES * 4) // 3 + 4:
            raise _too_large()
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ApiError("INVALID_JSON", "The request body is not valid base64.", field=None) from exc
    else:
        if len(body) > MAX_BODY_BYTES:  # characters <= bytes: cheap early exit before encoding
            raise _too_large()
        raw = body.encode("utf-8", "surrogatepass")
    if len(raw) > MAX_BODY_BYTES:
        raise _too_large()
    return raw


def _too_large() -> ApiError:
    return ApiError("PAYLOAD_TOO_LARGE", f"The body must be at most {MAX_BODY_BYTES} bytes.", field=None)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise ApiError("DUPLICATE_FIELD", "A JSON object has the same key twice.", field=_echo(key))
        document[key] = value
    return document


def _parse_json(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError("INVALID_JSON", "The request body is not UTF-8.", field=None) from exc
    if not text.strip():
        raise ApiError("INVALID_JSON", "The request body is empty.", field=None)
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except RecursionError as exc:
        raise ApiError("INVALID_JSON", "The request body is nested too deeply.", field=None) from exc
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        raise ApiError("INVALID_JSON", "The request body is not valid JSON.", field=None) from exc


def _normalize(name: str) -> str:
    return _NORMALIZE.sub("", name.lower())


def _echo(name: str) -> str:
    """A caller-supplied key, made safe to put in an error body."""
    printable = "".join(ch if ch.isprintable() and not _DISALLOWED_CHARS.match(ch) else "?" for ch in name)
    return printable[:_MAX_FIELD_ECHO]


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
        raise ApiError(
            "UNKNOWN_FIELD",
            f"Unknown field. Allowed fields: {', '.join(sorted(allowed))}.",
            field=prefix + _echo(unknown[0]),
        )


def _check_characters(text: str, field: str) -> None:
    if _DISALLOWED_CHARS.search(text):
        raise ApiError(
            "INVALID_CHARACTERS",
            "The text contains control, zero-width, bidi-override or other invisible characters.",
            field=field,
        )


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
