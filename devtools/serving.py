"""Serve a local ``socketserver`` server (an HTTP stand-in, a fake endpoint) on a daemon thread for the
length of a ``with`` block: what the offline stand-ins and the tests that need a local endpoint share."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

#: How often ``serve_forever`` looks for ``shutdown()``: a block ends within 50 ms of leaving it instead of
#: the standard library's half second.
POLL_INTERVAL_S = 0.05

S = TypeVar("S", bound=socketserver.BaseServer)


@contextmanager
def serving_in_background(server: S) -> Iterator[S]:
    """``server`` answering on a daemon thread until the block ends; then shut down and closed."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": POLL_INTERVAL_S}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
