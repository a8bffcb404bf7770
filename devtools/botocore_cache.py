"""One botocore data loader for every session of a process that creates many (the test suite).

Each ``boto3.Session()`` / ``botocore.session.Session()`` makes its own ``Loader``, and each loader parses
the service model, endpoint rule set and partition JSON files again for the first client of a service
(tens of milliseconds a file: botocore reads them with an ``OrderedDict`` hook). The test suite starts a
fresh session in nearly every test (moto-backed fixtures, the handlers re-imported per test as a Lambda
cold start would), so parsing those files was a large share of its time.

:func:`share_data_loader` makes every session created afterwards use one loader per data path. That is
what botocore already does inside one session: ``Loader``'s methods are ``instance_cache``-d, and every
client of a session gets the same parsed dictionaries, so sharing them between sessions shares nothing
botocore does not already share between clients. boto3 appends its own data folder to a session's loader
search paths each time a ``boto3.Session`` is created; the shared loader keeps each path once.

:func:`share_builtin_handlers` does the same for the event handlers every session registers first
(``botocore.handlers.BUILTIN_HANDLERS``, ~130 of them): registering them one by one (each name aliased,
each handler's signature inspected) took ~9 of the ~11 CPU-milliseconds a new session costs, and the suite
creates sessions by the thousand. The first session registers them as botocore does; each later one gets a
copy of that registry, copied the way botocore copies a session's registry into each client it creates
(``HierarchicalEmitter.__copy__``): the same handler objects in the same order, a registry of its own.

Never used by the Lambda functions or the CDK app: only by tests and other development tools.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import botocore.handlers
import botocore.hooks
import botocore.loaders
import botocore.session


class _UniquePaths(list[str]):
    """A loader's search paths where appending a path already present changes nothing."""

    def append(self, path: str) -> None:
        if path not in self:
            super().append(path)


@functools.cache
def _shared_loader(data_path: str | None) -> botocore.loaders.Loader:
    loader = botocore.loaders.create_loader(data_path)
    loader._search_paths = _UniquePaths(loader.search_paths)  # a private attribute: see the docstring
    return loader


def _create_loader(search_path_string: str | None = None) -> Any:
    return _shared_loader(search_path_string)


def share_data_loader() -> None:
    """From now on every new botocore session of this process uses one loader per data path (idempotent)."""
    botocore.session.create_loader = _create_loader


_register_builtin_handlers = botocore.session.Session._register_builtin_handlers
#: The registry botocore's own registration gave a session, by the BUILTIN_HANDLERS it registered (moto
#: appends its own when imported, so the list can change during a run; a new list gets a new registry).
_registered: dict[tuple[Any, ...], botocore.hooks.HierarchicalEmitter] = {}


def _fresh(session: botocore.session.Session, events: Any) -> bool:
    """Whether ``events`` is the session's own new, empty registry (not hooks the caller passed in)."""
    emitter: Any = getattr(session, "_original_handler", None)
    return (
        events is session._events
        and isinstance(events, botocore.hooks.EventAliaser)
        and type(emitter) is botocore.hooks.HierarchicalEmitter
        and not emitter._unique_id_handlers
        and emitter._handlers._root == {"chunk": None, "children": {}, "values": None}
    )


def _register_builtin_handlers_once(session: botocore.session.Session, events: Any) -> None:
    if not _fresh(session, events):
        _register_builtin_handlers(session, events)
        return
    specs = tuple(botocore.handlers.BUILTIN_HANDLERS)
    registered = _registered.get(specs)
    if registered is None:
        _register_builtin_handlers(session, events)
        registered = copy.copy(session._original_handler)
        registered._lookup_cache = {}  # HierarchicalEmitter.__copy__ shares it with the session's
        _registered[specs] = registered
        return
    emitter = session._original_handler
    emitter._handlers = copy.copy(registered._handlers)
    emitter._unique_id_handlers = {key: dict(value) for key, value in registered._unique_id_handlers.items()}
    emitter._lookup_cache = {}


def share_builtin_handlers() -> None:
    """From now on every new botocore session of this process gets botocore's built-in event handlers as a
    copy of the registry the first one built (module docstring; idempotent)."""
    botocore.session.Session._register_builtin_handlers = _register_builtin_handlers_once
