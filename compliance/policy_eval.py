"""Evaluate one request against one IAM policy document (a topic policy, a key policy, ...) offline.

No maintained Python library does this with conditions: moto's ``IAMPolicy`` matches only ``AWS``
principals and turns a failed condition into an explicit deny, and parliament, cloudsplaining and cfripper
lint policies without evaluating a request. So this module implements the part of the IAM policy
evaluation logic the gate needs, and refuses (``UnsupportedPolicy``) anything else instead of guessing:

- ``Effect`` ``Allow``/``Deny``; an explicit ``Deny`` wins, then any ``Allow``, else an implicit deny
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html);
- ``Principal`` ``"*"``, ``{"AWS": ...}`` (``"*"``, account IDs, ARNs) and ``{"Service": ...}``;
- ``Action``/``NotAction`` and ``Resource``/``NotResource`` with ``*`` and ``?`` wildcards (actions are
  case-insensitive);
- the condition operators ``StringEquals``, ``StringNotEquals``, ``StringEqualsIgnoreCase``,
  ``StringLike``, ``StringNotLike``, ``ArnEquals``, ``ArnLike``, ``ArnNotEquals``, ``ArnNotLike`` and
  ``Bool``, each with ``...IfExists``. Several values of one key match if any does; several keys and
  operators must all hold. A key missing from the request fails a positive operator (unless
  ``IfExists``) and satisfies a negated one
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).
  Condition key names are case-insensitive, as in IAM.

Values must be plain strings: resolve a template's intrinsics first (:func:`compliance.cfn_values.resolve_value`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from compliance.cfn_values import as_list


class UnsupportedPolicy(ValueError):
    """The policy uses an element or operator this evaluator does not implement."""


class Decision(StrEnum):
    ALLOW = "Allow"
    EXPLICIT_DENY = "ExplicitDeny"
    IMPLICIT_DENY = "ImplicitDeny"


@dataclass(frozen=True)
class Request:
    """What a caller asks for: ``principal`` is ``("Service", "cloudwatch.amazonaws.com")`` or
    ``("AWS", "<account id or ARN>")``; ``context`` holds the condition keys the request carries."""

    principal: tuple[str, str]
    action: str
    resource: str
    context: Mapping[str, str | Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Evaluation:
    decision: Decision
    #: The Sid (or index) of every statement that matched, Deny statements first.
    matched: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOW


_STRING_OPERATORS = {
    "StringEquals": (False, False, False),  # (negated, like, ignore case)
    "StringNotEquals": (True, False, False),
    "StringEqualsIgnoreCase": (False, False, True),
    "StringNotEqualsIgnoreCase": (True, False, True),
    "StringLike": (False, True, False),
    "StringNotLike": (True, True, False),
    "ArnEquals": (False, False, False),
    "ArnLike": (False, True, False),
    "ArnNotEquals": (True, False, False),
    "ArnNotLike": (True, True, False),
}


@functools.cache
def _wildcard(pattern: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    """The compiled pattern of an IAM wildcard (``*`` any run, ``?`` one character), built once per
    pattern: the role-coverage tests evaluate thousands of requests against the same few hundred
    patterns, and building each anew (a character at a time) was most of their evaluation time."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def _text(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if not isinstance(value, str):
        raise UnsupportedPolicy(f"{where}: {value!r} is not a plain string; resolve intrinsics first")
    return value


def _principal_matches(principal: Any, request: Request) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        raise UnsupportedPolicy(f"Principal {principal!r} is not '*' or a mapping")
    kind, who = request.principal
    for key, values in principal.items():
        if key not in ("AWS", "Service"):
            raise UnsupportedPolicy(f"Principal type {key!r} is not supported")
        for value in as_list(values):
            text = _text(value, f"Principal.{key}")
            if key == "AWS" and text == "*":
                return True
            if key == kind == "Service" and text == who:
                return True
            if key == kind == "AWS":
                account = re.fullmatch(r"(\d{12})|arn:[^:]+:iam::(\d{12}):root", text)
                if text == who or (
                    account and (account.group(1) or account.group(2)) in (who, _account(who))
                ):
                    return True
    return False


def _account(arn_or_account: str) -> str:
    parts = arn_or_account.split(":")
    return parts[4] if len(parts) > 4 else arn_or_account


def _matches_any(patterns: Any, value: str, where: str, *, ignore_case: bool) -> bool:
    return any(
        _wildcard(_text(p, where), ignore_case=ignore_case).match(value) is not None
        for p in as_list(patterns)
    )


def _condition_holds(conditions: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
    lowered = {key.lower(): value for key, value in context.items()}
    for operator, keys in conditions.items():
        base, if_exists = (
            (operator[: -len("IfExists")], True) if operator.endswith("IfExists") else (operator, False)
        )
        if ":" in base:
            raise UnsupportedPolicy(f"condition set operator {operator!r} is not supported")
        if not isinstance(keys, dict):
            raise UnsupportedPolicy(f"condition {operator!r} is not a mapping of keys to values")
        for key, expected in keys.items():
            actual = lowered.get(key.lower())
            if actual is None:
                if if_exists:
                    continue
                if base in _STRING_OPERATORS and _STRING_OPERATORS[base][0]:
                    continue  # a missing key "does not equal" anything
                return False
            actual_values = [_text(v, key) for v in as_list(actual)]
            wanted = [_text(v, f"{operator}.{key}") for v in as_list(expected)]
            if base == "Bool":
                if not any(a.lower() == w.lower() for a in actual_values for w in wanted):
                    return False
                continue
            if base not in _STRING_OPERATORS:
                raise UnsupportedPolicy(f"condition operator {operator!r} is not supported")
            negated, like, ignore_case = _STRING_OPERATORS[base]
            if like:
                hit = any(
                    _wildcard(w, ignore_case=ignore_case).match(a) for a in actual_values for w in wanted
                )
            elif ignore_case:
                hit = any(a.lower() == w.lower() for a in actual_values for w in wanted)
            else:
                hit = any(a == w for a in actual_values for w in wanted)
            if hit == negated:
                return False
    return True


def _statement_applies(statement: Mapping[str, Any], request: Request) -> bool:
    if "NotPrincipal" in statement:
        raise UnsupportedPolicy("NotPrincipal is not supported")
    if "Principal" in statement and not _principal_matches(statement["Principal"], request):
        return False
    if "NotAction" in statement:
        if _matches_any(statement["NotAction"], request.action, "NotAction", ignore_case=True):
            return False
    elif not _matches_any(statement.get("Action"), request.action, "Action", ignore_case=True):
        return False
    if "NotResource" in statement:
        if _matches_any(statement["NotResource"], request.resource, "NotResource", ignore_case=False):
            return False
    elif "Resource" in statement and not _matches_any(
        statement["Resource"], request.resource, "Resource", ignore_case=False
    ):
        return False
    return _condition_holds(statement.get("Condition") or {}, request.context)


def evaluate(document: Mapping[str, Any], request: Request) -> Evaluation:
    """The decision of ``document`` alone for ``request`` (no other policy types are considered)."""
    allows: list[str] = []
    denies: list[str] = []
    for index, statement in enumerate(as_list(document.get("Statement"))):
        if not isinstance(statement, dict):
            raise UnsupportedPolicy(f"statement {index} is not a mapping")
        if _statement_applies(statement, request):
            label = str(statement.get("Sid") or f"#{index}")
            effect = statement.get("Effect")
            if effect == "Deny":
                denies.append(label)
            elif effect == "Allow":
                allows.append(label)
            else:
                raise UnsupportedPolicy(f"statement {label}: Effect {effect!r}")
    if denies:
        return Evaluation(Decision.EXPLICIT_DENY, tuple(denies))
    if allows:
        return Evaluation(Decision.ALLOW, tuple(allows))
    return Evaluation(Decision.IMPLICIT_DENY)
