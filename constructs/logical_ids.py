"""Logical IDs as CDK allocates them, to keep a stateful resource's logical ID when the construct tree
around it changes (a new logical ID makes CloudFormation replace the resource).

CDK's allocation (aws-cdk-lib ``core/lib/private/uniqueid.ts``, ``makeUniqueId``): the stack-relative
path components without any ``Default`` (hidden from logical IDs entirely), a human part (components
de-duplicated, without ``Resource``, alphanumerics only, at most 240 characters) and the first 8 hex
digits of the MD5 of the ``/``-joined components, in upper case. A path of one component is that
component alone. CDK cannot change this without replacing every resource of every CDK app, and
``tests/infra/test_logical_ids.py`` checks it against every resource CDK allocated in the app.
https://github.com/aws/aws-cdk/blob/main/packages/aws-cdk-lib/core/lib/private/uniqueid.ts
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import aws_cdk as cdk

from constructs import IConstruct

_HIDDEN = "Default"
_HIDDEN_FROM_HUMAN = "Resource"
_MAX_HUMAN_LEN = 240
_MAX_ID_LEN = 255


def make_unique_id(components: Sequence[str]) -> str:
    """CDK's ``makeUniqueId`` of stack-relative path components."""
    kept = [c for c in components if c != _HIDDEN]
    if not kept:
        raise ValueError("make_unique_id(): no path components left once 'Default' is removed")
    if len(kept) == 1:
        candidate = _alphanumeric(kept[0])
        if len(candidate) <= _MAX_ID_LEN:
            return candidate
    digest = hashlib.md5("/".join(kept).encode(), usedforsecurity=False).hexdigest()[:8].upper()
    human = "".join(_alphanumeric(c) for c in _without_dupes(kept) if c != _HIDDEN_FROM_HUMAN)
    return human[:_MAX_HUMAN_LEN] + digest


def logical_id_at(scope: IConstruct, *path: str) -> str:
    """The logical ID CDK gives a resource at ``scope``/``path`` (``path`` relative to ``scope``, whether
    or not a construct is there): for instance where a resource was before a refactoring moved it."""
    stack = cdk.Stack.of(scope)
    scopes = scope.node.scopes
    start = next(i for i, s in enumerate(scopes) if s.node.path == stack.node.path) + 1
    return make_unique_id([s.node.id for s in scopes[start:]] + list(path))


def keep_logical_id(construct: IConstruct, *, scope: IConstruct, path: Sequence[str]) -> str:
    """Give ``construct``'s CloudFormation resource the logical ID it would have at ``scope``/``path``
    (``override_logical_id``), and return it. For a stateful resource that a refactoring moved in the
    construct tree: same logical ID, same resource, no replacement."""
    resource = construct if isinstance(construct, cdk.CfnResource) else construct.node.default_child
    if not isinstance(resource, cdk.CfnResource):
        raise ValueError(f"keep_logical_id(): {construct.node.path} has no CloudFormation resource")
    logical_id = logical_id_at(scope, *path)
    resource.override_logical_id(logical_id)
    return logical_id


def _alphanumeric(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", text)


def _without_dupes(components: Sequence[str]) -> list[str]:
    kept: list[str] = []
    for component in components:
        if not kept or not kept[-1].endswith(component):
            kept.append(component)
    return kept
