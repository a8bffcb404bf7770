"""Reading CloudFormation values: intrinsic functions, references, JSON built with ``Fn::Join``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from compliance.bedrock_rules import as_list, render_value

__all__ = [
    "as_list",
    "is_unrestricted",
    "is_wildcard",
    "parse_joined_json",
    "ref_target",
    "referenced_ids",
    "render_value",
]

_SUB_REFERENCE = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}")
_ESCAPE = re.compile(r"\\.")


def referenced_ids(value: Any) -> set[str]:
    """Logical IDs that ``value`` references through ``Ref``, ``Fn::GetAtt`` or ``Fn::Sub``."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if len(node) == 1:
                ((fn, arg),) = node.items()
                if fn == "Ref" and isinstance(arg, str):
                    found.add(arg)
                    return
                if fn == "Fn::GetAtt":
                    target = arg[0] if isinstance(arg, list) else str(arg).split(".", 1)[0]
                    found.add(str(target))
                    return
                if fn == "Fn::Sub":
                    text = arg if isinstance(arg, str) else arg[0]
                    found.update(_SUB_REFERENCE.findall(str(text)))
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(value)
    return {ref for ref in found if not ref.startswith("AWS::")}


def ref_target(value: Any) -> str | None:
    """The logical ID a single ``Ref`` or ``Fn::GetAtt`` points at, else ``None``."""
    if isinstance(value, dict) and len(value) == 1:
        ids = referenced_ids(value)
        if len(ids) == 1 and next(iter(value)) in ("Ref", "Fn::GetAtt"):
            return next(iter(ids))
    return None


def is_wildcard(text: str) -> bool:
    return "*" in text


def is_unrestricted(action: str, resource: str | None = None) -> bool:
    """``*`` on its own, a whole-service action (``s3:*``) or every resource (``*``)."""
    return action == "*" or action.endswith(":*") or resource == "*"


def _tokens(value: Any) -> Iterator[Any]:
    yield from as_list(value)


def parse_joined_json(value: Any) -> tuple[Any, dict[str, set[str]]]:
    """Parse JSON that CDK serialized into a template string, possibly an ``Fn::Join`` with tokens.

    Every token (``Ref``, ``Fn::GetAtt`` ...) is replaced by its rendered placeholder, e.g.
    ``<InvocationLoggingBucketF12B4122>``, so the result is plain JSON data. Also returns, for every
    placeholder, the logical IDs it references. Raises ``ValueError`` when the text is not JSON.
    """
    if isinstance(value, str):
        return json.loads(value), {}
    if not (isinstance(value, dict) and set(value) == {"Fn::Join"}):
        raise ValueError(f"not a JSON string or Fn::Join: {render_value(value)[:80]}")
    delimiter, parts = value["Fn::Join"]
    placeholders: dict[str, Any] = {}
    pieces: list[str] = []
    for part in _tokens(parts):
        if isinstance(part, str):
            pieces.append(part)
            continue
        marker = f"@@token{len(placeholders)}@@"
        placeholders[marker] = part
        previous = delimiter.join(pieces)
        # A token inside a JSON string literal follows an opening quote; elsewhere it stands for a value.
        inside_string = _ESCAPE.sub("", previous).count('"') % 2 == 1
        pieces.append(marker if inside_string else f'"{marker}"')
    data = json.loads(delimiter.join(pieces))
    refs = {render_value(token): referenced_ids(token) for token in placeholders.values()}

    def restore(node: Any) -> Any:
        if isinstance(node, str):
            for marker, token in placeholders.items():
                if marker in node:
                    node = node.replace(marker, render_value(token))
            return node
        if isinstance(node, list):
            return [restore(child) for child in node]
        if isinstance(node, dict):
            return {key: restore(child) for key, child in node.items()}
        return node

    return restore(data), refs
