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

Never used by the Lambda functions or the CDK app: only by tests and other development tools.
"""

from __future__ import annotations

import functools
from typing import Any

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
