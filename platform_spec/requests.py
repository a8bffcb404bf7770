"""Strict JSON request bodies, for every function behind the API (standard library only).

The orchestrator's validation (``lambdas/orchestrator/validation.py``) and the reviewer API read bodies
the same way: ``Content-Type`` application/json (charset utf-8), at most 256 KiB, UTF-8 JSON with no
duplicate keys and no NaN/Infinity, and text without control, zero-width, bidi-override, tag or other
invisible (default-ignorable) characters (rejected, never stripped). Failures are :class:`~platform_spec.api.ApiError` with the codes
of :data:`~platform_spec.api.ERRORS`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any, Final

from platform_spec.api import MAX_BODY_BYTES, ApiError

#: How much of a caller-supplied key an error body repeats.
MAX_FIELD_ECHO: Final = 64

# Allowed controls: \t \n \r. Everything else listed here is rejected (see rule 6 above). Besides the
# controls and lone surrogates, this is Unicode's Default_Ignorable_Code_Point set (characters that render
# as nothing: https://www.unicode.org/reports/tr44/#Default_Ignorable_Code_Point, listed in
# https://www.unicode.org/Public/UCD/latest/ucd/DerivedCoreProperties.txt) but U+FE0E and U+FE0F, the
# text/emoji presentation selectors that common emoji carry (U+2764 U+FE0F): one of them is allowed after a
# character (:data:`SELECTOR_RUN` refuses any other).
DISALLOWED_CHARS: Final = re.compile(
    "["
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"  # C0 (but tab, LF, CR), DEL, C1
    "\u00ad"  # soft hyphen
    "\u034f"  # combining grapheme joiner (splits a word with no visible mark)
    "\u061c"  # Arabic letter mark
    "\u115f\u1160\u3164\uffa0"  # Hangul fillers (render as blanks)
    "\u17b4\u17b5"  # Khmer inherent vowels
    "\u180b-\u180f"  # Mongolian free variation selectors, vowel separator
    "\u200b-\u200f"  # zero-width space/non-joiner/joiner, LRM, RLM
    "\u202a-\u202e"  # bidi embeddings and overrides
    "\u2060-\u206f"  # word joiner, invisible operators, bidi isolates, deprecated format characters
    "\ufe00-\ufe0d"  # variation selectors 1-14 (15 and 16 are the presentation selectors: SELECTOR_RUN)
    "\ufeff"  # zero-width no-break space / BOM
    "\ufff0-\ufffb"  # unassigned specials, interlinear annotation
    "\U0001bca0-\U0001bca3"  # shorthand format controls
    "\U0001d173-\U0001d17a"  # musical symbol format controls
    "\U000e0000-\U000e0fff"  # Unicode tag characters, variation selectors 17-256, reserved
    "\ud800-\udfff"  # lone surrogates (JSON "\\ud800")
    "]"
)
#: A presentation selector (U+FE0E, U+FE0F) that does not follow a character it can select: at the start of
#: the text, or after another selector. Runs of selectors carry hidden data, as tag characters do (one
#: selector per bit, or per byte with the variation selectors refused above), and Unicode applies at most one.
SELECTOR_RUN: Final = re.compile("(?:^|[\ufe0e\ufe0f])[\ufe0e\ufe0f]")


def check_content_type(value: str | None) -> None:
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


def body_bytes(body: str | None, is_base64_encoded: bool) -> bytes:
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


class _NotANumber(ValueError):
    """``NaN``, ``Infinity`` or ``-Infinity``: Python's json module reads them, JSON (RFC 8259) has none."""


def _reject_constant(name: str) -> Any:
    raise _NotANumber(f"{name} is not a JSON number (JSON has no NaN or Infinity): send a finite number")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise ApiError("DUPLICATE_FIELD", "A JSON object has the same key twice.", field=echo(key))
        document[key] = value
    return document


def parse_json(raw: bytes) -> Any:
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
    except json.JSONDecodeError as exc:  # the json module's own reason and position: no caller text
        raise ApiError(
            "INVALID_JSON",
            f"The request body is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.",
            field=None,
        ) from exc
    except _NotANumber as exc:
        raise ApiError("INVALID_JSON", f"The request body is not valid JSON: {exc}.", field=None) from exc
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits (sys.set_int_max_str_digits)
        raise ApiError("INVALID_JSON", "The request body is not valid JSON.", field=None) from exc


def echo(name: str) -> str:
    """A caller-supplied key, made safe to put in an error body."""
    printable = "".join(ch if ch.isprintable() and not DISALLOWED_CHARS.match(ch) else "?" for ch in name)
    return printable[:MAX_FIELD_ECHO]


def unknown_field(unknown: str, allowed: frozenset[str], *, prefix: str = "") -> ApiError:
    """``UNKNOWN_FIELD`` for the first field a request does not define: the allowed ones, and the closest
    of them when the name looks like a typo of one (``mesages``). The suggestion is one of the API's own
    field names, never the caller's text (which only the ``field`` echo carries, made safe)."""
    import difflib  # only on this error path: the handlers' import (the cold start) stays as it was

    close = difflib.get_close_matches(unknown, sorted(allowed), n=1)
    hint = f" Did you mean {close[0]}?" if close else ""
    return ApiError(
        "UNKNOWN_FIELD",
        f"Unknown field.{hint} Allowed fields: {', '.join(sorted(allowed))}.",
        field=prefix + echo(unknown),
    )


def check_characters(text: str, field: str) -> None:
    if DISALLOWED_CHARS.search(text) or SELECTOR_RUN.search(text):
        raise ApiError(
            "INVALID_CHARACTERS",
            "The text contains control, zero-width, bidi-override or other invisible characters.",
            field=field,
        )
