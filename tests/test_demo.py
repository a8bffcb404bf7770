"""`make demo` works as a newcomer runs it: real contracts, the local Bedrock stub, exit code 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from platform_config import PlatformConfig, load_platform

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from demo import ENVIRONMENT, choose_use_case, demo_configuration  # noqa: E402
from demo import main as demo_main  # noqa: E402


def _demo(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_demo_answers_with_the_repository_contracts_and_falls_back_when_throttled() -> None:
    result = _demo()
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    # the use case the demo chose among dev's (one with a routing tier where a contract has one) ...
    config = load_platform(ROOT)
    contracts = config.contracts_for(ENVIRONMENT)
    use_case = choose_use_case(contracts)
    assert f"1. a normal request to {use_case} " in result.stdout
    # ... answered its golden suite's first case by the route its tiers pick (classify-then-route: a tier
    # whose conditions the request meets, else primary), with the repo's system prompt
    contract = next(c for c in contracts if c.id == use_case)
    case = config.evaluations[use_case].golden.document.cases[0]  # type: ignore[union-attr]
    chars = len(case.text) + len(case.context or "")
    route = next(
        (t.name for t in contract.model.tiers if t.matches(input_chars=chars, message_count=1)), "primary"
    )
    if any(c.tiers for c in contracts):
        assert contract.tiers and route != "primary", (use_case, route)  # the demo shows a tier at work
    assert f'"route": "{route}"' in result.stdout
    assert '"promptVersion":"v1"' in result.stdout
    # and with that route throttled three times: three attempts on it, then the fallback
    arns = demo_configuration()[1]["use_cases"][use_case]["profile_arns"]
    first, fallback = (arns[r].rsplit("/", 1)[-1] for r in (route, "fallback"))
    assert f"Bedrock calls: {[first, first, first, fallback]}" in result.stdout


def test_the_demo_chooses_a_use_case_by_property_whichever_the_repository_ships(
    example_config: PlatformConfig,
) -> None:
    # GIVEN the examples enabled in dev, one of them with a routing tier
    contracts = example_config.contracts_for(ENVIRONMENT)
    tiered = sorted(c.id for c in contracts if c.tiers)
    assert tiered and len(tiered) < len(contracts)
    # THEN the demo shows the tier's use case, and where a fork retired it, the first of the others
    assert choose_use_case(contracts) == tiered[0]
    others = [c for c in contracts if not c.tiers]
    assert choose_use_case(others) == min(c.id for c in others)
    # AND a use case named is the one shown
    assert choose_use_case(contracts, others[0].id) == others[0].id


def test_a_use_case_the_demo_cannot_show_is_refused_with_the_fix(capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a use case not enabled in dev, WHEN the demo is asked for it, THEN it stops before it starts,
    # naming the use case, the ones it can show, and the fix
    code = demo_main(["--use-case", "no-such-use-case"])
    out, errors = capsys.readouterr()
    enabled = ", ".join(sorted(c.id for c in load_platform(ROOT).contracts_for(ENVIRONMENT)))
    assert code == 2, out + errors
    assert f"--use-case no-such-use-case: not enabled in dev (enabled: {enabled})" in errors
    assert (
        "Fix: name one of those, or add dev to the `environments` of contracts/no-such-use-case.yaml"
        in errors
    )
    assert "=== 1." not in out
    # AND with no use case enabled in dev at all, it says so
    with pytest.raises(
        ValueError, match=r"no use case is enabled in dev: .* Fix: add dev to the `environments`"
    ):
        choose_use_case([])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        # a field the contract fixes: refused before any model call (README, Calling the API)
        (
            '{"messages": [{"role": "user", "content": "Hi"}], "modelId": "anthropic.claude-x"}',
            400,
            "FORBIDDEN_FIELD",
        ),
        ("{not json", 400, "INVALID_JSON"),
    ],
    ids=["forbidden-field", "not-json"],
)
def test_the_demo_sends_a_body_of_your_own_and_shows_the_answer(
    tmp_path: Path, body: str, status: int, code: str
) -> None:
    # GIVEN a request body a newcomer wants to try (inline, or in a file named with @)
    sent = tmp_path / "body.json"
    sent.write_text(body, encoding="utf-8")
    for argument in (body, f"@{sent}"):
        result = _demo("--body", argument)
        # THEN the demo sends it once, as the API would pass it on, and prints the orchestrator's answer
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        assert f'"statusCode": {status}' in result.stdout and f'"code": "{code}"' in result.stdout
        assert "reached no model" in result.stdout
        assert "throttled three times" not in result.stdout  # the sample's fallback walk is not run
