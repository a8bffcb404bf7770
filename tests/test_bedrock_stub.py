"""The local Bedrock Runtime stub, exercised through real boto3/botocore."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError
from botocore.retries.standard import ExponentialBackoff

from bedrock_platform_devtools.bedrock_stub import (
    ERROR_STATUS,
    GUARDRAIL_TRIGGER,
    BedrockStub,
    Fault,
    estimate_tokens,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MODEL_ID = "anthropic.claude-3-5-sonnet-20240620-v1:0"
PROFILE_ARN = (
    "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/"
    "us.anthropic.claude-3-5-sonnet-20240620-v1:0"
)
HELLO = [{"role": "user", "content": [{"text": "Hello there"}]}]

ClientFactory = Callable[..., Any]


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Nothing in these tests may reach real credentials, config files or endpoints."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def stub() -> Iterator[BedrockStub]:
    with BedrockStub() as running:
        yield running


@pytest.fixture
def make_client(stub: BedrockStub) -> ClientFactory:
    def factory(total_max_attempts: int = 1, **config: Any) -> Any:
        return stub.client(attempts=total_max_attempts, **config)

    return factory


# --- Converse ----------------------------------------------------------------------------------------


def test_converse_default_success_parses(stub: BedrockStub, make_client: ClientFactory) -> None:
    response = make_client().converse(
        modelId=MODEL_ID,
        system=[{"text": "You are terse."}],
        messages=[
            {"role": "user", "content": [{"text": "First question"}]},
            {"role": "assistant", "content": [{"text": "First answer"}]},
            {"role": "user", "content": [{"text": "Hello"}, {"text": "there"}]},
        ],
    )

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert response["output"]["message"] == {
        "role": "assistant",
        "content": [{"text": "Stub reply: Hello there"}],
    }
    assert response["stopReason"] == "end_turn"
    # ceil(14/4) + ceil(14/4) + ceil(12/4) + ceil(5/4) + ceil(5/4) = 4 + 4 + 3 + 2 + 2
    assert response["usage"] == {"inputTokens": 15, "outputTokens": 6, "totalTokens": 21}
    assert response["usage"]["outputTokens"] == estimate_tokens("Stub reply: Hello there")
    assert response["metrics"] == {"latencyMs": 0}
    assert "trace" not in response

    [call] = stub.calls
    operation, target, body, headers = call
    assert (operation, target) == ("Converse", MODEL_ID)
    assert body["system"] == [{"text": "You are terse."}]
    assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=test/")


def test_scripted_success_overrides_text_and_tokens(stub: BedrockStub, make_client: ClientFactory) -> None:
    stub.script(None, [Fault.success(text="scripted", input_tokens=100, output_tokens=7, latency_ms=5)])
    client = make_client()

    first = client.converse(modelId=MODEL_ID, messages=HELLO)
    second = client.converse(modelId=MODEL_ID, messages=HELLO)

    assert first["output"]["message"]["content"] == [{"text": "scripted"}]
    assert first["usage"] == {"inputTokens": 100, "outputTokens": 7, "totalTokens": 107}
    assert first["metrics"]["latencyMs"] == 5
    assert second["output"]["message"]["content"] == [{"text": "Stub reply: Hello there"}]
    assert stub.pending_faults == 0


def test_max_tokens_truncates_reply(make_client: ClientFactory) -> None:
    response = make_client().converse(
        modelId=MODEL_ID,
        messages=[{"role": "user", "content": [{"text": "x" * 100}]}],
        inferenceConfig={"maxTokens": 2},
    )

    assert response["stopReason"] == "max_tokens"
    assert response["output"]["message"]["content"] == [{"text": "Stub rep"}]
    assert response["usage"]["outputTokens"] == 2


def test_guardrail_trace_is_returned_when_enabled(stub: BedrockStub, make_client: ClientFactory) -> None:
    client = make_client()
    guardrail = {"guardrailIdentifier": "gr-abc123", "guardrailVersion": "3", "trace": "enabled"}

    traced = client.converse(modelId=MODEL_ID, messages=HELLO, guardrailConfig=guardrail)
    untraced = client.converse(
        modelId=MODEL_ID, messages=HELLO, guardrailConfig={**guardrail, "trace": "disabled"}
    )

    assessment = traced["trace"]["guardrail"]["inputAssessment"]["gr-abc123"]
    assert assessment["invocationMetrics"]["guardrailCoverage"]["textCharacters"] == {
        "guarded": 11,
        "total": 11,
    }
    assert "gr-abc123" in traced["trace"]["guardrail"]["outputAssessments"]
    assert traced["stopReason"] == "end_turn"
    assert "trace" not in untraced
    assert stub.calls[0].body["guardrailConfig"] == guardrail


def test_guardrail_intervention_on_converse(stub: BedrockStub, make_client: ClientFactory) -> None:
    stub.script(MODEL_ID, [Fault.guardrail_intervened("Blocked by policy.")])

    response = make_client().converse(
        modelId=MODEL_ID,
        messages=HELLO,
        guardrailConfig={"guardrailIdentifier": "gr-abc123", "guardrailVersion": "1", "trace": "enabled"},
    )

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert response["stopReason"] == "guardrail_intervened"
    assert response["output"]["message"]["content"] == [{"text": "Blocked by policy."}]
    assert response["usage"] == {"inputTokens": 0, "outputTokens": 0, "totalTokens": 0}
    [content_filter] = response["trace"]["guardrail"]["inputAssessment"]["gr-abc123"]["contentPolicy"][
        "filters"
    ]
    assert content_filter["action"] == "BLOCKED"
    assert content_filter["detected"] is True


def test_guardrail_masking_on_converse(stub: BedrockStub, make_client: ClientFactory) -> None:
    stub.script(
        MODEL_ID, [Fault.guardrail_masked({"Jane Roe": "NAME", "absent": "EMAIL"}, text="Hi Jane Roe.")]
    )
    guardrail = {"guardrailIdentifier": "gr-abc123", "guardrailVersion": "1", "trace": "enabled"}

    response = make_client().converse(modelId=MODEL_ID, messages=HELLO, guardrailConfig=guardrail)
    # without guardrailConfig there is no guardrail to mask
    stub.script(MODEL_ID, [Fault.guardrail_masked({"Jane Roe": "NAME"}, text="Hi Jane Roe.")])
    unguarded = make_client().converse(modelId=MODEL_ID, messages=HELLO)

    assert response["stopReason"] == "guardrail_intervened"
    assert response["output"]["message"]["content"] == [{"text": "Hi {NAME}."}]
    assert response["usage"]["outputTokens"] == 3  # the model answered: ceil(len("Hi Jane Roe.") / 4)
    trace = response["trace"]["guardrail"]
    [output_assessment] = trace["outputAssessments"]["gr-abc123"]
    assert output_assessment["sensitiveInformationPolicy"]["piiEntities"] == [
        {"match": "Jane Roe", "type": "NAME", "action": "ANONYMIZED", "detected": True}
    ]
    assert "BLOCKED" not in json.dumps(trace)
    assert (unguarded["stopReason"], unguarded["output"]["message"]["content"]) == (
        "end_turn",
        [{"text": "Hi Jane Roe."}],
    )


def test_apply_guardrail_masking(stub: BedrockStub, make_client: ClientFactory) -> None:
    stub.script("gr-abc123", [Fault.guardrail_masked({"jane@example.com": "EMAIL"})])

    response = make_client().apply_guardrail(
        guardrailIdentifier="gr-abc123",
        guardrailVersion="1",
        source="INPUT",
        content=[{"text": {"text": "Mail jane@example.com"}}, {"text": {"text": "nothing here"}}],
    )

    assert response["action"] == "GUARDRAIL_INTERVENED"
    assert response["outputs"] == [{"text": "Mail {EMAIL}"}, {"text": "nothing here"}]
    [entity] = response["assessments"][0]["sensitiveInformationPolicy"]["piiEntities"]
    assert (entity["type"], entity["action"]) == ("EMAIL", "ANONYMIZED")
    assert "contentPolicy" not in response["assessments"][0]


def test_guardrail_masked_needs_a_mask() -> None:
    with pytest.raises(ValueError, match="masks must name at least one"):
        Fault.guardrail_masked({})


# --- errors and transport faults ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ThrottlingException", 429),
        ("ModelNotReadyException", 429),
        ("ServiceUnavailableException", 503),
        ("InternalServerException", 500),
        ("ModelTimeoutException", 408),
        ("ValidationException", 400),
        ("AccessDeniedException", 403),
        ("ResourceNotFoundException", 404),
        ("ModelErrorException", 424),
        ("ServiceQuotaExceededException", 400),
    ],
)
def test_error_codes_raise_client_error(
    stub: BedrockStub, make_client: ClientFactory, code: str, status: int
) -> None:
    assert ERROR_STATUS[code] == status
    stub.script(None, [Fault.error(code, f"boom {code}")])
    client = make_client()

    with pytest.raises(ClientError) as raised:
        client.converse(modelId=MODEL_ID, messages=HELLO)

    error = raised.value.response
    assert error["Error"]["Code"] == code
    assert error["Error"]["Message"] == f"boom {code}"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == status
    # botocore maps it onto the modeled exception class of the same name
    assert type(raised.value).__name__ == code
    assert len(stub.calls) == 1


def test_error_shortcuts_and_unknown_code() -> None:
    assert Fault.throttling().code == "ThrottlingException"
    assert Fault.model_timeout().code == "ModelTimeoutException"
    assert Fault.access_denied().code == "AccessDeniedException"
    with pytest.raises(ValueError, match="unknown Bedrock Runtime error code"):
        Fault.error("NotARealException")


def test_read_timeout(stub: BedrockStub, make_client: ClientFactory) -> None:
    stub.script(None, [Fault.read_timeout(2.0)])
    client = make_client(read_timeout=0.2)

    # the client gives up after its 0.2 s read timeout: had it waited the stub's 2 s, it would have an answer
    with pytest.raises(ReadTimeoutError):
        client.converse(modelId=MODEL_ID, messages=HELLO)

    # the stub keeps serving other requests while the slow one sleeps (a client with the default timeout:
    # on a loaded machine even a prompt answer can take longer than 0.2 s)
    assert make_client().converse(modelId=MODEL_ID, messages=HELLO)["stopReason"] == "end_turn"


def test_read_timeout_shorter_than_client_timeout_succeeds(
    stub: BedrockStub, make_client: ClientFactory
) -> None:
    stub.script(None, [Fault.read_timeout(0.3)])

    started = time.monotonic()
    response = make_client(read_timeout=5).converse(modelId=MODEL_ID, messages=HELLO)

    assert time.monotonic() - started >= 0.3
    assert response["output"]["message"]["content"] == [{"text": "Stub reply: Hello there"}]


def test_a_trickled_answer_outlasts_the_read_timeout_and_arrives_whole(
    stub: BedrockStub, make_client: ClientFactory
) -> None:
    # GIVEN an answer sent a byte every 5 ms to a client whose read timeout is 0.2 s
    expected = make_client().converse(modelId=MODEL_ID, messages=HELLO)["output"]
    stub.script(None, [Fault.trickle(0.005)])

    started = time.monotonic()
    response = make_client(read_timeout=0.2).converse(modelId=MODEL_ID, messages=HELLO)
    elapsed = time.monotonic() - started

    # THEN botocore read it to the end, however long that took: no read waited 0.2 s, and the stub slept
    # 5 ms before each byte of a body whose bytes alone outlast the read timeout several times over
    body_bytes = int(response["ResponseMetadata"]["HTTPHeaders"]["content-length"])
    assert body_bytes * 0.005 > 3 * 0.2
    assert elapsed >= body_bytes * 0.005
    assert response["output"] == expected


def test_connection_reset(stub: BedrockStub, make_client: ClientFactory) -> None:
    client = make_client()
    client.converse(modelId=MODEL_ID, messages=HELLO)  # a pooled keep-alive connection now exists
    stub.script(None, [Fault.connection_reset()])

    with pytest.raises(ConnectionClosedError):
        client.converse(modelId=MODEL_ID, messages=HELLO)

    assert client.converse(modelId=MODEL_ID, messages=HELLO)["stopReason"] == "end_turn"
    assert len(stub.calls) == 3


def test_malformed_body_is_not_rejected_by_botocore(stub: BedrockStub, make_client: ClientFactory) -> None:
    """botocore turns an invalid JSON body into {"message": ...}; the modeled fields are simply absent."""
    stub.script(None, [Fault.malformed_body()])

    response = make_client().converse(modelId=MODEL_ID, messages=HELLO)

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert not {"output", "stopReason", "usage", "metrics"} & response.keys()


def test_non_object_body_makes_botocore_raise(stub: BedrockStub, make_client: ClientFactory) -> None:
    stub.script(None, [Fault.malformed_body(b"[]")])

    with pytest.raises(AttributeError):
        make_client().converse(modelId=MODEL_ID, messages=HELLO)


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's standard retries without their sleep: how many attempts it makes and which error it
    raises are botocore's own, the delay before each (a random share of 1 s, 2 s, ... for a throttle) is
    zero. The two retry tests below waited ~4 s for it in all."""
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)


@pytest.mark.usefixtures("no_backoff")
def test_retries_two_throttles_then_success(stub: BedrockStub, make_client: ClientFactory) -> None:
    stub.script(None, [Fault.throttling(), Fault.throttling()])

    response = make_client(total_max_attempts=3).converse(modelId=MODEL_ID, messages=HELLO)

    assert response["stopReason"] == "end_turn"
    assert response["ResponseMetadata"]["RetryAttempts"] == 2
    assert len(stub.calls) == 3
    assert {call.target for call in stub.calls} == {MODEL_ID}


@pytest.mark.usefixtures("no_backoff")
def test_retries_exhausted_raises_last_error(stub: BedrockStub, make_client: ClientFactory) -> None:
    stub.script(None, [Fault.throttling()] * 3 + [Fault.success(text="never reached")])

    with pytest.raises(ClientError) as raised:
        make_client(total_max_attempts=3).converse(modelId=MODEL_ID, messages=HELLO)

    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    assert len(stub.calls) == 3
    assert stub.pending_faults == 1


# --- routing, scripting and recording ----------------------------------------------------------------


@pytest.mark.parametrize(
    "model_id",
    [
        PROFILE_ARN,
        "us.anthropic.claude-3-5-sonnet-20240620-v1:0",
        "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0",
    ],
)
def test_model_id_round_trips(stub: BedrockStub, make_client: ClientFactory, model_id: str) -> None:
    make_client().converse(modelId=model_id, messages=HELLO)

    [call] = stub.calls
    assert call.operation == "Converse"
    assert call.target == model_id
    assert call.path.endswith("/converse")
    assert "/" not in call.path[len("/model/") : -len("/converse")]  # botocore sent it percent-encoded


def test_script_matches_by_substring(stub: BedrockStub, make_client: ClientFactory) -> None:
    stub.script("nova", [Fault.access_denied()])
    client = make_client()

    assert client.converse(modelId=MODEL_ID, messages=HELLO)["stopReason"] == "end_turn"
    assert stub.pending_faults == 1
    with pytest.raises(ClientError) as raised:
        client.converse(modelId="amazon.nova-pro-v1:0", messages=HELLO)
    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"
    assert stub.pending_faults == 0

    stub.reset()
    assert stub.calls == []
    stub.script("nova", [Fault.throttling()])
    stub.reset()
    assert stub.pending_faults == 0


def test_stub_validates_requests(stub: BedrockStub, make_client: ClientFactory) -> None:
    with pytest.raises(ClientError) as raised:
        make_client().converse(modelId=MODEL_ID, messages=[])

    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert stub.calls[0].body == {"messages": []}


def test_endpoint_from_environment_variable(stub: BedrockStub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", stub.endpoint_url)
    client = boto3.client(
        "bedrock-runtime", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )

    response = client.converse(modelId=MODEL_ID, messages=HELLO)

    assert response["output"]["message"]["content"] == [{"text": "Stub reply: Hello there"}]
    assert len(stub.calls) == 1


def test_keep_alive_reuses_one_connection(stub: BedrockStub, make_client: ClientFactory) -> None:
    client = make_client()
    for _ in range(10):
        client.converse(modelId=MODEL_ID, messages=HELLO)

    assert len(stub.calls) == 10
    assert stub.connections_accepted == 1


def test_default_latency() -> None:
    with BedrockStub(default_latency_ms=150) as slow:
        client = slow.client()
        started = time.monotonic()
        response = client.converse(modelId=MODEL_ID, messages=HELLO)
        elapsed = time.monotonic() - started

    assert response["metrics"]["latencyMs"] == 150
    assert elapsed >= 0.15


# --- ApplyGuardrail ----------------------------------------------------------------------------------


def test_apply_guardrail_none(stub: BedrockStub, make_client: ClientFactory) -> None:
    response = make_client().apply_guardrail(
        guardrailIdentifier="gr-abc123",
        guardrailVersion="DRAFT",
        source="INPUT",
        content=[{"text": {"text": "a" * 1500}}],
    )

    assert response["action"] == "NONE"
    assert response["outputs"] == []
    assert response["usage"]["contentPolicyUnits"] == 2
    assert response["usage"]["sensitiveInformationPolicyFreeUnits"] == 0
    assert "contentPolicy" not in response["assessments"][0]
    [call] = stub.calls
    assert (call.operation, call.target, call.guardrail_version) == ("ApplyGuardrail", "gr-abc123", "DRAFT")
    assert call.body["source"] == "INPUT"


def test_apply_guardrail_intervened(stub: BedrockStub, make_client: ClientFactory) -> None:
    guardrail_arn = "arn:aws:bedrock:us-east-1:123456789012:guardrail/gr-abc123"
    stub.script("gr-abc123", [Fault.guardrail_intervened("Output blocked.")])

    response = make_client().apply_guardrail(
        guardrailIdentifier=guardrail_arn,
        guardrailVersion="7",
        source="OUTPUT",
        content=[{"text": {"text": "something harmful"}}],
    )

    assert response["action"] == "GUARDRAIL_INTERVENED"
    assert response["outputs"] == [{"text": "Output blocked."}]
    assert response["assessments"][0]["contentPolicy"]["filters"][0]["action"] == "BLOCKED"
    assert stub.calls[0].target == guardrail_arn
    assert stub.calls[0].guardrail_version == "7"


GUARDRAIL = {"guardrailIdentifier": "gr-abc123", "guardrailVersion": "1", "trace": "enabled"}


def _guarded(text: str) -> dict[str, Any]:
    return {"guardContent": {"text": {"text": text}}}


def test_guardrail_evaluates_only_guard_content_when_any_is_present(
    stub: BedrockStub, make_client: ClientFactory
) -> None:
    # GIVEN a request whose user turn is in guardContent and whose (caller-written) assistant turn is not
    messages = [
        {"role": "user", "content": [_guarded("What is our leave policy?")]},
        {"role": "assistant", "content": [{"text": f"Sure. {GUARDRAIL_TRIGGER}"}]},
        {"role": "user", "content": [_guarded("And for part-time staff?")]},
    ]

    # WHEN it is sent with a guardrail
    response = make_client().converse(modelId=MODEL_ID, messages=messages, guardrailConfig=GUARDRAIL)

    # THEN the trigger outside guardContent is never seen (Bedrock's documented selective evaluation)
    assert response["stopReason"] == "end_turn"
    [(operation, evaluated, flagged)] = stub.guardrail_evaluations
    assert (operation, evaluated, flagged) == (
        "Converse",
        ("What is our leave policy?", "And for part-time staff?"),
        False,
    )


def test_guardrail_evaluates_every_message_without_guard_content(
    stub: BedrockStub, make_client: ClientFactory
) -> None:
    messages = [
        {"role": "user", "content": [{"text": "Hi"}]},
        {"role": "assistant", "content": [{"text": GUARDRAIL_TRIGGER}]},
        {"role": "user", "content": [{"text": "Go on"}]},
    ]

    response = make_client().converse(modelId=MODEL_ID, messages=messages, guardrailConfig=GUARDRAIL)

    assert response["stopReason"] == "guardrail_intervened"
    assert response["usage"]["inputTokens"] == 0


@pytest.mark.parametrize("with_guardrail", [True, False])
def test_guardrail_flags_a_trigger_inside_guard_content(
    stub: BedrockStub, make_client: ClientFactory, with_guardrail: bool
) -> None:
    messages = [{"role": "user", "content": [_guarded(f"please {GUARDRAIL_TRIGGER}")]}]
    extra = {"guardrailConfig": GUARDRAIL} if with_guardrail else {}

    response = make_client().converse(modelId=MODEL_ID, messages=messages, **extra)

    # without a guardrail nothing is evaluated
    assert response["stopReason"] == ("guardrail_intervened" if with_guardrail else "end_turn")
    assert len(stub.guardrail_evaluations) == (1 if with_guardrail else 0)


def test_apply_guardrail_flags_a_trigger(stub: BedrockStub, make_client: ClientFactory) -> None:
    response = make_client().apply_guardrail(
        guardrailIdentifier="gr-abc123",
        guardrailVersion="1",
        source="INPUT",
        content=[{"text": {"text": "fine"}}, {"text": {"text": f"not fine {GUARDRAIL_TRIGGER}"}}],
    )

    assert response["action"] == "GUARDRAIL_INTERVENED"
    assert stub.guardrail_evaluations == [("ApplyGuardrail", ("fine", f"not fine {GUARDRAIL_TRIGGER}"), True)]


def test_cache_point_writes_then_reads_the_prefix(stub: BedrockStub, make_client: ClientFactory) -> None:
    system = [{"text": "s" * 400}, {"cachePoint": {"type": "default"}}]
    client = make_client()

    first = client.converse(modelId=MODEL_ID, system=system, messages=HELLO)["usage"]
    second = client.converse(modelId=MODEL_ID, system=system, messages=HELLO)["usage"]
    other_model = client.converse(modelId=PROFILE_ARN, system=system, messages=HELLO)["usage"]
    uncached = client.converse(modelId=MODEL_ID, system=system[:1], messages=HELLO)["usage"]

    rest = estimate_tokens("Hello there")
    assert (first["cacheWriteInputTokens"], first["cacheReadInputTokens"], first["inputTokens"]) == (
        100,
        0,
        rest,
    )
    assert (second["cacheWriteInputTokens"], second["cacheReadInputTokens"]) == (0, 100)
    assert second["totalTokens"] == rest + 100 + second["outputTokens"]
    assert other_model["cacheWriteInputTokens"] == 100  # caches are per model
    assert "cacheReadInputTokens" not in uncached and uncached["inputTokens"] == 100 + rest


def test_hang_then_answer(stub: BedrockStub, make_client: ClientFactory) -> None:
    stub.script(None, [Fault.hang(0.3)])

    response = make_client(read_timeout=5).converse(modelId=MODEL_ID, messages=HELLO)

    assert response["stopReason"] == "end_turn"
    assert response["output"]["message"]["content"] == [{"text": "Stub reply: Hello there"}]


def test_apply_guardrail_error(stub: BedrockStub, make_client: ClientFactory) -> None:
    stub.script(None, [Fault.resource_not_found("no such guardrail")])

    with pytest.raises(ClientError) as raised:
        make_client().apply_guardrail(
            guardrailIdentifier="missing",
            guardrailVersion="1",
            source="INPUT",
            content=[{"text": {"text": "x"}}],
        )

    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


# --- as a process ------------------------------------------------------------------------------------


def test_runs_as_a_process() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "bedrock_platform_devtools.bedrock_stub", "--port", "0"],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("READY http://127.0.0.1:"), line
        endpoint_url = line.split(" ", 1)[1]
        client = boto3.client(
            "bedrock-runtime",
            region_name="us-east-1",
            endpoint_url=endpoint_url,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        response = client.converse(modelId=MODEL_ID, messages=HELLO)
        assert response["output"]["message"]["content"] == [{"text": "Stub reply: Hello there"}]
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0
    assert stderr == ""  # no per-request logging
