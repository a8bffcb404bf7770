"""Every AWS API call a piece of code makes, recorded to be checked against a role's synthesized policy
(the release role's and the readiness role's tests: which calls does the role's identity policy allow?).

botocore emits ``provide-client-params.<service>.<operation>`` with the parameters of every call a client
makes, before it validates or sends them
(https://boto3.amazonaws.com/v1/documentation/api/latest/guide/events.html): a recorder on a client sees that
client's calls, one on a boto3 session sees the calls of every client made from it afterwards. A stand-in
that is no botocore client records its calls with :meth:`CallRecorder.record`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple


class Call(NamedTuple):
    """One call: botocore's service name (``lambda``, ``cloudwatch``, ``bedrock-runtime``), the operation
    and its parameters."""

    service: str
    operation: str
    params: dict[str, Any]


class CallRecorder:
    """The calls of the watched clients and sessions while :meth:`recording` (all of them, if ``on``)."""

    def __init__(self, *, on: bool = False) -> None:
        self.calls: list[Call] = []
        self.on = on

    def watch_client(self, client: Any) -> None:
        """Record the calls of one botocore client."""
        service = client.meta.service_model.service_name
        client.meta.events.register(
            f"provide-client-params.{client.meta.service_model.service_id.hyphenize()}",
            lambda model, params, service=service, **_: self.record(service, model.name, params),
        )

    def watch_session(self, session: Any) -> None:
        """Record the calls of every client made from ``session`` (a boto3 session) from now on."""
        session.events.register(
            "provide-client-params",
            lambda model, params, **_: self.record(model.service_model.service_name, model.name, params),
        )

    def record(self, service: str, operation: str, params: Any) -> None:
        if self.on:
            self.calls.append(Call(service, operation, dict(params)))

    @contextmanager
    def recording(self) -> Iterator[None]:
        self.on = True
        try:
            yield
        finally:
            self.on = False
