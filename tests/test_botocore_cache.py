"""The test suite's shared botocore data loader and built-in handlers (bedrock_platform_devtools/botocore_cache.py)."""

from __future__ import annotations

from typing import Any

import boto3
import botocore.handlers
import botocore.hooks
import botocore.session
import pytest

from bedrock_platform_devtools import botocore_cache
from bedrock_platform_devtools.botocore_cache import share_builtin_handlers, share_data_loader


def test_every_new_session_parses_the_model_files_once_and_keeps_each_search_path_once() -> None:
    share_data_loader()  # tests/conftest.py did already; calling it again changes nothing
    first, second = boto3.Session(region_name="us-east-1"), boto3.Session(region_name="eu-west-1")
    loader = first._session.get_component("data_loader")
    assert second._session.get_component("data_loader") is loader
    assert len(loader.search_paths) == len(set(loader.search_paths))  # boto3 appended its data folder once
    # a model loaded for one session is the very object the other session's clients get
    one = first.client("dynamodb")._service_model._service_description
    other = second.client("dynamodb")._service_model._service_description
    assert one is other
    assert second.client("dynamodb").meta.region_name == "eu-west-1"  # each client keeps its own settings


def _trie(node: dict[str, Any], builtin: set[int]) -> tuple[Any, ...]:
    """A registry's whole structure: each node's handlers (first, middle, last) and children. A built-in
    handler is named by its identity; any other by its name (a session initializer, such as Powertools' user
    agent, makes a new function for each session)."""
    values = node["values"]
    handlers = (
        None
        if values is None
        else tuple(tuple(id(h) if id(h) in builtin else h.__qualname__ for h in part) for part in values)
    )
    children = tuple((k, _trie(v, builtin)) for k, v in sorted(node["children"].items()))
    return (node["chunk"], handlers, children)


def _registry(session: botocore.session.Session) -> tuple[Any, ...]:
    builtin = {id(spec[1]) for spec in botocore.handlers.BUILTIN_HANDLERS}
    return _trie(session._original_handler._handlers._root, builtin)


def _session(monkeypatch: pytest.MonkeyPatch, *, shared: bool) -> tuple[botocore.session.Session, list[str]]:
    """A new session, made with the built-in handlers copied (``shared``) or registered by botocore itself
    one by one, and the event names registered while it was made: botocore's session initializers run
    after the built-in handlers either way (Powertools adds one when imported: its user agent)."""
    share_builtin_handlers()  # tests/conftest.py did already; calling it again changes nothing
    botocore.session.Session()  # the registry to copy exists
    registrations: list[str] = []
    original = botocore.hooks.HierarchicalEmitter._verify_and_register

    def counted(self: Any, event_name: str, *args: Any, **kwargs: Any) -> None:
        registrations.append(event_name)
        original(self, event_name, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(botocore.hooks.HierarchicalEmitter, "_verify_and_register", counted)
        if not shared:
            patch.setattr(
                botocore.session.Session,
                "_register_builtin_handlers",
                botocore_cache._register_builtin_handlers,
            )
        return botocore.session.Session(), registrations


def test_a_new_session_copies_the_built_in_handlers_instead_of_registering_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shared, registered_there = _session(monkeypatch, shared=True)
    own, registered_here = _session(monkeypatch, shared=False)
    builtin = len(botocore.handlers.BUILTIN_HANDLERS)
    assert builtin > 100 and len(registered_here) >= builtin
    # none of the built-in handlers is registered again; whatever the initializers add still is
    assert registered_there == registered_here[builtin:]
    # the very handlers, in the very order, that botocore's own registration gives
    assert _registry(shared) == _registry(own)


def test_each_session_keeps_a_registry_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    (first, _), (second, _) = _session(monkeypatch, shared=True), _session(monkeypatch, shared=True)
    first.register("before-call.dynamodb", lambda **kwargs: None)
    assert _registry(first) != _registry(second)
    own, _ = _session(monkeypatch, shared=False)
    assert _registry(second) == _registry(own)
    assert _registry(_session(monkeypatch, shared=True)[0]) == _registry(own)  # nor did it reach the source
    # boto3's own handlers, registered after the built-in ones, stay with their session too
    assert _registry(boto3.Session()._session) != _registry(own)
    assert _registry(_session(monkeypatch, shared=True)[0]) == _registry(own)


def test_a_handler_added_to_the_built_in_list_reaches_every_later_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before, _ = _session(monkeypatch, shared=True)

    def added(**kwargs: Any) -> None:
        return None

    monkeypatch.setattr(
        botocore.handlers, "BUILTIN_HANDLERS", [*botocore.handlers.BUILTIN_HANDLERS, ("before-send", added)]
    )
    after, _ = _session(monkeypatch, shared=True)
    own, _ = _session(monkeypatch, shared=False)
    assert _registry(after) == _registry(own) != _registry(before)
    assert added in after._original_handler._handlers.prefix_search("before-send.s3.PutObject")


def test_hooks_passed_in_are_registered_into_as_botocore_does() -> None:
    share_builtin_handlers()
    hooks = botocore.hooks.HierarchicalEmitter()
    hooks.register("before-call", lambda **kwargs: None)
    session = botocore.session.Session(event_hooks=hooks)
    assert session._original_handler is hooks
    assert len(list(hooks._handlers.prefix_search("before-call.s3.PutObject"))) > 1  # its own and botocore's
