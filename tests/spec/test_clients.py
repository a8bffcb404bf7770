"""platform_spec.clients: the bounded call every Bedrock and store call goes through, and the client cache.

The end-to-end tests (tests/lambdas: a route, the scoring judge, the correction check and the stores
answering a byte at a time) show each caller's outcome; these pin the contract those callers rely on,
without timing anything: what comes back, what is raised, and that an abandoned call's late outcome
reaches no one."""

from __future__ import annotations

import threading

import pytest

from platform_spec.clients import CallAbandoned, ClientCache, ClockBoundClient, call_within


def test_a_call_that_returns_in_time_gives_its_result_and_its_error() -> None:
    assert call_within(5.0, lambda: 42) == 42

    def fails() -> None:
        raise KeyError("the call's own error")

    with pytest.raises(KeyError, match="the call's own error"):
        call_within(5.0, fails)


def test_a_call_still_running_at_its_bound_is_abandoned_and_its_late_outcome_reaches_no_one() -> None:
    release = threading.Event()
    finished = threading.Event()

    def blocked() -> str:
        release.wait(30)
        finished.set()
        return "late answer"

    # GIVEN a call that cannot return before it is released
    with pytest.raises(CallAbandoned, match=r"within 0\.1 s"):
        call_within(0.1, blocked, name="test-blocked")
    # THEN it was abandoned, not stopped: once released it ends on its own thread, and nothing waits
    running = [t for t in threading.enumerate() if t.name == "test-blocked"]
    assert running and all(t.daemon for t in running)  # never keeps the process alive
    release.set()
    assert finished.wait(10)


def test_call_abandoned_is_a_timeout() -> None:
    # the callers classify it with the timeouts it stands in for (a route's ReadTimeout, 503 to a reviewer)
    assert issubclass(CallAbandoned, TimeoutError)


def test_a_clock_bound_client_bounds_its_operations_only() -> None:
    from bedrock_platform_devtools.bedrock_stub import BedrockStub, Fault

    with BedrockStub() as stub:
        client = stub.client(read_timeout=30)
        bound = ClockBoundClient(client, 0.5)
        # attributes that are not operations are the client's own
        assert bound.meta is client.meta and bound.exceptions is client.exceptions
        # an operation that answers in time returns what the client returns
        hello = [{"role": "user", "content": [{"text": "Hello"}]}]
        assert bound.converse(modelId="m", messages=hello)["stopReason"] == "end_turn"
        # one that does not (silent for 10 s, well inside the client's 30 s read timeout) is abandoned
        stub.script(None, [Fault.hang(10)])
        with pytest.raises(CallAbandoned):
            bound.converse(modelId="m", messages=hello)


def test_the_client_cache_creates_each_key_once_and_drops_the_least_recently_used() -> None:
    created: list[int] = []

    def create(key: int) -> str:
        created.append(key)
        return f"client-{key}"

    cache: ClientCache[int, str] = ClientCache(create, max_clients=2)
    assert [cache.get(1), cache.get(2), cache.get(1)] == ["client-1", "client-2", "client-1"]
    assert created == [1, 2]
    cache.get(3)  # 2 is the least recently used: dropped
    assert len(cache) == 2
    cache.get(1)
    cache.get(2)
    assert created == [1, 2, 3, 2]
