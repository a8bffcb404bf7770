"""Reading CloudFormation values for the review pack: the shared helpers of :mod:`compliance.cfn_values` and
two wildcard tests."""

from __future__ import annotations

from compliance.cfn_values import (
    as_list,
    is_enabled,
    is_true,
    parse_joined_json,
    ref_target,
    referenced_ids,
    render_value,
)

__all__ = [
    "as_list",
    "is_enabled",
    "is_true",
    "is_unrestricted",
    "is_wildcard",
    "parse_joined_json",
    "ref_target",
    "referenced_ids",
    "render_value",
]


def is_wildcard(text: str) -> bool:
    return "*" in text


def is_unrestricted(action: str, resource: str | None = None) -> bool:
    """``*`` on its own, a whole-service action (``s3:*``) or every resource (``*``)."""
    return action == "*" or action.endswith(":*") or resource == "*"
