"""Reading CloudFormation values: intrinsic functions, references, JSON built with ``Fn::Join``.

The gate's rules (:mod:`compliance.bedrock_rules`) and the review pack (:mod:`compliance.report`) read
templates through these helpers, so both see a value the same way.
"""

from __future__ import annotations

import json
import re
from typing import Any

_SUB_ANY = re.compile(r"\$\{([A-Za-z0-9:]+)(?:\.([A-Za-z0-9.]+))?\}")
_ESCAPE = re.compile(r"\\.")
#: Pseudo parameters whose value is the same every time the stack is created in the same place.
STABLE_PSEUDO_PARAMETERS = frozenset(
    {"AWS::AccountId", "AWS::Region", "AWS::Partition", "AWS::URLSuffix", "AWS::StackName", "AWS::NoValue"}
)


def is_true(value: Any) -> bool:
    """A CloudFormation boolean as CloudFormation reads it: ``true`` or the string ``"true"`` (any case)."""
    return str(value).lower() == "true"


def is_enabled(value: Any) -> bool:
    """A boolean that is true when left out (a guardrail filter's ``InputEnabled``, ...)."""
    return value is None or is_true(value)


def partition_of(region: str) -> str:
    """The AWS partition of ``region`` (``aws``, ``aws-cn``, ``aws-us-gov``)."""
    if region.startswith("cn-"):
        return "aws-cn"
    return "aws-us-gov" if region.startswith("us-gov-") else "aws"


def as_list(value: Any) -> list[Any]:
    """A CloudFormation "string or list" value as a list (``None`` becomes empty)."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def render_value(value: Any) -> str:
    """A CloudFormation value as a readable string: intrinsics become ``<Ref>`` placeholders."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((fn, arg),) = value.items()
        if fn == "Fn::Join":
            return str(arg[0]).join(render_value(v) for v in arg[1])
        if fn == "Ref":
            return f"<{arg}>"
        if fn == "Fn::GetAtt":
            return f"<{'.'.join(arg) if isinstance(arg, list) else arg}>"
        if fn == "Fn::Sub":
            return str(arg if isinstance(arg, str) else arg[0])
    return json.dumps(value, sort_keys=True)


def resolve_value(value: Any, *, account: str, region: str, partition: str = "aws") -> Any:
    """``value`` with the stack's pseudo parameters replaced by their values (``AWS::Partition`` is
    ``partition``), ``Fn::Join``/``Fn::Sub`` joined, and every other reference left as a ``<Ref>``
    placeholder (as :func:`render_value` writes it). Lists and mappings are resolved element-wise.

    This is what a policy evaluator needs: ``arn:${AWS::Partition}:cloudwatch:${AWS::Region}:...`` becomes
    the concrete ARN pattern IAM would see, while a resource's own ARN stays a stable placeholder.
    """
    pseudo = {
        "AWS::AccountId": account,
        "AWS::Region": region,
        "AWS::Partition": partition,
        "AWS::URLSuffix": "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com",
    }

    def resolve(node: Any) -> Any:
        if isinstance(node, list):
            return [resolve(child) for child in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((fn, arg),) = node.items()
            if fn == "Ref" and isinstance(arg, str):
                return pseudo.get(arg, f"<{arg}>")
            if fn == "Fn::GetAtt":
                return render_value(node)
            if fn == "Fn::Join" and isinstance(arg, list) and len(arg) == 2:
                parts = [resolve(part) for part in as_list(arg[1])]
                return str(arg[0]).join(p if isinstance(p, str) else render_value(p) for p in parts)
            if fn == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0]
                return _SUB_ANY.sub(
                    lambda m: (
                        pseudo.get(m.group(1))
                        or (f"<{m.group(1)}.{m.group(2)}>" if m.group(2) else f"<{m.group(1)}>")
                    ),
                    str(text),
                )
            if fn.startswith("Fn::"):
                return render_value(node)
        return {key: resolve(child) for key, child in node.items()}

    return resolve(value)


def _references(value: Any) -> set[str]:
    """Every name ``value`` references through ``Ref``, ``Fn::GetAtt`` or ``Fn::Sub``: logical IDs and
    pseudo parameters (``AWS::...``)."""
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
                    found.update(name for name, _ in _SUB_ANY.findall(str(text)))
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(value)
    return found


def referenced_ids(value: Any) -> set[str]:
    """Logical IDs that ``value`` references through ``Ref``, ``Fn::GetAtt`` or ``Fn::Sub``."""
    return {ref for ref in _references(value) if not ref.startswith("AWS::")}


def referenced_pseudo_parameters(value: Any) -> set[str]:
    """Pseudo parameters (``AWS::StackId``, ``AWS::Region`` ...) that ``value`` references."""
    return {ref for ref in _references(value) if ref.startswith("AWS::")}


def ref_target(value: Any) -> str | None:
    """The logical ID a single ``Ref`` or ``Fn::GetAtt`` points at, else ``None``."""
    if isinstance(value, dict) and len(value) == 1:
        ids = referenced_ids(value)
        if len(ids) == 1 and next(iter(value)) in ("Ref", "Fn::GetAtt"):
            return next(iter(ids))
    return None


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
    for part in as_list(parts):
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
